#!/usr/bin/env python3
"""Latency of /-/healthy and /metrics while N other connections are open
(half kept-alive idle after one request, half holding a partial request),
for one or two vigil binaries in the same run, plus wrk throughput of
/-/healthy and vigil's RSS. Loopback only; every process stopped by PID.

  bench/http_load.py --vigil build/vigil [--old /path/to/old/vigil]
                     [--conns 0,100,500] [--samples 20] [--wrk-seconds 10]

A request that takes longer than --timeout seconds counts as a timeout and
ends that row early (the old server needs tens of seconds per request)."""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head.split(b" ")[1])


def one_request(port, path, timeout):
    start = time.monotonic()
    s = connect(port, timeout)
    try:
        s.settimeout(timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
        status = read_response(s)
    finally:
        s.close()
    return status, time.monotonic() - start


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Vigil:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="vigil-httpbench.")
        self.port = free_port()
        cfg = os.path.join(self.dir, "vigil.yml")
        with open(cfg, "w") as f:
            f.write("host:\n  interval: 15s\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([binary, "run", "--data-dir", os.path.join(self.dir, "data"), "--listen",
                                      f"127.0.0.1:{self.port}", "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if one_request(self.port, "/-/ready", 2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{binary} did not become ready")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def hold_connections(port, n, timeout):
    """n/2 kept-alive connections that made one request, n/2 partial requests."""
    held = []
    for i in range(n):
        s = connect(port, timeout)
        held.append(s)
        if i % 2 == 0:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nX-Slow: ")
        else:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: b\r\n\r\n")  # its answer may come late: not awaited
    return held


def measure(port, path, samples, timeout):
    took = []
    for _ in range(samples):
        try:
            status, t = one_request(port, path, timeout)
            if status != 200:
                return took, f"status {status}"
            took.append(t)
        except (OSError, ConnectionError):
            return took, "timeout"
    return took, ""


def fmt(took, note, timeout):
    if not took:
        return f"> {timeout * 1000:.0f} ({note})" if note else "-"
    ms = sorted(x * 1000 for x in took)
    p = f"{statistics.median(ms):.1f} / {ms[-1]:.1f}"
    return p + (f" ({len(took)} then {note})" if note else "")


def wrk(port, seconds):
    if not shutil.which("wrk"):
        return "wrk not installed (scripts/setup.sh --bench)"
    out = subprocess.run(["wrk", "-t2", "-c50", f"-d{seconds}s", f"http://127.0.0.1:{port}/-/healthy"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = [l for l in out.splitlines() if l.startswith("Requests/sec")]
    lat = [l for l in out.splitlines() if l.strip().startswith("Latency")]
    errs = [l.strip() for l in out.splitlines() if "errors" in l or "Non-2xx" in l]
    return (rps[0].split()[1] + " req/s" if rps else "?") + (", latency " + " ".join(lat[0].split()[1:3])
                                                            if lat else "") + ("; " + "; ".join(errs) if errs else "")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vigil", required=True)
    p.add_argument("--old")
    p.add_argument("--conns", default="0,100,500")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--wrk-seconds", type=int, default=10)
    a = p.parse_args()
    binaries = [("new", a.vigil)] + ([("old", a.old)] if a.old else [])
    print("| server | open conns | /-/healthy ms (median / max) | /metrics ms (median / max) | RSS KiB |")
    print("|---|---|---|---|---|")
    throughput = []
    for name, binary in binaries:
        v = Vigil(binary)
        try:
            throughput.append((name, wrk(v.port, a.wrk_seconds), rss_kib(v.proc.pid)))
            for n in (int(x) for x in a.conns.split(",")):
                held = hold_connections(v.port, n, a.timeout)
                time.sleep(0.3)
                healthy = measure(v.port, "/-/healthy", a.samples, a.timeout)
                metrics = measure(v.port, "/metrics", a.samples, a.timeout)
                rss = rss_kib(v.proc.pid)
                for s in held:
                    s.close()
                print(f"| {name} | {n} | {fmt(*healthy, a.timeout)} | {fmt(*metrics, a.timeout)} | {rss} |", flush=True)
                time.sleep(1)
        finally:
            v.stop()
    print()
    print("| server | wrk -t2 -c50 /-/healthy | RSS after KiB |")
    print("|---|---|---|")
    for name, result, rss in throughput:
        print(f"| {name} | {result} | {rss} |")


if __name__ == "__main__":
    main()
