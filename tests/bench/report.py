"""Turns compare.sh's measured rows into the printed table and the JSON file.

    report.py ROWS_TSV STARTUP_LINE OUT_JSON META

Every figure comes from a row that a wrk run produced (counted.lua's RESULT
line and the server's VmHWM) or from startup.sh's printed line; nothing is
filled in. A target whose figure was not measured in this run (for example
50 connections in --smoke) says so.
"""

import json
import re
import sys

rows_path, startup_line, out_path, meta_line = sys.argv[1:5]
meta = dict(kv.split("=", 1) for kv in re.findall(r"\w+=(?:[^=]+?)(?= \w+=|$)", meta_line))

runs = []
for line in open(rows_path):
    label, scenario, conc, *fields = line.rstrip("\n").split("\t")
    values = {}
    for field in " ".join(fields).split():
        k, v = field.split("=", 1)
        values[k] = int(v) if v.isdigit() else None
    seconds = values["duration_us"] / 1e6
    runs.append({
        "server": label,
        "scenario": scenario,
        "concurrency": int(conc),
        "requests": values["responses"],
        "seconds": round(seconds, 3),
        "throughput_rps": round(values["responses"] / seconds, 1) if seconds > 0 else None,
        "p50_ms": values["p50_us"] / 1000,
        "p99_ms": values["p99_us"] / 1000,
        "max_ms": values["max_us"] / 1000,
        "errors": values["bad"] + values["socket_errors"],
        "error_answers": values["bad"],
        "socket_errors": {k: values[k] for k in ("connect", "read", "write", "timeout")},
        "peak_rss_mb": round(values["peak_rss_kb"] / 1024, 1) if values["peak_rss_kb"] else None,
    })


def find(server, scenario, conc):
    return next((r for r in runs if r["server"] == server and r["scenario"] == scenario
                 and r["concurrency"] == conc), None)


def ratio(a, b):
    return round(a / b, 2) if a and b else None


comparison = []
for r in runs:
    if r["server"] != "ours":
        continue
    p = find("peer", r["scenario"], r["concurrency"])
    if p is None:
        continue
    comparison.append({
        "scenario": r["scenario"],
        "concurrency": r["concurrency"],
        "ours": r,
        "peer": p,
        "throughput_ratio": ratio(r["throughput_rps"], p["throughput_rps"]),
        "p99_ratio": ratio(r["p99_ms"], p["p99_ms"]),
        "peak_rss_ratio": ratio(r["peak_rss_mb"], p["peak_rss_mb"]),
    })

startup = {}
m = re.search(r"median ([0-9.]+) ms", startup_line)
if m:
    startup["ready_ms"] = float(m.group(1))
m = re.search(r"idle RSS median ([0-9.]+) MiB", startup_line)
if m:
    startup["idle_rss_mb"] = float(m.group(1))
startup["line"] = startup_line.strip()

alone = [r for r in runs if r["server"] in ("ours-alone", "ours-dynamodb-local")]

targets = []


def target(name, figure, ok):
    targets.append({"target": name, "measured": figure,
                    "met": None if ok is None else bool(ok)})


for c in sorted({x["concurrency"] for x in comparison}):
    row = next((x for x in comparison if x["scenario"] == "refresh_token" and x["concurrency"] == c), None)
    if row:
        target(f"refresh_token throughput >= 10x peer at c={c}",
               f"{row['throughput_ratio']}x", row["throughput_ratio"] >= 10)
for sc in ("client_credentials", "refresh_token"):
    r = find("ours", sc, 50)
    target(f"{sc} p99 < 5 ms at c=50 (embedded store)",
           f"{r['p99_ms']:.2f} ms" if r else "not measured (no c=50 run)",
           r["p99_ms"] < 5 if r else None)
target("idle RSS < 20 MB", f"{startup['idle_rss_mb']} MiB" if "idle_rss_mb" in startup else "not measured",
       startup["idle_rss_mb"] < 20 if "idle_rss_mb" in startup else None)
target("exec -> /readyz 200 < 100 ms", f"{startup['ready_ms']} ms" if "ready_ms" in startup else "not measured",
       startup["ready_ms"] < 100 if "ready_ms" in startup else None)
at200 = [r for r in runs if r["server"] == "ours" and r["concurrency"] == 200]
target("zero errors at c=200 (ours, all scenarios)",
       f"{sum(r['errors'] for r in at200)} errors in {len(at200)} runs" if at200 else "not measured (no c=200 run)",
       all(r["errors"] == 0 for r in at200) if at200 else None)

# The table.
print(f"ours vs peer (oidc-provider, in-memory adapter) [{meta_line}]")
head = (f"{'scenario':<19}{'c':>4} | {'ours rps':>9} {'p50':>7} {'p99':>7} {'max':>7} {'err':>4} {'RSS':>6}"
        f" | {'peer rps':>9} {'p50':>7} {'p99':>7} {'max':>7} {'err':>4} {'RSS':>6} | {'rps x':>6} {'p99 x':>6}")
print(head)
print("-" * len(head))
for x in comparison:
    o, p = x["ours"], x["peer"]

    def cols(r):
        return (f"{r['throughput_rps']:>9.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.1f}"
                f" {r['errors']:>4} {r['peak_rss_mb']:>6.1f}")
    print(f"{x['scenario']:<19}{x['concurrency']:>4} | {cols(o)} | {cols(p)} |"
          f" {x['throughput_ratio']:>6} {x['p99_ratio']:>6}")
print("(latencies in ms; RSS = peak RSS of the server process in MiB; rps x = ours/peer throughput;"
      " p99 x = ours/peer p99, lower is better)")
print()
print("ours alone:")
print(f"  start-up: {startup['line']}")
for r in alone:
    store = "DynamoDB Local" if r["server"] == "ours-dynamodb-local" else "embedded store"
    print(f"  {r['scenario']:<21} [{store}] c={r['concurrency']:<3} {r['throughput_rps']:>8.0f} req/s"
          f"  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms"
          f"  errors {r['errors']}  peak RSS {r['peak_rss_mb']} MiB")
print()
print("targets:")
for t in targets:
    verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
    print(f"  {verdict:<7} {t['target']:<50} measured: {t['measured']}")
if meta.get("profile") == "dev":
    print("  (debug build: the targets are for the release run)")

json.dump({"meta": meta, "comparison": comparison, "ours_alone": {"startup": startup, "runs": alone},
           "targets": targets, "runs": runs}, open(out_path, "w"), indent=2)
print(f"\nwritten: {out_path}")
