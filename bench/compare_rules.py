#!/usr/bin/env python3
"""Rule evaluation side by side: the same 500 rules (bench/rules_bench.cc's
five kinds: alerting rate > x with a templated annotation, recording sum by
job of rate, alerting increase == 0, recording max by instance, alerting
count by job) over the same 10 000 live series (100 counters x 100 series,
served by a local exposition endpoint both scrape every 5 s), evaluated every
second by vigil and by Prometheus 2.42, one at a time.

CPU per evaluation round = (process CPU with the rules - process CPU of the
same server scraping the same target without rules) / rounds, each over
--seconds after a warm-up; rounds are counted from each server's own
metrics. Also printed: the wall time the server reports for its groups'
last evaluation, summed per round. Loopback only; processes stopped by PID.

  bench/compare_rules.py [--vigil build/vigil] [--prometheus /usr/bin/prometheus]
                         [--seconds 60] [--warmup 20] [--runs 2]
"""
import argparse
import http.server
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

METRICS, SERIES_PER_METRIC, RULES, GROUP = 100, 100, 500, 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rule_file():
    out = ["groups:"]
    for g in range(RULES // GROUP):
        out.append(f"- name: g{g}\n  interval: 1s\n  rules:")
        for i in range(GROUP):
            n = g * GROUP + i
            m = f"bench_requests_{n % METRICS}_total"
            kind = n % 5
            if kind == 0:
                out.append(f"  - alert: HighRate{n}\n    expr: rate({m}[5m]) > 0.9\n    for: 5m\n"
                           f"    labels: {{severity: P2}}\n    annotations: {{summary: '{{{{ $labels.instance }}}} of "
                           f"{{{{ $labels.job }}}} at {{{{ $value | humanize }}}}/s'}}")
            elif kind == 1:
                out.append(f"  - record: job:{m}:rate5m\n    expr: sum by (job) (rate({m}[5m]))")
            elif kind == 2:
                out.append(f"  - alert: Stalled{n}\n    expr: increase({m}[10m]) == 0\n    for: 10m\n"
                           f"    labels: {{severity: high}}")
            elif kind == 3:
                out.append(f"  - record: instance:{m}:max\n    expr: max by (instance) ({m})")
            else:
                out.append(f"  - alert: Many{n}\n    expr: count by (job) ({m} > 0) > 5\n"
                           f"    labels: {{severity: low}}\n    annotations: {{summary: '{{{{ $value }}}} instances'}}")
    return "\n".join(out) + "\n"


class Target(http.server.BaseHTTPRequestHandler):
    """10 000 counters that grow with time at a rate per series."""
    rates = [[random.Random(m * 1000 + s).uniform(0.1, 2.0) for s in range(SERIES_PER_METRIC)]
             for m in range(METRICS)]

    def do_GET(self):
        now = time.time()
        lines = []
        for m in range(METRICS):
            name = f"bench_requests_{m}_total"
            lines.append(f"# TYPE {name} counter")
            for s in range(SERIES_PER_METRIC):
                lines.append(f'{name}{{job="j{s // 10}",instance="i{s % 10}"}} {now * self.rates[m][s]:.3f}')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(url, name):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_ready(url, proc, log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"exited during startup; see {log}")
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"not ready after {timeout} s; see {log}")


def run(kind, binary, work, target_port, with_rules, seconds, warmup):
    d = tempfile.mkdtemp(prefix=f"{kind}-", dir=work)
    rules = os.path.join(work, "rules.yml")
    port = free_port()
    log = os.path.join(d, "log")
    if kind == "vigil":
        cfg = os.path.join(d, "vigil.yml")
        with open(cfg, "w") as f:
            f.write("global: {evaluation_interval: 1s}\nhost: {enabled: false}\n"
                    f"scrape:\n  - {{job: bench, url: 'http://127.0.0.1:{target_port}/metrics', interval: 5s, "
                    f"honor_labels: true}}\n")
            if with_rules:
                f.write(f"rule_files: [{rules}]\n")
        cmd = [binary, "run", "--config", cfg, "--data-dir", os.path.join(d, "data"), "--listen", f"127.0.0.1:{port}"]
        rounds_metric, duration_metric = "vigil_rule_evaluations_total", "vigil_rule_group_last_duration_seconds"
    else:
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {scrape_interval: 5s, evaluation_interval: 1s}\n"
                    f"scrape_configs:\n  - job_name: bench\n    honor_labels: true\n"
                    f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n")
            if with_rules:
                f.write(f"rule_files: [{rules}]\n")
        cmd = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}"]
        rounds_metric, duration_metric = "prometheus_rule_group_iterations_total", \
            "prometheus_rule_group_last_duration_seconds"
    with open(log, "w") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, log)
        time.sleep(warmup)
        metrics = f"http://127.0.0.1:{port}/metrics"
        r0, c0 = metric_sum(metrics, rounds_metric), cpu_seconds(proc.pid)
        durations = []
        end = time.time() + seconds
        while time.time() < end:
            time.sleep(min(5, max(0, end - time.time())))
            if with_rules:
                durations.append(metric_sum(metrics, duration_metric))
        r1, c1 = metric_sum(metrics, rounds_metric), cpu_seconds(proc.pid)
        rss = 0
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    rss = int(line.split()[1]) / 1024
        return {"cpu": c1 - c0, "rounds": (r1 - r0) / (RULES // GROUP), "wall": sorted(durations), "rss": rss}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    p = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--vigil", default=os.path.join(root, "build", "vigil"))
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--runs", type=int, default=2)
    a = p.parse_args()
    for b in (a.vigil, a.prometheus):
        if not os.access(b, os.X_OK):
            sys.exit(f"not executable: {b} (build vigil; scripts/setup.sh installs prometheus)")
    work = tempfile.mkdtemp(prefix="vigil-rules-bench.")
    with open(os.path.join(work, "rules.yml"), "w") as f:
        f.write(rule_file())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{RULES} rules in {RULES // GROUP} groups every 1 s over {METRICS * SERIES_PER_METRIC} series "
          f"scraped every 5 s; {a.seconds} s measured after {a.warmup} s; "
          f"load average {open('/proc/loadavg').read().split()[0]}")
    print(f"{'run':>4} {'server':<11} {'rounds':>7} {'CPU/round ms':>13} {'wall/round ms (median)':>23} "
          f"{'RSS MiB':>8}")
    try:
        for r in range(1, a.runs + 1):
            order = ("vigil", "prometheus") if r % 2 else ("prometheus", "vigil")
            for kind in order:
                binary = a.vigil if kind == "vigil" else a.prometheus
                base = run(kind, binary, work, server.server_address[1], False, a.seconds, a.warmup)
                ruled = run(kind, binary, work, server.server_address[1], True, a.seconds, a.warmup)
                per_round = (ruled["cpu"] - base["cpu"]) / max(1, ruled["rounds"]) * 1000
                wall = ruled["wall"][len(ruled["wall"]) // 2] * 1000 if ruled["wall"] else float("nan")
                print(f"{r:>4} {kind:<11} {ruled['rounds']:>7.0f} {per_round:>13.1f} {wall:>23.1f} "
                      f"{ruled['rss']:>8.1f}", flush=True)
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
