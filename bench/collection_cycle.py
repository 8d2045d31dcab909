#!/usr/bin/env python3
"""CPU of vigil's collection on a validator-shaped host (issue 5's benchmark):
20 systemd units (a private `systemd --user`), 10 probes against the emulated
peers (3 HTTP, 3 JSON-RPC, 3 TCP, 1 TLS certificate file) and 5 log files
each appended at 1 000 lines/s, with host metrics, storage and the default
collection interval, measured as CPU seconds per second of wall time.

    bench/collection_cycle.py [--seconds 60] [--interval 15s] [--vigil build/vigil] [--no-anchor]

The anchor is the Prometheus stack doing the same job on the same host in the
same run, one after the other: node_exporter (default collectors plus its
systemd collector on the same units), blackbox_exporter (the same 10 probes),
mtail (the same 5 logs and patterns) and a Prometheus scraping and storing
them all at the same interval; its CPU is the sum of the four processes.
Prints both figures with their ratio, and vigil's per-collector durations.
Everything runs on loopback; every loop is bounded by --seconds."""
import argparse
import subprocess
import os
import socket
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import vigiltest as vt  # noqa: E402

UNITS = 20
LOG_FILES = 5
LINES_PER_SECOND = 1000
# What a validator log looks like: mostly progress, some errors, reconnects.
LINES = [
    "2026-11-25T10:00:00Z INFO Processing slot {n}",
    "2026-11-25T10:00:00Z INFO Processing slot {n}",
    "2026-11-25T10:00:00Z INFO Processing slot {n}",
    "2026-11-25T10:00:00Z WARN slow peer response took {n} ms",
    "2026-11-25T10:00:00Z INFO Connected to server at titan-public-tcp.example:3030",
    "2026-11-25T10:00:00Z ERROR failed to submit transaction {n}: timeout",
    "2026-11-25T10:00:00Z INFO Detected disconnection",
    "2026-11-25T10:00:00Z INFO Processing slot {n}",
]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_logs(paths, stop, counts):
    """Appends LINES_PER_SECOND lines per second to each file, in 10 ms batches."""
    files = [open(p, "a", buffering=1 << 16) for p in paths]
    n = 0
    start = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * LINES_PER_SECOND)
        while n < due:
            line = LINES[n % len(LINES)].format(n=n) + "\n"
            for f in files:
                f.write(line)
            n += 1
        for f in files:
            f.flush()
        time.sleep(0.01)
    for f in files:
        f.close()
    counts.append(n)


MTAIL_PROGRAM = r"""
counter log_errors
counter log_warnings
gauge log_slot
gauge log_titan_connected
/ERROR/ { log_errors++ }
/WARN/ { log_warnings++ }
/Processing slot (?P<slot>\d+)/ { log_slot = $slot }
/Connected to server at titan/ { log_titan_connected = 1 }
/Detected disconnection/ { log_titan_connected = 0 }
"""


def run_anchor(work, interval, seconds, titan, validator, listener_ports, logs, stop_writers):
    """Starts the anchor stack, measures it like vigil, returns (cpu_seconds, wall, rss_mib, up_targets)."""
    binaries = {"node": "/usr/bin/prometheus-node-exporter", "blackbox": "/usr/bin/prometheus-blackbox-exporter",
                "mtail": "/usr/bin/mtail", "prometheus": "/usr/bin/prometheus"}
    for b in binaries.values():
        if not os.access(b, os.X_OK):
            print(f"anchor skipped: {b} missing (scripts/setup.sh --bench installs it)")
            return None
    ports = {k: vt.free_port() for k in ("node", "blackbox", "mtail", "prometheus")}
    with open(os.path.join(work, "blackbox.yml"), "w") as f:
        f.write("""modules:
  http_json: {prober: http, timeout: 5s, http: {valid_status_codes: [200], fail_if_body_not_matches_regexp: ['"height"']}}
  jsonrpc: {prober: http, timeout: 5s, http: {method: POST, headers: {Content-Type: application/json},
            body: '{"jsonrpc":"2.0","id":1,"method":"get_block_count","params":[]}',
            fail_if_body_not_matches_regexp: ['"result"']}}
  tcp: {prober: tcp, timeout: 5s}
""")
    os.makedirs(os.path.join(work, "mtail"), exist_ok=True)
    with open(os.path.join(work, "mtail", "validator.mtail"), "w") as f:
        f.write(MTAIL_PROGRAM)
    targets = ([("http_json", f"{titan.url}/status")] * 3 + [("jsonrpc", f"{validator.url}/")] * 3 +
               [("tcp", f"127.0.0.1:{p}") for p in listener_ports])
    jobs = []
    for i, (module, target) in enumerate(targets):
        jobs.append(f"""  - job_name: probe{i}
    metrics_path: /probe
    params: {{module: [{module}], target: ['{target}']}}
    static_configs: [{{targets: ['127.0.0.1:{ports["blackbox"]}']}}]""")
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write(f"""global: {{scrape_interval: {interval}, scrape_timeout: {min(10, int(interval.rstrip('s')))}s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ['127.0.0.1:{ports["node"]}']}}]
  - job_name: mtail
    static_configs: [{{targets: ['127.0.0.1:{ports["mtail"]}']}}]
""" + "\n".join(jobs) + "\n")
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=os.environ["DBUS_SESSION_BUS_ADDRESS"])
    procs = []
    out = open(os.path.join(work, "anchor.log"), "w")
    try:
        procs.append(subprocess.Popen([binaries["node"], f"--web.listen-address=127.0.0.1:{ports['node']}",
                                       "--collector.systemd", "--collector.systemd.unit-include=vb@.*"],
                                      env=env, stdout=out, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([binaries["blackbox"], f"--config.file={work}/blackbox.yml",
                                       f"--web.listen-address=127.0.0.1:{ports['blackbox']}"],
                                      stdout=out, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([binaries["mtail"], "-progs", f"{work}/mtail", "-logs", ",".join(logs),
                                       "-address", "127.0.0.1", "-port", str(ports["mtail"])],
                                      stdout=out, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([binaries["prometheus"], f"--config.file={work}/prometheus.yml",
                                       f"--storage.tsdb.path={work}/prom",
                                       f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
                                      stdout=out, stderr=subprocess.STDOUT))
        vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{ports['prometheus']}/-/ready")[0] == 200, timeout=30,
                      what="prometheus ready")
        time.sleep(5 + 2 * int(interval.rstrip("s")))  # warm-up: every target scraped at least once
        cpu0, t0 = sum(cpu_seconds(p.pid) for p in procs), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = sum(cpu_seconds(p.pid) for p in procs), time.monotonic()
        rss = sum(vt.rss_mib(p.pid) for p in procs)
        import json
        import urllib.parse
        q = urllib.parse.urlencode({"query": "sum(up)"})
        up = json.loads(vt.get(f"http://127.0.0.1:{ports['prometheus']}/api/v1/query?{q}")[2])["data"]["result"]
        q = urllib.parse.urlencode({"query": "count(node_systemd_unit_state{state=\"active\"} == 1)"})
        units = json.loads(vt.get(f"http://127.0.0.1:{ports['prometheus']}/api/v1/query?{q}")[2])["data"]["result"]
        return (cpu1 - cpu0, t1 - t0, rss, up[0]["value"][1] if up else "0", units[0]["value"][1] if units else "0")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        out.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--interval", default="15s")
    p.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    p.add_argument("--no-anchor", action="store_true")
    a = p.parse_args()
    if not 10 <= a.seconds <= 3600:
        sys.exit("--seconds must be within 10..3600")

    work = tempfile.mkdtemp(prefix="vigil-cycle.")
    cert = os.path.join(work, "cert.pem")
    os.system(f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {work}/key.pem "
              f"-out {cert} -days 30 -subj /CN=bench >/dev/null 2>&1")
    sd = vt.UserSystemd({"vb@.service": "[Service]\nExecStart=/bin/sleep 100000\n"})
    emulators = []
    v = None
    stop = threading.Event()
    writer = None
    try:
        sd.systemctl("start", *[f"vb@{i}.service" for i in range(UNITS)])
        titan = vt.Emulator(ROOT, "titan")
        validator = vt.Emulator(ROOT, "validator")
        emulators += [titan, validator]
        listener_ports = []
        listeners = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            listeners.append(s)
            listener_ports.append(s.getsockname()[1])
        logs = [os.path.join(work, f"app{i}.log") for i in range(LOG_FILES)]
        for path in logs:
            open(path, "w").close()

        services = []
        for i in range(UNITS):
            probes = []
            if i < 3:
                probes.append(f"{{name: http, type: http, url: '{titan.url}/status', json_pointer: /block_tip/height}}")
            elif i < 6:
                probes.append(f"{{name: rpc, type: jsonrpc, url: '{validator.url}/', method: get_block_count, "
                              f"extract: {{height: ''}}}}")
            elif i < 9:
                probes.append(f"{{name: tcp, type: tcp, target: '127.0.0.1:{listener_ports[i - 6]}'}}")
            elif i == 9:
                probes.append(f"{{name: cert, type: tls, file: '{cert}'}}")
            log = ""
            if i < LOG_FILES:
                log = f"""
    logs:
      - path: '{logs[i]}'
        counters: [{{name: errors, match: 'ERROR'}}, {{name: warnings, match: 'WARN'}}]
        gauges: [{{name: slot, match: 'Processing slot (\\d+)'}}]
        states: [{{name: titan_connected, on: 'Connected to server at titan', off: 'Detected disconnection'}}]"""
            services.append(f"""  s{i}:
    unit: vb@{i}.service
    probes: [{', '.join(probes)}]{log}""")
        config = f"""global: {{scrape_interval: {a.interval}}}
systemd: {{bus: user}}
services:
""" + "\n".join(services) + "\n"

        counts = []
        writer = threading.Thread(target=write_logs, args=(logs, stop, counts), daemon=True)
        writer.start()
        v = vt.Vigil(a.vigil, config)
        v.wait_ready(timeout=30)
        time.sleep(5)  # warm-up: first collections, log catch-up
        pid = v.proc.pid
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(a.seconds)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        rss = vt.rss_mib(pid)
        fams = vt.parse_exposition(v.metrics())
        stop.set()
        writer.join(timeout=5)

        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        print(f"setup: {UNITS} units, 10 probes, {LOG_FILES} log files x {LINES_PER_SECOND} lines/s, "
              f"interval {a.interval}, {a.seconds} s measured")
        print(f"vigil CPU: {cpu1 - cpu0:.3f} s in {t1 - t0:.1f} s wall = {(cpu1 - cpu0) / (t1 - t0) * 1000:.2f} ms "
              f"CPU per s ({(cpu1 - cpu0) / (t1 - t0) * 100:.2f} % of one core); RSS {rss:.1f} MiB")
        durations = fams.get("vigil_collector_duration_seconds", {"samples": {}})["samples"]
        kinds = {}
        for ls, val in durations.items():
            name = dict(ls).get("collector", "")
            kind = name.split("/")[0]
            kinds.setdefault(kind, []).append(val)
        for kind, vals in sorted(kinds.items()):
            print(f"  {kind:10s} collectors {len(vals):3d}  last duration mean {sum(vals) / len(vals) * 1000:8.3f} ms")
        lines = fams.get("vigil_log_lines_total", {"samples": {}})["samples"]
        if lines:
            print(f"  log lines read: {int(sum(lines.values()))} of {counts[0] * LOG_FILES if counts else '?'} written")
        else:
            print("  (this vigil build exposes no vigil_log_lines_total: log following not measured)")
        if not a.no_anchor:
            v.cleanup()
            v = None
            stop.clear()
            writer = threading.Thread(target=write_logs, args=(logs, stop, counts), daemon=True)
            writer.start()
            r = run_anchor(work, a.interval, a.seconds, titan, validator, listener_ports, logs, stop)
            stop.set()
            writer.join(timeout=5)
            if r:
                acpu, awall, arss, up, units = r
                ours = (cpu1 - cpu0) / (t1 - t0)
                theirs = acpu / awall
                print(f"anchor (node_exporter + blackbox_exporter + mtail + Prometheus): {acpu:.3f} s in {awall:.1f} s "
                      f"= {theirs * 1000:.2f} ms CPU per s; RSS {arss:.1f} MiB; {up} targets up, {units} units active")
                print(f"ratio vigil / anchor: CPU {ours / theirs:.2f}, RSS {rss / arss:.2f}")
        for s in listeners:
            s.close()
    finally:
        stop.set()
        if v:
            v.cleanup()
        for e in emulators:
            e.stop()
        sd.cleanup()


if __name__ == "__main__":
    main()
