#!/usr/bin/env python3
"""Soak: vigil on the validator-stack configuration for a long time, under
the traffic a validator host gives it, watching that nothing creeps.

- Three units in a private `systemd --user` run the emulated bitcoind
  (cookie auth, rotated on every restart), titan and validator; vigil
  watches them as deploy/validator-stack.yml does (deep health, probes, the
  validator's log, data_dirs, recovery restarts, deploy/rules plus a P0
  ServiceDown), collecting the host at 1 s.
- The validator log grows at --log-rate lines/s (1 % ERROR, 2 % WARN).
- Every --kill-every seconds one unit (in turn) is SIGKILLed; vigil must page
  it (webhook), restart it and resolve the page.
- Every 5 s: vigil's RSS, open fds and threads, and CPU.

At the end it checks: RSS, fds and threads flat after warm-up (the last
half's peak against the first half's), no lost samples (node_load1 at 1 s
over the whole run), no lost log lines (ERROR lines counted = written),
every kill paged, restarted and resolved, exactly once each.

  python3 bench/soak.py --vigil build/vigil --source-dir . --seconds 7200 --kill-every 180
  python3 bench/soak.py --vigil build/vigil --source-dir . --seconds 300 --kill-every 45   # the short run

Exit status 0 when every check holds. Figures: docs/performance.md."""
import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import vigiltest as vt  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--vigil", required=True)
p.add_argument("--source-dir", required=True)
p.add_argument("--seconds", type=float, default=7200)
p.add_argument("--kill-every", type=float, default=180)
p.add_argument("--log-rate", type=int, default=1000)
p.add_argument("--csv", help="write the 5 s resource samples here")
a = p.parse_args()

c = vt.Checks()
work = tempfile.mkdtemp(prefix="vigil-soak.")
SERVICES = ["bitcoind", "titan", "validator"]
ports = {s: vt.free_port() for s in SERVICES}
cookie = os.path.join(work, "bitcoin", ".cookie")
os.makedirs(os.path.dirname(cookie))
os.makedirs(os.path.join(work, "logs"))
log_path = os.path.join(work, "logs", "validator.log")
open(log_path, "w").close()
source_dir = os.path.abspath(a.source_dir)
emulators = os.path.join(source_dir, "tests", "emulators")
extra = {"bitcoind": f" --cookie-file {cookie}", "titan": "", "validator": ""}
units = {f"sk-{s}.service": f"[Service]\nExecStart={sys.executable} {emulators}/{s}.py --port {ports[s]}{extra[s]}\n"
                            "Restart=no\n" for s in SERVICES}
# In a cgroup of its own, so the soak runs beside the tests that start their own managers.
sd = vt.user_systemd_or_skip(units, work, own_cgroup=True)
hooks = vt.Emulator(a.source_dir, "webhooks")

rules = os.path.join(work, "soak-rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: soak
    rules:
      - alert: SoakServiceDown
        expr: vigil_service_up == 0
        labels: {severity: critical}
""")
FAST = "backoff: 1s, max_backoff: 4s, verify_timeout: 15s, stable_for: 2s, unhealthy_for: 5s, max_attempts: 10, window: 5m"
CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{interval: 1s}}
systemd: {{bus: user}}
services:
  bitcoind:
    unit: sk-bitcoind.service
    bitcoind: {{url: 'http://127.0.0.1:{ports["bitcoind"]}/', cookie_file: '{cookie}'}}
    data_dirs: ['{os.path.dirname(cookie)}']
    recovery: {{restart: {{{FAST}}}}}
  titan:
    unit: sk-titan.service
    depends_on: [bitcoind]
    titan: {{url: 'http://127.0.0.1:{ports["titan"]}'}}
    recovery: {{restart: {{{FAST}}}}}
  validator:
    unit: sk-validator.service
    depends_on: [titan]
    validator: {{url: 'http://127.0.0.1:{ports["validator"]}/'}}
    probes:
      - {{name: rpc, type: jsonrpc, url: 'http://127.0.0.1:{ports["validator"]}/', method: is_node_ready,
          extract: {{ready: ''}}, interval: 1s}}
    logs:
      - path: '{log_path}'
        counters:
          - {{name: errors, match: 'ERROR'}}
          - {{name: warnings, match: 'WARN'}}
        gauges:
          - {{name: slot, match: 'Processing slot (\\d+)'}}
    recovery: {{restart: {{{FAST}}}}}
rule_files: ['{source_dir}/deploy/rules/*.yml', '{rules}']
recovery: {{mode: enforce}}
alerting:
  route:
    receiver: hooks
    group_by: [alertname, service]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 24h
  receivers:
    - name: hooks
      webhook_configs: [{{url: '{hooks.url}/alertmanager'}}]
"""

stop = threading.Event()
errors_written = [0]


def write_log():
    """--log-rate lines/s in 10 writes a second, each flushed (as a logger does)."""
    slot, per_tick = 0, max(1, a.log_rate // 10)
    with open(log_path, "a") as f:
        next_tick = time.monotonic()
        while not stop.is_set():
            lines = []
            for _ in range(per_tick):
                slot += 1
                if slot % 100 == 0:
                    lines.append(f"2026-12-07T00:00:00Z ERROR slot {slot} failed to verify\n")
                    errors_written[0] += 1
                elif slot % 50 == 0:
                    lines.append(f"2026-12-07T00:00:00Z WARN slow block at slot {slot}\n")
                else:
                    lines.append(f"2026-12-07T00:00:00Z INFO Processing slot {slot}\n")
            f.write("".join(lines))
            f.flush()
            next_tick += 0.1
            stop.wait(max(0.0, next_tick - time.monotonic()))


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024, "threads": int(status["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")), "cpu_s": cpu}


def invocation(unit):
    """The unit's InvocationID while it is active: a new one means it was started again."""
    out = sd.systemctl("show", unit, "-p", "ActiveState", "-p", "InvocationID")
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return props.get("InvocationID") if props.get("ActiveState") == "active" else None


def alerts(service, status):
    return vt.webhook_alerts(hooks.url, "SoakServiceDown", service, status)


v = None
logger = threading.Thread(target=write_log, daemon=True)
samples, kills = [], []
with vt.running(lambda: v, lambda: stop.set(), lambda: hooks.stop(), lambda: sd.cleanup(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    sd.systemctl("start", *units)
    vt.wait_until(lambda: os.path.exists(cookie), timeout=10, what="bitcoind's cookie")
    logger.start()
    v = vt.Vigil(a.vigil, CONFIG, data_dir=os.path.join(work, "data"))
    v.wait_ready(timeout=30)
    vt.wait_until(lambda: all(f'vigil_service_up{{service="{s}"}} 1' in v.metrics() for s in SERVICES),
                  timeout=30, what="the three services up")
    start = time.time()
    next_kill = start + a.kill_every
    next_sample = start
    while time.time() - start < a.seconds:
        now = time.time()
        if now >= next_sample:
            samples.append({"t": round(now - start, 1), **proc_stats(v.proc.pid)})
            next_sample += 5
        if now >= next_kill and now - start < a.seconds - 40:  # room to see the last one healed
            service = SERVICES[len(kills) % len(SERVICES)]
            unit = f"sk-{service}.service"
            before = invocation(unit)
            paged_before, resolved_before = len(alerts(service, "firing")), len(alerts(service, "resolved"))
            sd.systemctl("kill", "-s", "KILL", unit)
            t_kill = time.time()
            kill = {"service": service, "paged_s": None, "restarted_s": None, "resolved_s": None}
            kill["at"] = time.strftime("%H:%M:%S", time.gmtime(t_kill)) + f".{int(t_kill * 1000) % 1000:03d}Z"
            kills.append(kill)
            deadline = t_kill + 60
            seen = {"paged_s": lambda: len(alerts(service, "firing")) > paged_before,
                    "restarted_s": lambda: invocation(unit) not in (None, before),
                    "resolved_s": lambda: len(alerts(service, "resolved")) > resolved_before}
            while time.time() < deadline and None in kill.values():
                for key, happened in seen.items():
                    if kill[key] is None and happened():
                        kill[key] = round(time.time() - t_kill, 3)  # when seen: within one check of it
                time.sleep(0.05)
            print(f"kill {len(kills)} of {service} at +{t_kill - start:.0f} s: paged {kill['paged_s']} s, "
                  f"restarted {kill['restarted_s']} s, resolved {kill['resolved_s']} s", flush=True)
            next_kill += a.kill_every
        time.sleep(0.2)
    end = time.time()
    stop.set()
    logger.join(timeout=5)
    time.sleep(3)  # the last log lines and samples are in

    # --- Resources flat after warm-up ---
    warm = min(120.0, a.seconds / 5)
    after = [s for s in samples if s["t"] >= warm]
    half = len(after) // 2
    first, last = after[:half], after[half:]
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(samples[0]))
            w.writeheader()
            w.writerows(samples)
    cpu = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / max(1e-9, samples[-1]["t"] - samples[0]["t"]) * 100
    print(f"run: {end - start:.0f} s, {len(kills)} kills, {errors_written[0]} ERROR lines of "
          f"{a.log_rate} lines/s, vigil CPU {cpu:.1f} % of a core")
    for key, slack, unit in (("rss_mib", None, "MiB"), ("fds", 2, ""), ("threads", 2, "")):
        peak_first, peak_last = max(s[key] for s in first), max(s[key] for s in last)
        allowed = peak_first + (slack if slack is not None else max(2.0, 0.05 * peak_first))
        print(f"{key}: warm-up end {after[0][key]}, first half peak {peak_first:.1f}, last half peak "
              f"{peak_last:.1f} {unit}")
        c.check(f"{key} flat after warm-up: last half's peak {peak_last:.1f} within {allowed:.1f} (first half's "
                f"{peak_first:.1f} plus slack)", peak_last <= allowed)

    # --- Nothing lost ---
    span = int(end - start) - 5
    q = vt.api(v.url, "/api/v1/query", query=f"count_over_time(node_load1[{span}s])", time=f"{end - 3:.3f}")
    stored = float(q["result"][0]["value"][1]) if q["result"] else 0
    c.check(f"no lost samples: node_load1 has {stored:.0f} samples at 1 s over {span} s", stored >= span - 1,
            str(stored))
    q = vt.api(v.url, "/api/v1/query", query='vigil_log_matches_total{rule="errors"}')
    counted = sum(float(r["value"][1]) for r in q["result"])
    c.check(f"no lost log lines: {counted:.0f} ERROR lines counted of {errors_written[0]} written",
            counted == errors_written[0], json.dumps(q["result"])[:300])

    # --- Every kill detected, healed and resolved, once ---
    planned = max(0, int((a.seconds - 40) // a.kill_every))
    c.check(f"{len(kills)} kills made of {planned} planned", len(kills) == planned and planned > 0)
    missed = [k for k in kills if None in k.values()]
    c.check("every kill paged, restarted by vigil and resolved within 60 s", not missed, str(missed))
    for key in ("paged_s", "restarted_s", "resolved_s"):
        got = sorted(k[key] for k in kills if k[key] is not None)
        if got:
            print(f"{key}: median {got[len(got) // 2]:.2f} s, worst {got[-1]:.2f} s")
    for s in SERVICES:
        n = sum(1 for k in kills if k["service"] == s)
        firing, resolved = alerts(s, "firing"), alerts(s, "resolved")
        episodes = "; ".join(f'{al["status"]} {al["startsAt"]} .. {al["endsAt"]}' for al in firing + resolved)
        c.check(f"{s}: {n} kills, {len(firing)} pages, {len(resolved)} resolves (one each)",
                len(firing) == n and len(resolved) == n, f"kills at {[k['at'] for k in kills if k['service'] == s]}: "
                f"{episodes}")
    v.cleanup()
c.finish()
