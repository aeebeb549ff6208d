"""report.py on fixed rows: what it attributes to the disk, and what not.

    python3 tests/bench/report_test.py

A p99 is named a stall of the disk only when the run's longest journal
write was one (ten times the run's mean or more) and of the order of the
p99; an ordinary fdatasync at one connection, a run without journal writes
and rows of an older compare.sh (no longest journal write) are not.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")
WRK = "socket_errors=0 connect=0 read=0 write=0 timeout=0"


def row(label, scenario, c, p99_us, store=""):
    return (f"{label}\t{scenario}\t{c}\trequests=20000 responses=20000 duration_us=1000000"
            f" p50_us=1000 p99_us={p99_us} max_us={p99_us + 1000} bad=0 {WRK}\tpeak_rss_kb=40000"
            + (f" {store}" if store else ""))


def store(writes, sum_us, max_le_us):
    return (f"checkpoints=10 checkpoint_sum_us=40000 checkpoint_max_le_us=8000 journal_writes={writes}"
            f" journal_write_sum_us={sum_us}"
            + (f" journal_write_max_le_us={max_le_us}" if max_le_us is not None else "")
            + " batches=1500 batch_operations=20000 busy_us=500000")


def report(rows):
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, n) for n in ("rows.tsv", "out.json", "purge.txt")]
        with open(paths[0], "w") as f:
            f.write("\n".join(rows) + "\n")
        open(paths[2], "w").close()
        printed = subprocess.run(
            [sys.executable, REPORT, paths[0], "startup: idle RSS median 16.0 MiB", paths[1], paths[2],
             "profile=release requests=20000 rounds=1 fsync_per_s=8000"],
            check=True, capture_output=True, text=True).stdout
        with open(paths[1]) as f:
            return printed, json.load(f)


class DiskStalls(unittest.TestCase):
    def test_a_stall_of_the_order_of_the_p99_is_named(self):
        printed, out = report([
            row("peer", "refresh_token", 50, 100000),
            # 2311 writes of 518 µs on average; one took 204.8-409.6 ms.
            row("ours-jwt", "refresh_token", 50, 324122, store(2311, 1198551, 409600)),
        ])
        self.assertEqual(out["comparison"][0]["p99_disk_stall_ms"], [204.8, 409.6])
        self.assertIn("refresh_token c=50 jwt: p99 324.12 ms, a journal fdatasync of 204.8-409.6 ms", printed)
        p99 = next(t for t in out["targets"] if t["target"] == "refresh_token [jwt] p99 < 5 ms at c=50")
        self.assertIn("the disk", p99["measured"])
        self.assertFalse(p99["met"], "a stall explains a missed target; it does not meet it")

    def test_ordinary_fdatasyncs_and_short_stalls_are_not(self):
        printed, out = report([
            # One connection: every answer waits for an fdatasync of ordinary length.
            row("ours-opaque", "refresh_token", 1, 2500, store(3000, 900000, 3200)),
            # A stall far shorter than the p99.
            row("ours-sealed", "refresh_token", 50, 40000, store(1500, 360000, 12800)),
            # No journal writes (nothing stored), and a row of an older compare.sh.
            row("ours-jwt", "client_credentials", 50, 4000, store(0, 0, 0)),
            row("ours-opaque", "client_credentials", 50, 90000, store(1500, 360000, None)),
        ])
        self.assertEqual([x["p99_disk_stall_ms"] for x in out["comparison"]], [None] * 4)
        self.assertNotIn("fdatasync of", printed)


if __name__ == "__main__":
    unittest.main()
