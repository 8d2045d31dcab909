#!/usr/bin/env python3
"""CPU of vigil's collection on a validator-shaped host (issue 5's benchmark):
20 systemd units (a private `systemd --user`), 10 probes against the emulated
peers (3 HTTP, 3 JSON-RPC, 3 TCP, 1 TLS certificate file) and 5 log files
each appended at 1 000 lines/s, with host metrics, storage and the default
collection interval, measured as CPU seconds per second of wall time.

    bench/collection_cycle.py [--seconds 60] [--interval 15s] [--vigil build/vigil]

Prints the figures and the per-collector mean durations from vigil's own
metrics. Everything runs on loopback; every loop is bounded by --seconds."""
import argparse
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


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--interval", default="15s")
    p.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
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
        rss = rss_mib(pid)
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
