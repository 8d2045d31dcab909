#!/usr/bin/env python3
"""vigil's RSS before, during and after a burst of large queries.

    bench/query_memory.py [--vigil build/vigil] [--clients 4] [--rounds 3]

Imports bench/gen_query_dataset.py's 24 h (9.56 M samples: 1 000 CPU
counters, 500 gauges, 20 filesystems, a histogram) into a fresh data dir,
starts vigil on it (bench/query_bench.yml: the store and the API only) and
records its RSS idle; then CLIENTS threads send ROUNDS times each the large
queries below, all with nocache=1 so every one is computed, while RSS is
sampled every 50 ms; then RSS 2 s and 10 s after the last answer. Loopback
only; vigil is stopped and the directory removed at the end.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import vigiltest as vt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default="build/vigil")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    vigil = os.path.abspath(args.vigil)
    if not os.access(vigil, os.X_OK):
        sys.exit(f"not executable: {vigil}")
    tmp = tempfile.mkdtemp(prefix="vigil-query-mem.")
    proc = None
    try:
        data_file = os.path.join(tmp, "data.om")
        subprocess.run([sys.executable, os.path.join(root, "bench", "gen_query_dataset.py"), data_file], check=True,
                       stdout=subprocess.DEVNULL)
        end = 0
        with open(data_file) as f:
            for line in f:
                if not line.startswith("#"):
                    parts = line.split()
                    if len(parts) >= 3:
                        end = max(end, int(float(parts[-1])))
        end = end // 60 * 60
        subprocess.run([vigil, "tsdb", "import", data_file, "--data-dir", os.path.join(tmp, "vigil")], check=True,
                       stdout=subprocess.DEVNULL)
        port = vt.free_port()
        proc = subprocess.Popen([vigil, "run", "--config", os.path.join(root, "bench", "query_bench.yml"),
                                 "--data-dir", os.path.join(tmp, "vigil"), "--listen", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        def ready():
            try:
                return vt.get(base + "/-/ready")[0] == 200
            except OSError:
                return False

        vt.wait_until(ready, timeout=120, what="vigil ready")
        queries = [
            ("query_range", {"query": "sum by (mode)(rate(node_cpu_seconds_total[5m]))",
                             "start": end - 86400 + 600, "end": end, "step": 60}),
            ("query_range", {"query": "rate(node_cpu_seconds_total[5m])", "start": end - 7200, "end": end,
                             "step": 15}),
            ("query", {"query": "avg_over_time(x[1h])", "time": end}),
            ("query_range", {"query": "histogram_quantile(0.99, sum by (le)(rate(h_bucket[5m])))",
                             "start": end - 7200, "end": end, "step": 15}),
        ]
        urls = [f"{base}/api/v1/{path}?" + urllib.parse.urlencode(dict(params, nocache=1)) for path, params in queries]
        time.sleep(2)
        idle = vt.rss_mib(proc.pid)
        peak = idle
        errors = []

        def client():
            for _ in range(args.rounds):
                for url in urls:
                    try:
                        with urllib.request.urlopen(url, timeout=120) as r:
                            r.read()
                    except Exception as e:  # noqa: BLE001 - reported below
                        errors.append(f"{url}: {e}")

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        begin = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, vt.rss_mib(proc.pid))
            time.sleep(0.05)
        wall = time.monotonic() - begin
        time.sleep(2)
        after_2 = vt.rss_mib(proc.pid)
        time.sleep(8)
        after_10 = vt.rss_mib(proc.pid)
        print(f"{args.clients} clients x {args.rounds} rounds x {len(urls)} large queries (nocache=1) in {wall:.1f} s, "
              f"errors {len(errors)}")
        print(f"{'RSS MiB':>8} {'idle':>7} {'peak':>7} {'after 2 s':>10} {'after 10 s':>11}")
        print(f"{'vigil':>8} {idle:7.1f} {peak:7.1f} {after_2:10.1f} {after_10:11.1f}")
        for e in errors[:5]:
            print("error:", e)
        return 1 if errors else 0
    finally:
        if proc is not None:
            vt.stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
