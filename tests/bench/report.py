"""Turns compare.sh's measured rows into the printed table and the JSON file.

    report.py ROWS_TSV STARTUP_LINE OUT_JSON PURGE_TXT META

Every figure comes from a row that a wrk run produced (counted.lua's RESULT
line and the server's VmHWM), from startup.sh's printed line or from
purge_stall's printed lines (PURGE_TXT, empty when not measured); nothing is
filled in. A target whose figure was not measured in this run (for example
50 connections in --smoke) says so.
"""

import json
import math
import re
import sys

rows_path, startup_line, out_path, purge_path, meta_line = sys.argv[1:6]
meta = dict(kv.split("=", 1) for kv in re.findall(r"\w+=(?:[^=]+?)(?= \w+=|$)", meta_line))

runs = []
for line in open(rows_path):
    label, scenario, conc, *fields = line.rstrip("\n").split("\t")
    values = {}
    for field in " ".join(fields).split():
        k, v = field.split("=", 1)
        if k == "journal_write_buckets":
            # "LE_US:COUNT,..." (runs.sh store_stats): [upper bound in ms, count]
            values[k] = [[float(le) / 1000, int(n)] for le, n in (b.split(":") for b in v.split(",") if b)]
        else:
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
    if "checkpoints" in values:
        # The embedded store's own metrics over the run (compare.sh store_stats).
        runs[-1]["store"] = {k: values[k] for k in (
            "checkpoints", "checkpoint_sum_us", "checkpoint_max_le_us", "journal_writes",
            "journal_write_sum_us", "batches", "batch_operations")}
        # A bench server older than the metric reports 0; rows of an older
        # compare.sh lack the journal writes per bucket.
        runs[-1]["store"]["busy_us"] = values.get("busy_us") or None
        runs[-1]["store"]["journal_write_buckets"] = values.get("journal_write_buckets")


# The purge benchmark (purge_stall.rs): the purge, then the writes with
# nothing else running and those the purge overlapped.
purge = None
purge_text = open(purge_path).read()
m = re.search(r"^purge: removed (\d+) of (\d+) in ([0-9.]+) ms$", purge_text, re.M)
if m:
    purge = {"removed": int(m.group(1)), "records": int(m.group(2)), "purge_ms": float(m.group(3))}
    for label, key in (("idle", "idle"), ("purge", "during_purge")):
        w = re.search(r"^" + label + r" +writes +(\d+) +p50 ([0-9.]+) ms +p99 ([0-9.]+) ms +max ([0-9.]+) ms$",
                      purge_text, re.M)
        purge[key] = ({"writes": int(w.group(1)), "p50_ms": float(w.group(2)), "p99_ms": float(w.group(3)),
                       "max_ms": float(w.group(4))} if w else None)


def all_of(server, scenario, conc):
    return [r for r in runs if r["server"] == server and r["scenario"] == scenario
            and r["concurrency"] == conc]


def find(server, scenario, conc):
    """The run of median throughput among a row's rounds (ROUNDS), or its one run."""
    found = sorted(all_of(server, scenario, conc), key=lambda r: r["throughput_rps"] or 0)
    return found[(len(found) - 1) // 2] if found else None


def spread(server, scenario, conc):
    """A row's throughput over its rounds: [lowest, highest]."""
    rps = [r["throughput_rps"] for r in all_of(server, scenario, conc) if r["throughput_rps"]]
    return [min(rps), max(rps)] if rps else None


def ratio(a, b):
    return round(a / b, 2) if a and b else None


# The journal_write histogram's last bound (the server's buckets: 25 µs
# doubling 16 times); what lies past it took longer.
LAST_JOURNAL_BUCKET_MS = 819.2


def disk_stalls(r):
    """The journal writes (fdatasyncs of the store's journal) of run r that
    stalled long enough, and often enough, to set its p99, or None.

    A stall: ten times the run's mean journal write or more, and at least
    half the p99 (its bucket's lower bound; the buckets double, so the
    bucket reaches the p99). Every answer waits for its batch's fdatasync,
    and each of wrk's connections waits for its answer before it sends
    again, so one stall holds one request of every connection: the stalls
    account for the p99 when they held 1% of the run's requests. At one
    connection an ordinary fdatasync, or one stall, is not named."""
    st = r.get("store") if r else None
    buckets = st.get("journal_write_buckets") if st else None
    if not buckets or not st["journal_writes"]:
        return None
    mean = st["journal_write_sum_us"] / st["journal_writes"] / 1000
    floor = max(10 * mean, r["p99_ms"] / 2)
    bounds = sorted((LAST_JOURNAL_BUCKET_MS if math.isinf(le) else le / 2, le, n) for le, n in buckets)
    stalls = [(low, high, n) for low, high, n in bounds if low >= floor]
    count = sum(n for _, _, n in stalls)
    if not stalls or count * r["concurrency"] < 0.01 * r["requests"]:
        return None
    low, high, _ = stalls[-1]
    return {"fdatasyncs": count, "each_at_least_ms": stalls[0][0],
            "longest_ms": [low, None if math.isinf(high) else high]}


def stall_text(stalls):
    low, high = stalls["longest_ms"]
    longest = f"{low:g}-{high:g} ms" if high else f"over {low:g} ms"
    return (f"{stalls['fdatasyncs']} journal fdatasyncs of {stalls['each_at_least_ms']:g} ms or more in that run,"
            f" the longest {longest}: the disk")


def stall_note(stalls):
    """What a p99 target adds when stalls of the disk set that p99."""
    return f" ({stall_text(stalls)})" if stalls else ""


ALONE = ("ours-alone", "ours-sustained", "ours-dynamodb-local")
fsync_rate = int(meta["fsync_per_s"]) if meta.get("fsync_per_s", "").isdigit() else None
ours_labels = [r["server"] for r in runs if r["server"].startswith("ours-")
               and r["server"] not in ALONE]
formats = list(dict.fromkeys(ours_labels))
# One connection whose every request writes pays an HTTP round trip and an
# fsync, one after the other: no server can beat 1 / (1/nginx + 1/fsync).
nginx_c1 = find("nginx", "static", 1)
write_ceiling = (round(1 / (1 / nginx_c1["throughput_rps"] + 1 / fsync_rate))
                 if nginx_c1 and nginx_c1["throughput_rps"] and fsync_rate else None)

comparison = []
rows = dict.fromkeys((r["server"], r["scenario"], r["concurrency"]) for r in runs if r["server"] in formats)
for key in rows:
    r = find(*key)
    p = find("peer", r["scenario"], r["concurrency"])
    n = find("nginx", "static", r["concurrency"])
    comparison.append({
        "scenario": r["scenario"],
        "concurrency": r["concurrency"],
        "format": r["server"][len("ours-"):],
        "rounds": len(all_of(*key)),
        "ours": r,
        "ours_rps_range": spread(*key),
        "peer": p,
        "peer_rps_range": spread("peer", r["scenario"], r["concurrency"]),
        "throughput_ratio": ratio(r["throughput_rps"], p["throughput_rps"]) if p else None,
        "p99_ratio": ratio(r["p99_ms"], p["p99_ms"]) if p else None,
        "peak_rss_ratio": ratio(r["peak_rss_mb"], p["peak_rss_mb"]) if p else None,
        "share_of_nginx": ratio(r["throughput_rps"], n["throughput_rps"]) if n else None,
        "share_of_fsync_rate": ratio(r["throughput_rps"], fsync_rate)
        if fsync_rate and r["concurrency"] == 1 and r["scenario"] != "introspection" else None,
        "share_of_write_ceiling": ratio(r["throughput_rps"], write_ceiling)
        if write_ceiling and r["concurrency"] == 1 and r["scenario"] != "introspection" else None,
        "p99_disk_stalls": disk_stalls(r),
    })
order = ["client_credentials", "refresh_token", "authorization_code", "introspection"]
comparison.sort(key=lambda x: (order.index(x["scenario"]) if x["scenario"] in order else 99,
                               x["concurrency"], ["opaque", "sealed", "jwt"].index(x["format"])
                               if x["format"] in ("opaque", "sealed", "jwt") else 9))

startup = {}
m = re.search(r"median ([0-9.]+) ms", startup_line)
if m:
    startup["ready_ms"] = float(m.group(1))
m = re.search(r"idle RSS median ([0-9.]+) MiB", startup_line)
if m:
    startup["idle_rss_mb"] = float(m.group(1))
startup["line"] = startup_line.strip()

alone = [r for r in runs if r["server"] in ALONE]
ceilings = [r for r in runs if r["server"] == "nginx"]

targets = []


def target(name, figure, ok):
    targets.append({"target": name, "measured": figure,
                    "met": None if ok is None else bool(ok)})


def cmp(sc, c, fmt):
    return next((x for x in comparison if x["scenario"] == sc and x["concurrency"] == c
                 and x["format"] == fmt), None)


for fmt in [f[len("ours-"):] for f in formats]:
    for sc in ("client_credentials", "refresh_token"):
        for c in (50, 200):
            x = cmp(sc, c, fmt)
            target(f"{sc} [{fmt}] >= 10x peer at c={c}",
                   f"{x['throughput_ratio']}x" if x and x["throughput_ratio"] else "not measured",
                   x["throughput_ratio"] >= 10 if x and x["throughput_ratio"] else None)
        x = cmp(sc, 50, fmt)
        target(f"{sc} [{fmt}] p99 < 5 ms at c=50",
               f"{x['ours']['p99_ms']:.2f} ms{stall_note(x['p99_disk_stalls'])}"
               if x else "not measured (no c=50 run)",
               x["ours"]["p99_ms"] < 5 if x else None)
for sc in ("client_credentials", "refresh_token", "authorization_code"):
    x = cmp(sc, 1, "opaque")
    target(f"{sc} [opaque, stored] at c=1 >= 80% of the fsync rate",
           f"{x['ours']['throughput_rps']:.0f}/s = {x['share_of_fsync_rate']} of {fsync_rate}/s"
           + (f" ({x['share_of_write_ceiling']} of the one-connection write ceiling {write_ceiling}/s)"
              if x["share_of_write_ceiling"] is not None else "")
           if x and x["share_of_fsync_rate"] is not None else "not measured",
           x["share_of_fsync_rate"] >= 0.8 if x and x["share_of_fsync_rate"] is not None else None)
sustained = next((r for r in alone if r["server"] == "ours-sustained"), None)
target("refresh_token [opaque] p99 < 5 ms at c=50, sustained",
       f"{sustained['p99_ms']:.2f} ms over {sustained['requests']} requests{stall_note(disk_stalls(sustained))}"
       if sustained and sustained["concurrency"] == 50 else "not measured (no sustained c=50 run)",
       sustained["p99_ms"] < 5 if sustained and sustained["concurrency"] == 50 else None)
x = cmp("client_credentials", 50, "sealed")
target("client_credentials [sealed] at c=50 >= 40% of the nginx ceiling",
       f"{x['share_of_nginx']:.0%}" if x and x["share_of_nginx"] else "not measured",
       x["share_of_nginx"] >= 0.4 if x and x["share_of_nginx"] else None)
target("idle RSS < 20 MB", f"{startup['idle_rss_mb']} MiB" if "idle_rss_mb" in startup else "not measured",
       startup["idle_rss_mb"] < 20 if "idle_rss_mb" in startup else None)
target("exec -> /readyz 200 < 100 ms", f"{startup['ready_ms']} ms" if "ready_ms" in startup else "not measured",
       startup["ready_ms"] < 100 if "ready_ms" in startup else None)
at200 = [r for r in runs if r["server"] in formats and r["concurrency"] == 200]
target("zero errors at c=200 (ours, all scenarios)",
       f"{sum(r['errors'] for r in at200)} errors in {len(at200)} runs" if at200 else "not measured (no c=200 run)",
       all(r["errors"] == 0 for r in at200) if at200 else None)

# The table.
print(f"ours vs peer (oidc-provider, unbounded in-memory adapter) vs this machine's ceilings [{meta_line}]")
if meta.get("rounds", "1") not in ("", "1"):
    print(f"each row: the run of median throughput of {meta['rounds']} rounds, the servers' order flipped"
          " each round; the JSON has every run and each row's range")
print()
print("ceilings: fsync " + (f"{fsync_rate}/s" if fsync_rate else "not measured") + "; nginx static answer: "
      + ", ".join(f"c={r['concurrency']} {r['throughput_rps']:.0f} req/s (p99 {r['p99_ms']:.2f} ms)"
                  for r in ceilings)
      + (f"; one connection that writes (an HTTP round trip, then an fsync): {write_ceiling}/s"
         if write_ceiling else ""))
print()
head = (f"{'scenario':<19}{'c':>4} {'format':<7}| {'ours rps':>9} {'p50':>6} {'p99':>6} {'max':>6} {'err':>4} {'RSS':>5}"
        f" | {'peer rps':>8} {'p99':>6} {'RSS':>5} | {'x peer':>6} {'nginx':>6} {'fsync':>6} {'w-ceil':>6}")
print(head)
print("-" * len(head))
for x in comparison:
    o, p = x["ours"], x["peer"]
    peer_cols = (f"{p['throughput_rps']:>8.0f} {p['p99_ms']:>6.2f} {p['peak_rss_mb']:>5.1f}" if p
                 else f"{'-':>8} {'-':>6} {'-':>5}")
    share = lambda v: f"{v:.0%}" if v is not None else "-"
    print(f"{x['scenario']:<19}{x['concurrency']:>4} {x['format']:<7}| {o['throughput_rps']:>9.0f} {o['p50_ms']:>6.2f}"
          f" {o['p99_ms']:>6.2f} {o['max_ms']:>6.1f} {o['errors']:>4} {o['peak_rss_mb']:>5.1f} | {peer_cols} |"
          f" {x['throughput_ratio'] if x['throughput_ratio'] is not None else '-':>6}"
          f" {share(x['share_of_nginx']):>6} {share(x['share_of_fsync_rate']):>6}"
          f" {share(x['share_of_write_ceiling']):>6}")
print("(latencies in ms; RSS = peak RSS of the server process in MiB; x peer = ours/peer throughput;"
      " nginx = ours as a share of nginx's static answer at the same c; fsync = a grant at c=1 as a share"
      " of the fsync rate; w-ceil = the same as a share of the one-connection write ceiling;"
      " authorization_code has no peer column: its codes need a login each)")
stalled = [x for x in comparison if x["p99_disk_stalls"]]
if stalled:
    print("p99 set by stalls of the disk (journal fdatasyncs that held 1% of the run's requests or more;"
          " every answer waits for its batch's):")
    for x in stalled:
        print(f"  {x['scenario']} c={x['concurrency']} {x['format']}: p99 {x['ours']['p99_ms']:.2f} ms,"
              f" {stall_text(x['p99_disk_stalls'])}")
print()
print("ours alone:")
print(f"  start-up: {startup['line']}")
for r in alone:
    store = {"ours-dynamodb-local": "DynamoDB Local",
             "ours-sustained": f"embedded, sustained {r['requests']}"}.get(r["server"], "embedded store")
    print(f"  {r['scenario']:<21} [{store}] c={r['concurrency']:<3} {r['throughput_rps']:>8.0f} req/s"
          f"  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms"
          f"  errors {r['errors']}  peak RSS {r['peak_rss_mb']} MiB")
    st = r.get("store")
    if st and st["checkpoints"] is not None and st["batches"]:
        longest = f"<= {st['checkpoint_max_le_us'] / 1000:g} ms" if st["checkpoint_max_le_us"] else "n/a"
        mean_cp = f"{st['checkpoint_sum_us'] / st['checkpoints'] / 1000:.1f} ms" if st["checkpoints"] else "-"
        mean_jw = f"{st['journal_write_sum_us'] / st['journal_writes']:.0f} µs" if st["journal_writes"] else "-"
        busy = (f"; its thread busy {st['busy_us'] / (r['seconds'] * 1e6):.0%} of the run"
                if st.get("busy_us") and r["seconds"] else "")
        # The buckets are in order: the last one holds the longest write.
        last = st["journal_write_buckets"][-1][0] if st.get("journal_write_buckets") else None
        longest_jw = ("" if last is None else f", longest over {LAST_JOURNAL_BUCKET_MS:g} ms"
                      if math.isinf(last) else f", longest <= {last:g} ms")
        print(f"    store: {st['checkpoints']} checkpoints (mean {mean_cp}, longest {longest});"
              f" {st['journal_writes']} journal writes (mean {mean_jw}{longest_jw});"
              f" {st['batch_operations'] / st['batches']:.1f} operations per batch{busy}")
if purge and purge["idle"] and purge["during_purge"]:
    i, d = purge["idle"], purge["during_purge"]
    print(f"  purge of {purge['removed']} expired of {purge['records']} access tokens [embedded store]:"
          f" {purge['purge_ms']:.0f} ms; writes meanwhile ({d['writes']}) p50 {d['p50_ms']:.2f} ms"
          f"  p99 {d['p99_ms']:.2f} ms  max {d['max_ms']:.1f} ms; without a purge p50 {i['p50_ms']:.2f} ms"
          f"  p99 {i['p99_ms']:.2f} ms  max {i['max_ms']:.1f} ms")
print()
print("targets (issue 19):")
for t in targets:
    verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
    print(f"  {verdict:<7} {t['target']:<62} measured: {t['measured']}")
if meta.get("profile") == "dev":
    print("  (debug build: the targets are for the release run)")

json.dump({"meta": meta, "ceilings": {"fsync_per_s": fsync_rate, "nginx": ceilings,
                                      "one_connection_write_per_s": write_ceiling},
           "comparison": comparison, "ours_alone": {"startup": startup, "runs": alone, "purge": purge},
           "targets": targets, "runs": runs}, open(out_path, "w"), indent=2)
print(f"\nwritten: {out_path}")
