#!/usr/bin/env python3
"""Peak RSS and rate of `vigil tsdb import` as the input grows.

    bench/import_memory.py [--vigil build/vigil] [--series 100] [--days 3,6,12]

For each length, writes an OpenMetrics file of SERIES gauges sampled every
15 s for that many days (series-major within each timestamp, as a scrape
dump is), imports it into a fresh data dir under /usr/bin/time, and prints
the samples, the file size, the wall time, the rate and the peak RSS. The
import spills per block window, so the peak follows one window's samples
(72 h with the default retention), not the length of the file. Everything
lives in one temporary directory that is removed at the end.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def write_file(path, series, days):
    start = 1_600_000_000 // (72 * 3600) * (72 * 3600)  # seconds, on a window boundary
    steps = days * 86400 // 15
    samples = 0
    with open(path, "w") as f:
        f.write("# TYPE bench_gauge gauge\n")
        for i in range(steps):
            t = start + i * 15
            lines = [f'bench_gauge{{series="{s}",host="h{s % 7}"}} {(s * 31 + i) % 997} {t}\n' for s in range(series)]
            f.write("".join(lines))
            samples += series
        f.write("# EOF\n")
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default="build/vigil")
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--days", default="3,6,12")
    args = ap.parse_args()
    vigil = os.path.abspath(args.vigil)
    if not os.access(vigil, os.X_OK):
        sys.exit(f"not executable: {vigil}")
    tmp = tempfile.mkdtemp(prefix="vigil-import-mem.")
    try:
        print(f"{'days':>5} {'samples':>10} {'file MB':>8} {'wall s':>7} {'M samples/s':>12} {'peak RSS MiB':>13}")
        for days in [int(d) for d in args.days.split(",")]:
            path = os.path.join(tmp, f"{days}d.om")
            samples = write_file(path, args.series, days)
            data = os.path.join(tmp, f"data-{days}")
            begin = time.monotonic()
            run = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", vigil, "tsdb", "import", path,
                                  "--data-dir", data], capture_output=True, text=True, timeout=1800)
            wall = time.monotonic() - begin
            if run.returncode != 0:
                sys.exit(f"import of {path} failed: {run.stdout}{run.stderr}")
            rss_kb = int(re.search(r"maxrss_kb=(\d+)", run.stderr).group(1))
            print(f"{days:>5} {samples:>10} {os.path.getsize(path) / 1e6:>8.0f} {wall:>7.2f} "
                  f"{samples / wall / 1e6:>12.2f} {rss_kb / 1024:>13.1f}", flush=True)
            os.unlink(path)
            shutil.rmtree(data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
