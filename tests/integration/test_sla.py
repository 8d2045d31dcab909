"""Uptime and SLA from exact state-change times, against a real, private
`systemd --user`: a unit killed (Restart=no, so it stays down) and started
again on the test's schedule, whose availability over a window must equal the
test's own stopwatch to within 0.1% of the window; a unit killed inside a
maintenance window and one stopped cleanly, both counted as planned; vigil's
own downtime counted as unknown; /metrics, GET /api/v1/sla and `vigil sla`."""
import datetime
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-sla.")
# Its own name, so no other test counting sleepers sees these.
sleeper = os.path.join(work, "vt-sla-sleeper")
shutil.copy("/bin/sleep", sleeper)
UNITS = {f"vt-sla-{name}.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n"
         for name in ("app", "maint", "stopped")}
sd = vt.user_systemd_or_skip(UNITS, work)
systemctl = sd.systemctl


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds")


def sla(v, **params):
    """GET /api/v1/sla's data, by service."""
    body = json.loads(vt.get(v.url + "/api/v1/sla?" + "&".join(f"{k}={val}" for k, val in params.items()))[2])
    assert body["status"] == "success", body
    return {s["service"]: s for s in body["data"]}


def window(service_report, name):
    return next(w for w in service_report["windows"] if w["window"] == name)


def timed(*args):
    """Runs systemctl; returns the times before and after the call: the change happened in between."""
    t0 = time.time()
    systemctl(*args)
    return t0, time.time()


def mid(call):
    return (call[0] + call[1]) / 2


def within(measured, down_call, up_call, slack):
    """Whether `measured` downtime fits the shortest and longest the two calls allow, give or take `slack`."""
    return up_call[0] - down_call[1] - slack <= measured <= up_call[1] - down_call[0] + slack


v = None
with vt.running(lambda: v, lambda: sd.cleanup(), lambda: shutil.rmtree(work, ignore_errors=True)):
    systemctl("start", *UNITS)
    start = time.time()
    CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
services:
  app:
    unit: vt-sla-app.service
    slo: {{objective: 99%, window: 1h}}
  maint:
    unit: vt-sla-maint.service
    maintenance_windows: [{{name: test, start: '{rfc3339(start)}', end: '{rfc3339(start + 120)}'}}]
  stopped: {{unit: vt-sla-stopped.service}}
"""
    data_dir = os.path.join(work, "data")
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    vt.wait_until(lambda: all(s["state"] == "up" for s in sla(v).values()) and len(sla(v)) == 3, timeout=10,
                  interval=0.05, what="every service recorded up")

    # The window the stopwatch covers; the services are up from its start.
    w_from = time.time()
    time.sleep(1.0)
    app_pid = int(systemctl("show", "vt-sla-app.service", "-p", "MainPID", "--value"))
    killed_at = time.time()
    os.kill(app_pid, signal.SIGKILL)
    maint_kill_call = timed("kill", "-s", "KILL", "vt-sla-maint.service")
    stop_call = timed("stop", "vt-sla-stopped.service")
    vt.wait_until(lambda: systemctl("show", "vt-sla-app.service", "-p", "ActiveState", "--value") == "failed",
                  timeout=5, what="vt-sla-app failed")
    vt.wait_until(lambda: sla(v)["app"]["state"] == "down" and sla(v)["maint"]["state"] == "down"
                  and sla(v)["stopped"]["state"] == "planned_down", timeout=5, what="vigil recording the outages")
    time.sleep(3.0)
    start_call = timed("start", "vt-sla-app.service")
    maint_start_call = timed("start", "vt-sla-maint.service")
    stopped_start_call = timed("start", "vt-sla-stopped.service")
    vt.wait_until(lambda: all(s["state"] == "up" for s in sla(v).values()), timeout=5, what="all up again")
    # A window long enough that 0.1% of it (60 ms) is more than the scheduling noise of a loaded machine:
    # the stopwatch takes the middle of `systemctl start`, which took 91 ms on a loaded CI machine.
    time.sleep(max(0.0, w_from + 60.0 - time.time()))
    w_to = time.time()

    w = w_to - w_from
    # From the SIGKILL the test sent to the middle of `systemctl start` (the unit turns active inside the call).
    stopwatch_down = mid(start_call) - killed_at
    app = sla(v, **{"from": f"{w_from:.3f}", "to": f"{w_to:.3f}"})["app"]
    rng = window(app, "range")
    vigil_down = rng["unplanned_downtime_seconds"]
    stopwatch_avail = 1 - stopwatch_down / w
    print(f"window {w:.3f}s; stopwatch: down {stopwatch_down:.4f}s (start call {(start_call[1] - start_call[0]) * 1000:.1f} ms), availability {stopwatch_avail:.6f}; vigil: down {vigil_down:.4f}s, "
          f"availability {rng['availability']:.6f}; difference {abs(vigil_down - stopwatch_down) * 1000:.1f} ms "
          f"= {abs(vigil_down - stopwatch_down) / w * 100:.4f}% of the window (limit 0.1%)")
    c.check("availability equals the stopwatch within 0.1% of the window",
            abs(rng["availability"] - stopwatch_avail) <= 0.001, f"{rng['availability']} vs {stopwatch_avail}")
    c.check("the whole window is known, nothing planned", rng["unknown_seconds"] == 0
            and rng["planned_downtime_seconds"] == 0, rng)
    c.check("up + down = the window", abs(rng["up_seconds"] + vigil_down - w) < 0.002, rng)

    maint = window(sla(v, **{"from": f"{w_from:.3f}", "to": f"{w_to:.3f}"})["maint"], "range")
    stopped = window(sla(v, **{"from": f"{w_from:.3f}", "to": f"{w_to:.3f}"})["stopped"], "range")
    print(f"maint: planned {maint['planned_downtime_seconds']:.3f}s, stopwatch "
          f"{mid(maint_start_call) - mid(maint_kill_call):.3f}s; stopped: planned "
          f"{stopped['planned_downtime_seconds']:.3f}s, stopwatch {mid(stopped_start_call) - mid(stop_call):.3f}s")
    c.check("a kill inside a maintenance window is planned",
            maint["unplanned_downtime_seconds"] == 0
            and within(maint["planned_downtime_seconds"], maint_kill_call, maint_start_call, 0.001 * w), maint)
    c.check("a clean `systemctl stop` is planned",
            stopped["unplanned_downtime_seconds"] == 0
            and within(stopped["planned_downtime_seconds"], stop_call, stopped_start_call, 0.001 * w), stopped)
    c.check("planned downtime does not lower availability", maint["availability"] == 1
            and stopped["availability"] == 1, (maint, stopped))

    f = vt.parse_exposition(v.metrics())

    def sample(metric, **labels):
        for ls, value in f.get(metric, {"samples": {}})["samples"].items():
            if all(dict(ls).get(k) == val for k, val in labels.items()):
                return value
        return None

    c.check("vigil_service_downtime_seconds by kind on /metrics",
            abs(sample("vigil_service_downtime_seconds", service="app", window="24h", kind="unplanned")
                - vigil_down) < 0.001
            and sample("vigil_service_downtime_seconds", service="stopped", window="24h", kind="planned") > 0
            and sample("vigil_service_downtime_seconds", service="stopped", window="24h", kind="unplanned") == 0)
    ratio = sample("vigil_service_availability_ratio", service="app", window="7d")
    c.check("vigil_service_availability_ratio below 1 after the kill", ratio is not None and ratio < 1, ratio)
    budget = sample("vigil_slo_error_budget_remaining_ratio", service="app")
    burn = sample("vigil_slo_burn_rate", service="app", window="1h")
    c.check("SLO error budget and burn rate for the service with an objective",
            budget is not None and budget < 1 and burn is not None and burn > 1
            and sample("vigil_slo_objective_ratio", service="app") == 0.99, (budget, burn))
    c.check("no SLO metrics for a service without one", sample("vigil_slo_burn_rate", service="stopped") is None)

    # vigil's own downtime: stopped for a measured time, then started on the same data dir.
    v.stop()
    gone_at = time.time()
    time.sleep(1.5)
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    # Generous: on a loaded machine the restarted vigil takes a while to read the units again.
    vt.wait_until(lambda: sla(v)["app"]["state"] == "up", timeout=30, what="app up after vigil's restart")
    back_at = time.time()
    since = window(sla(v, **{"from": f"{w_from:.3f}", "to": f"{back_at:.3f}"})["app"], "range")
    print(f"vigil stopped for {back_at - gone_at:.3f}s (until the restarted vigil saw app up); "
          f"unknown: {since['unknown_seconds']:.3f}s")
    c.check("vigil's own downtime is unknown, not down",
            1.5 <= since["unknown_seconds"] <= back_at - gone_at + 0.5
            and abs(since["unplanned_downtime_seconds"] - vigil_down) < 0.001, since)
    c.check("no service is down after vigil's restart", all(
        window(s, "range")["unplanned_downtime_seconds"] == (vigil_down if name == "app" else 0)
        for name, s in sla(v, **{"from": f"{w_from:.3f}"}).items()),
            {name: window(s, "range") for name, s in sla(v, **{"from": f"{w_from:.3f}"}).items()})

    # The API refuses bad parameters by name.
    for query, want in (("month=2026-13", "month"), ("from=yesterday", "from"), ("from=10&to=5", "to"),
                        ("service=nope", "nope")):
        try:
            vt.get(v.url + "/api/v1/sla?" + query)
            c.check(f"API refuses {query}", False, "answered 200")
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode())
            c.check(f"API refuses {query} naming {want}", e.code in (400, 404) and want in body["error"], body)

    # `vigil sla` reads state.db beside the running vigil.
    cli = [a.vigil, "sla", "--config", v.config, "--data-dir", data_dir]
    r = subprocess.run(cli + ["--json", "--service", "app"], capture_output=True, text=True, timeout=20)
    out = json.loads(r.stdout) if r.returncode == 0 else None
    c.check("`vigil sla --json --service app` prints the API's data",
            out is not None and len(out) == 1 and out[0]["service"] == "app"
            and abs(window(out[0], "24h")["unplanned_downtime_seconds"] - vigil_down) < 0.001
            and out[0]["slo"]["objective"] == 0.99, r.stdout + r.stderr)
    month = time.strftime("%Y-%m", time.gmtime())
    r = subprocess.run(cli + ["--month", month], capture_output=True, text=True, timeout=20)
    c.check("`vigil sla --month` prints a row per window and the month",
            r.returncode == 0 and "stopped" in r.stdout and month in r.stdout and "99.0000% over 1h" in r.stdout,
            r.stdout + r.stderr)
    print(r.stdout)
    r = subprocess.run(cli + ["--month", "2026-1"], capture_output=True, text=True, timeout=20)
    c.check("`vigil sla --month 2026-1` fails naming the flag", r.returncode == 1 and "--month" in r.stderr
            and "YYYY-MM" in r.stderr, r.stderr)
    r = subprocess.run([a.vigil, "sla", "--data-dir", os.path.join(work, "none")], capture_output=True, text=True,
                       timeout=20)
    c.check("`vigil sla` on a data dir without state.db says so", r.returncode == 1 and "state.db" in r.stderr,
            r.stderr)
c.finish()
