#!/usr/bin/env python3
"""What vigil's insight costs on 30 days of a validator host's history
(issue 15's benchmark): uptime/SLA, capacity forecasts, alert quality,
incidents, degradation baselines and the report, computed by a running agent that keeps
collecting host metrics at 1 s meanwhile.

    bench/insight_30d.py [--vigil build/vigil] [--days 30] [--interval 60] [--rounds 20]

The history: node_exporter-shaped host series (filesystems with growth,
log rotation and a pruning sawtooth, memory, CPU and network counters), the
three services' memory and chain lag, backfilled with `vigil tsdb import` at
--interval seconds; and in state.db the ledger of three services (two short
outages a day each), alert episodes (a dozen rules, some flapping), their
first deliveries and the recovery audit of the same 30 days. The three
services are units of a private `systemd --user`.

Measured: the wall time of each insight request (median and max over
--rounds), the agent's RSS before, at its peak (VmHWM) and after, and the
collector's lateness: the gaps between successive stored samples of the 1 s
host series over the same length of time idle and while the rounds run (p99
and max of |gap - 1 s|). Everything runs on loopback; every loop is bounded."""
import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import vigiltest as vt  # noqa: E402

GiB = 1024 ** 3
SERVICES = ("validator", "bitcoind", "titan")
RULES = [("HostHighCpu", "P2", 300), ("HostMemoryLow", "P1", 300), ("DiskFullWithin7Days", "P2", 3600),
         ("ServiceDown", "P0", 0), ("ServiceFlapping", "P1", 0), ("BitcoindSyncLag", "P1", 600),
         ("TitanLag", "P1", 300), ("ValidatorLag", "P0", 120), ("LogErrorRate", "P2", 600),
         ("CertificateExpiring", "P3", 0), ("UpdateAvailable", "P3", 0), ("ProbeSlow", "P2", 300)]


def write_history(path, days, interval, now):
    """OpenMetrics text of `days` of a validator host, one sample per `interval` s."""
    steps = days * 86400 // interval
    start = now - days * 86400
    rnd = random.Random(15)
    series = []  # (name, labels, type, f(step) -> value)

    def add(name, labels, kind, f):
        series.append((name, labels, kind, f))

    fs = 'device="/dev/nvme0n1p{i}",fstype="ext4",mountpoint="{m}"'
    for i, (mount, size, f) in enumerate([
            ("/", 100, lambda d: 40 + 0.05 * d),
            ("/mnt/chain", 2000, lambda d: 900 + 12 * d - 60 * math.floor(d / 7)),   # weekly pruning steps
            ("/var/log", 50, lambda d: 10 + 8 * (d % 1)),                              # daily rotation
            ("/boot", 1, lambda d: 0.3)]):
        lab = fs.format(i=i + 1, m=mount)
        add("node_filesystem_size_bytes", lab, "gauge", lambda s, size=size: size * GiB)
        add("node_filesystem_avail_bytes", lab, "gauge",
            lambda s, size=size, f=f: (size - f(s * interval / 86400)) * GiB)
    add("node_memory_MemTotal_bytes", "", "gauge", lambda s: 64 * GiB)
    add("node_memory_MemAvailable_bytes", "", "gauge",
        lambda s: (30 + 4 * math.sin(s * interval / 86400 * 2 * math.pi)) * GiB)
    for svc, base, leak in (("validator", 2.0, 0.02), ("bitcoind", 5.8, 0.0), ("titan", 3.0, 0.005)):
        add("vigil_systemd_unit_memory_bytes", f'service="{svc}",unit="arch-{svc}@ops.service"', "gauge",
            lambda s, base=base, leak=leak: (base + leak * s * interval / 86400) * GiB)
    for cpu in range(8):
        for mode, rate in (("user", 0.2), ("system", 0.05), ("idle", 0.7), ("iowait", 0.03), ("irq", 0.001),
                           ("softirq", 0.01), ("steal", 0.0), ("nice", 0.0)):
            add("node_cpu_seconds_total", f'cpu="{cpu}",mode="{mode}"', "counter",
                lambda s, rate=rate: rate * s * interval)
    for dev in ("eth0", "eth1", "lo"):
        for d in ("receive", "transmit"):
            add(f"node_network_{d}_bytes_total", f'device="{dev}"', "counter", lambda s: 2e6 * s * interval)
    for svc in SERVICES:
        add("vigil_probe_duration_seconds", f'service="{svc}",probe="rpc"', "gauge",
            lambda s: 0.02 * (1 + 0.5 * math.sin(s * interval / 86400 * 2 * math.pi)) + rnd.random() * 0.005)
    add("vigil_bitcoind_sync_lag_blocks", 'service="bitcoind"', "gauge", lambda s: 0)
    add("vigil_titan_height_lag_blocks", 'service="titan"', "gauge", lambda s: s % 3)
    n = 0
    with open(path, "w") as out:
        done = set()
        for name, labels, kind, f in series:
            if name not in done:
                out.write(f"# TYPE {name} {kind}\n")
                done.add(name)
            lines = []
            for s in range(steps + 1):
                lines.append(f"{name}{{{labels}}} {f(s):.6g} {start + s * interval}\n")
            out.writelines(lines)
            n += len(lines)
        out.write("# EOF\n")
    return len(series), n


def fingerprint(labels):
    """alert::Fingerprint: FNV-1a 64 over the sorted name, 0xff, value, 0xff of each label (Alertmanager's)."""
    h = 14695981039346656037
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for ch in part:
                h = ((h ^ ch) * 1099511628211) % 2**64
    return f"{h:016x}"


def write_state(db, days, now_ms):
    """30 days of ledger transitions, alert episodes, first deliveries and recovery audit rows."""
    rnd = random.Random(30)
    con = sqlite3.connect(db)
    day = 86400 * 1000
    start = now_ms - days * day
    rows = {"sla": 0, "episodes": 0, "deliveries": 0, "audit": 0}
    for svc in SERVICES:
        con.execute("INSERT INTO sla_transitions (service, time_ms, state) VALUES (?, ?, 'up')", (svc, start))
        for d in range(days):
            for _ in range(2):
                down = start + d * day + rnd.randrange(day - 3600 * 1000)
                up = down + rnd.randrange(30, 600) * 1000
                state = "planned_down" if rnd.random() < 0.3 else "down"
                con.execute("INSERT INTO sla_transitions (service, time_ms, state) VALUES (?, ?, ?)",
                            (svc, down, state))
                con.execute("INSERT INTO sla_transitions (service, time_ms, state) VALUES (?, ?, 'up')", (svc, up))
                rows["sla"] += 2
                if state == "down":
                    con.execute("INSERT INTO recovery_audit (time_ms, service, episode, kind, action, target, attempt,"
                                " outcome, detail, duration_ms) VALUES (?, ?, 0, 'action', 'restart', ?, 1, 'verified',"
                                " '', 1200)", (down + 2000, svc, f"arch-{svc}@ops.service"))
                    rows["audit"] += 1
    for d in range(days):
        for rule, severity, for_s in RULES:
            for _ in range(rnd.randrange(0, 6)):
                svc = rnd.choice(SERVICES)
                active = start + d * day + rnd.randrange(day - 7200 * 1000)
                fired = active + for_s * 1000
                resolved = fired + rnd.randrange(10, 3600) * 1000
                label_set = {"alertname": rule, "severity": severity, "service": svc, "instance": "validator-1"}
                labels = json.dumps(label_set, sort_keys=True, separators=(",", ":"))
                con.execute("INSERT OR IGNORE INTO alert_episodes (group_key, rule, rule_labels, labels, severity,"
                            " for_ms, active_at_ms, fired_at_ms, resolved_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (f"bench.yml;{rule}", rule, json.dumps({"severity": severity}), labels, severity,
                             for_s * 1000, active, fired, resolved))
                con.execute("INSERT OR IGNORE INTO alert_first_delivery (fingerprint, starts_at_ms, delivered_ms)"
                            " VALUES (?, ?, ?)", (fingerprint(label_set), fired, fired + rnd.randrange(20, 200)))
                rows["episodes"] += 1
                rows["deliveries"] += 1
    con.commit()
    con.close()
    return rows


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def lateness(url, seconds_back):
    """p99 and max of |gap - 1 s| (ms) between the stored samples of a 1 s host series."""
    body = vt.api(url, "/api/v1/query", query=f"node_load1[{seconds_back}s]")
    ts = sorted(float(t) for t, _ in body["result"][0]["values"])
    gaps = sorted(abs((b - a) * 1000 - 1000) for a, b in zip(ts, ts[1:]))
    if not gaps:
        return float("nan"), float("nan"), 0
    return gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], gaps[-1], len(ts)


def timed_get(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
        code = r.status
    return time.perf_counter() - t0, code, body


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--interval", type=int, default=60, help="seconds between history samples")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--idle", type=int, default=30, help="seconds of lateness measured idle")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="vigil-insight.")
    sleeper = os.path.join(work, "vb-insight-sleeper")
    shutil.copy("/bin/sleep", sleeper)
    units = {f"vb-insight-{s}.service": f"[Service]\nExecStart={sleeper} 100000\n" for s in SERVICES}
    sd = vt.UserSystemd(units)
    v = None
    try:
        sd.systemctl("start", *units)
        data = os.path.join(work, "data")
        now = int(time.time())
        om = os.path.join(work, "history.om")
        t0 = time.perf_counter()
        nseries, nsamples = write_history(om, a.days, a.interval, now - 120)
        print(f"history: {nseries} series, {nsamples} samples over {a.days} days at {a.interval} s "
              f"({os.path.getsize(om) / 2**20:.0f} MiB, written in {time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        subprocess.run([a.vigil, "tsdb", "import", "--data-dir", data, om], check=True, capture_output=True)
        print(f"imported in {time.perf_counter() - t0:.1f} s")
        os.remove(om)

        services = "".join(f"  {s}:\n    unit: vb-insight-{s}.service\n    slo: {{objective: 99.5%, window: 30d}}\n    recovery: {{restart: {{}}}}\n"
                           for s in SERVICES)
        config = f"""
global: {{scrape_interval: 15s}}
host: {{interval: 1s}}
systemd: {{bus: user}}
rule_files: [builtin:host]
baselines:
  - {{name: rpc_latency, expr: vigil_probe_duration_seconds, min_width: 0.05}}
  - {{name: titan_lag, expr: vigil_titan_height_lag_blocks, min_width: 3}}
services:
{services}"""
        # The first run creates state.db's tables; the history is written into them while it is stopped.
        v = vt.Vigil(a.vigil, config, data_dir=data)
        v.wait_ready(timeout=60)
        v.stop()
        rows = write_state(os.path.join(data, "state.db"), a.days, now * 1000)
        print(f"state.db: {rows}")

        v = vt.Vigil(a.vigil, config, data_dir=data)
        v.wait_ready(timeout=60)
        pid = v.proc.pid
        # Downsampling of the imported blocks runs in the background: wait until the 1 h history is there.
        vt.wait_until(lambda: vt.api(v.url, "/api/v1/query_range", query="node_filesystem_size_bytes",
                                     start=str(now - a.days * 86400), end=str(now - 11 * 86400), step="3600",
                                     downsampled="true")["result"], timeout=300, interval=1,
                      what="the downsampled history")
        time.sleep(a.idle)
        idle_p99, idle_max, idle_n = lateness(v.url, a.idle)
        rss_before = rss_kib(pid, "VmRSS")

        requests = {
            "sla (rolling windows + a month)": f"/api/v1/sla?month={time.strftime('%Y-%m', time.gmtime(now))}",
            "capacity (30 d, 1 h history)": "/api/v1/capacity",
            "incidents (30 d list)": "/api/v1/incidents?since=30d",
            "report (30 d, JSON)": f"/api/v1/report?from={now - a.days * 86400}&to={now}",
            "report (7 d, Markdown)": "/api/v1/report?format=md",
        }
        times = {name: [] for name in requests}
        first = {}
        quality = []
        t_start = time.time()
        rounds = 0
        # At least --rounds, and for at least --idle seconds, so lateness is compared over equal spans.
        while rounds < a.rounds or (time.time() - t_start < a.idle and rounds < 100 * a.rounds):
            rounds += 1
            for name, path in requests.items():
                dt, code, body = timed_get(v.url + path)
                assert code == 200, (name, code, body[:300])
                if name in first:
                    times[name].append(dt)
                else:
                    first[name] = dt
            t0 = time.perf_counter()
            r = subprocess.run([a.vigil, "alerts", "quality", "--data-dir", data, "--since", f"{a.days}d", "--json"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            quality.append(time.perf_counter() - t0)
        busy = max(1, int(time.time() - t_start))
        busy_p99, busy_max, busy_n = lateness(v.url, busy)
        peak = rss_kib(pid, "VmHWM")
        time.sleep(5)
        rss_after = rss_kib(pid, "VmRSS")
        fired = json.loads(r.stdout)["fired"]
        capacity_compute = next((float(line.split()[-1]) for line in v.metrics().splitlines()
                                 if line.startswith("vigil_capacity_compute_seconds ")), float("nan"))
        # Learning the baselines (28 days of each series) happens inside a run of their collector.
        learn = vt.api(v.url, "/api/v1/query",
                       query=f'max_over_time(vigil_collector_duration_seconds{{collector="baselines"}}[{busy + 600}s])')
        learn_s = float(learn["result"][0]["value"][1]) if learn["result"] else float("nan")
        incidents = len(json.loads(timed_get(v.url + "/api/v1/incidents?since=30d")[2])["data"])

        print(f"\n{rounds} rounds over {a.days} days of history (the first request computes; the API may"
              " then answer from its cache):")
        print(f"{'request':40} {'first ms':>10} {'median ms':>10} {'max ms':>10}")
        for name, ts in times.items():
            print(f"{name:40} {first[name] * 1000:10.1f} {statistics.median(ts) * 1000:10.1f} {max(ts) * 1000:10.1f}")
        print(f"{'alerts quality (CLI, ' + str(fired) + ' episodes)':40} {quality[0] * 1000:10.1f} "
              f"{statistics.median(quality) * 1000:10.1f} "
              f"{max(quality) * 1000:10.1f}")
        print(f"incidents filed from the 30 days of episodes: {incidents}; the first pass (30 days) ran in the "
              f"self collection at start")
        print(f"baselines: the longest run of their collector (learning 28 days of each series included) took "
              f"{learn_s * 1000:.1f} ms")
        print(f"capacity: the forecast itself (read 30 d of history, forecast every resource) took "
              f"{capacity_compute * 1000:.1f} ms (vigil_capacity_compute_seconds); the API reuses it for 5 minutes")
        print(f"\nagent RSS: {rss_before / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB, "
              f"{rss_after / 1024:.1f} MiB 5 s after")
        print(f"collector lateness |gap - 1 s|: idle p99 {idle_p99:.1f} ms max {idle_max:.1f} ms ({idle_n} samples); "
              f"during the rounds p99 {busy_p99:.1f} ms max {busy_max:.1f} ms ({busy_n} samples, {busy} s)")
    finally:
        if v is not None:
            v.cleanup()
        sd.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
