#!/usr/bin/env python3
"""vigil against Debian's real Alertmanager (0.25) on the same alerts, the
same route tree and the same inhibit rule, both taking the alerts over HTTP
through Alertmanager's API (POST /api/v2/alerts), in one run.

    bench/compare_alertmanager.py          # or: RUNS=5 ALERTS=10000 bench/compare_alertmanager.py

The alerts: ALERTS (10 000) distinct ones, 10 alertnames x 100 services x 10
instances, grouped by [alertname, service] into 1 000 groups. Alert0 is
critical on every tenth service (100 alerts) and high elsewhere; Alert1-3 are
high, Alert4-6 medium, Alert7-9 low. Routes by severity: critical -> pager,
high|medium -> ops, the rest -> the root's default; group_wait 1s,
group_interval 10s. Inhibit rule: severity="critical" inhibits
severity=~"high|medium" with equal [service], so 600 alerts are held back
and 9 400 must reach the webhook. All three receivers are webhooks to one
counting sink in this process (loopback).

Per run, for each system in turn (order alternating run by run), a fresh
process on a fresh data directory:
  (a) ingest: ALERTS alerts POSTed in batches of BATCH (100; Prometheus
      sends up to 64 by default) on one keep-alive connection, critical
      first; alerts/s until the last POST is accepted;
  (b) end to end: from the first POST until the sink holds notifications
      for all 9 400 alerts that are not inhibited (timeout 180 s);
      notifications for inhibited alerts are counted (must be 0);
  (c) re-post: the same ALERTS alerts again, new endsAt, as Prometheus
      re-sends every evaluation; alerts/s;
  (d) GET /api/v2/alerts with every alert: time, and the count of
      suppressed alerts (must be 600 on both);
  (e) CPU time (user+system, /proc/PID/stat) over (a)-(d) and peak RSS
      (VmHWM).
Medians over RUNS (default 3) and vigil/Alertmanager ratios are printed;
each run's figures too. Environment: VIGIL, ALERTMANAGER, RUNS, ALERTS,
BATCH, KEEP=1 (keep the temporary directory with configs and logs).
"""
import datetime
import http.client
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
AM = os.environ.get("ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
RUNS = int(os.environ.get("RUNS", "3"))
N = int(os.environ.get("ALERTS", "10000"))
BATCH = int(os.environ.get("BATCH", "100"))
E2E_TIMEOUT = 180.0
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the alerts -------------------------------------------------------------

def make_alerts(n):
    out = []
    for i in range(n):
        name_i, svc_i, inst = (i // 1000) % 10, i % 100, (i // 100) % 10
        if name_i == 0:
            sev = "critical" if svc_i % 10 == 0 else "high"
        else:
            sev = ["", "high", "high", "high", "medium", "medium", "medium", "low", "low", "low"][name_i]
        out.append({"alertname": f"Alert{name_i}", "service": f"svc{svc_i:02d}", "instance": f"host{inst}",
                    "severity": sev, "bench_index": str(i)})
    # Critical first (so inhibition holds from the start, as in a real
    # outage the cause fires first), then group by group: a batch holds
    # whole groups, as one Prometheus rule evaluation sends them.
    out.sort(key=lambda l: (l["severity"] != "critical", l["alertname"], l["service"], l["instance"]))
    crit_services = {l["service"] for l in out if l["severity"] == "critical"}
    inhibited = {l["bench_index"] for l in out
                 if l["severity"] in ("high", "medium") and l["service"] in crit_services}
    return out, inhibited


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def batches(labels, starts, ends):
    out = []
    for i in range(0, len(labels), BATCH):
        out.append(json.dumps([{"labels": l, "annotations": {"summary": f"{l['alertname']} on {l['service']}"},
                                "startsAt": starts, "endsAt": ends,
                                "generatorURL": "http://prometheus.invalid/graph"} for l in labels[i:i + BATCH]]
                              ).encode())
    return out


# --- the counting webhook sink ----------------------------------------------

class Sink:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset(set())
        sink = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.take(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self, expected):
        with self.lock:
            self.expected = expected
            self.seen = set()
            self.wrong = 0  # notifications for alerts that should be inhibited
            self.posts = 0
            self.done_at = None

    def take(self, body):
        with self.lock:
            self.posts += 1
            for a in body.get("alerts", []):
                if a.get("status") != "firing":
                    continue
                i = a["labels"].get("bench_index")
                if i in self.expected:
                    self.seen.add(i)
                else:
                    self.wrong += 1
            if self.done_at is None and len(self.seen) == len(self.expected):
                self.done_at = time.monotonic()


# --- the two systems --------------------------------------------------------

def route_yaml(hook, indent):
    pad = " " * indent
    return f"""{pad}route:
{pad}  receiver: default
{pad}  group_by: [alertname, service]
{pad}  group_wait: 1s
{pad}  group_interval: 10s
{pad}  repeat_interval: 4h
{pad}  routes:
{pad}    - {{matchers: ['severity="critical"'], receiver: pager}}
{pad}    - {{matchers: ['severity=~"high|medium"'], receiver: ops}}
{pad}receivers:
{pad}  - {{name: default, webhook_configs: [{{url: '{hook}/default'}}]}}
{pad}  - {{name: pager, webhook_configs: [{{url: '{hook}/pager'}}]}}
{pad}  - {{name: ops, webhook_configs: [{{url: '{hook}/ops'}}]}}
{pad}inhibit_rules:
{pad}  - {{source_matchers: ['severity="critical"'], target_matchers: ['severity=~"high|medium"'], equal: [service]}}
"""


def start(system, work, hook):
    port = free_port()
    d = tempfile.mkdtemp(prefix=system + ".", dir=work)
    log = open(os.path.join(d, "log"), "w")
    if system == "vigil":
        cfg = os.path.join(d, "vigil.yml")
        with open(cfg, "w") as f:
            f.write("host: {enabled: false}\nalerting:\n" + route_yaml(hook, 2))
        cmd = [VIGIL, "run", "--config", cfg, "--data-dir", os.path.join(d, "data"), "--listen", f"127.0.0.1:{port}"]
    else:
        cfg = os.path.join(d, "am.yml")
        with open(cfg, "w") as f:
            f.write(route_yaml(hook, 0))
        cmd = [AM, f"--config.file={cfg}", f"--storage.path={d}/data", f"--web.listen-address=127.0.0.1:{port}",
               "--cluster.listen-address=", "--log.level=warn"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{system} exited during startup; log: {log.name}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/-/ready")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{system} not ready after 30 s; log: {log.name}")
        time.sleep(0.1)
    return proc, port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post_all(port, bodies):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.connect()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Go's clients (Prometheus)
    for b in bodies:
        c.request("POST", "/api/v2/alerts", body=b, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read()
        if r.status != 200:
            raise RuntimeError(f"POST answered {r.status}: {text[:300]!r}")
    c.close()


def one_run(system, work, sink, labels, inhibited):
    expected = {l["bench_index"] for l in labels} - inhibited
    sink.reset(expected)
    proc, port = start(system, work, sink.url + "/" + system)
    try:
        cpu0 = cpu_seconds(proc.pid)
        now = time.time()
        # As Prometheus: startsAt when it started firing (now: an outage
        # begins; Alertmanager would skip group_wait for alerts older than
        # it, vigil does not), endsAt a few resend intervals ahead (4 x 1 m),
        # renewed on every re-send.
        first = batches(labels, iso(now), iso(now + 240))
        t0 = time.monotonic()
        post_all(port, first)
        t_ingest = time.monotonic() - t0
        deadline = t0 + E2E_TIMEOUT
        while sink.done_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if sink.done_at is None:
            raise RuntimeError(f"{system}: only {len(sink.seen)} of {len(expected)} alerts notified "
                               f"after {E2E_TIMEOUT:.0f} s")
        t_e2e = sink.done_at - t0
        time.sleep(1.0)  # late notifications of inhibited alerts would show here
        again = batches(labels, iso(now), iso(time.time() + 240))
        t1 = time.monotonic()
        post_all(port, again)
        t_repost = time.monotonic() - t1
        t2 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/api/v2/alerts")
        r = c.getresponse()
        listed = json.loads(r.read())
        t_get = time.monotonic() - t2
        suppressed = sum(1 for a in listed if a["status"]["state"] == "suppressed")
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mib(proc.pid)
        return {"ingest": len(labels) / t_ingest, "e2e": t_e2e, "repost": len(labels) / t_repost,
                "get": t_get, "listed": len(listed), "suppressed": suppressed, "wrong": sink.wrong,
                "posts": sink.posts, "cpu": cpu, "rss": rss}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    for b in (VIGIL, AM):
        if not os.access(b, os.X_OK):
            sys.exit(f"not executable: {b} (build vigil; scripts/setup.sh installs prometheus-alertmanager)")
    version = subprocess.run([AM, "--version"], capture_output=True, text=True).stderr.split("\n")[0] or \
        subprocess.run([AM, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    labels, inhibited = make_alerts(N)
    work = tempfile.mkdtemp(prefix="vigil-am-bench.")
    sink = Sink()
    print(f"anchor: {version.strip()}")
    print(f"alerts: {N} in batches of {BATCH}, {N - len(inhibited)} to notify, {len(inhibited)} inhibited; "
          f"RUNS={RUNS}")
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    results = {"vigil": [], "alertmanager": []}
    ok = True
    try:
        for run in range(RUNS):
            order = ["vigil", "alertmanager"] if run % 2 == 0 else ["alertmanager", "vigil"]
            for system in order:
                r = one_run(system, work, sink, labels, inhibited)
                results[system].append(r)
                print(f"run {run + 1} {system:12s} ingest {r['ingest']:8.0f}/s  e2e {r['e2e']:6.2f} s  "
                      f"re-post {r['repost']:8.0f}/s  GET {r['get']:5.2f} s ({r['listed']} listed, "
                      f"{r['suppressed']} suppressed)  cpu {r['cpu']:6.2f} s  peak RSS {r['rss']:6.1f} MiB  "
                      f"webhook POSTs {r['posts']}  inhibited-but-notified {r['wrong']}", flush=True)
                if r["wrong"] or r["suppressed"] != len(inhibited) or r["listed"] != N:
                    print(f"  ^ {system} disagrees with the expected outcome "
                          f"({len(inhibited)} suppressed, {N} listed, none inhibited notified)")
                    ok = False
    finally:
        sink.server.shutdown()
        if os.environ.get("KEEP") == "1":
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    rows = [("ingest, alerts/s (higher is better)", "ingest", "{:.0f}"),
            ("end to end to the webhook, s", "e2e", "{:.2f}"),
            ("re-post, alerts/s (higher is better)", "repost", "{:.0f}"),
            ("GET /api/v2/alerts (10k), s", "get", "{:.3f}"),
            ("CPU, s (a)-(d)", "cpu", "{:.2f}"),
            ("peak RSS, MiB", "rss", "{:.1f}"),
            ("webhook POSTs", "posts", "{:.0f}")]
    print(f"\nmedians of {RUNS} runs")
    print(f"{'':40s} {'vigil':>10s} {'Alertmanager':>13s} {'vigil/AM':>9s}")
    for name, key, fmt in rows:
        v = statistics.median(r[key] for r in results["vigil"])
        m = statistics.median(r[key] for r in results["alertmanager"])
        print(f"{name:40s} {fmt.format(v):>10s} {fmt.format(m):>13s} {v / m if m else float('nan'):9.2f}")
    print(f"machine after: load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
