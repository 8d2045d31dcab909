"""The running agent: /metrics in both formats, health and readiness,
SIGHUP reload (a bad config keeps the old one), graceful shutdown < 2 s."""
import signal
import time
import urllib.error

import vigiltest as vt

a = vt.args()
c = vt.Checks()

CONFIG = "global:\n  scrape_interval: 1s\nhost:\n  interval: 1s\n"
v = vt.Vigil(a.vigil, CONFIG)
try:
    v.wait_ready()
    c.check("/-/healthy", vt.get(v.url + "/-/healthy")[0] == 200)

    status, headers, text = vt.get(v.url + "/metrics")
    c.check("text format content type", headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8",
            headers.get("Content-Type"))
    fams = vt.parse_exposition(text)
    for name in ("node_cpu_seconds_total", "node_load1", "node_memory_MemTotal_bytes", "node_filesystem_size_bytes",
                 "node_network_receive_bytes_total", "process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "vigil_build_info", "vigil_collector_duration_seconds",
                 "vigil_collector_errors_total"):
        c.check(f"/metrics has {name}", name in fams)
    c.check("host collector is up", fams["vigil_collector_up"]["samples"].get(frozenset({("collector", "host")})) == 1)

    _, headers, om = vt.get(v.url + "/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    c.check("OpenMetrics when asked", headers.get("Content-Type", "").startswith("application/openmetrics-text")
            and om.endswith("# EOF\n") and "# TYPE node_cpu_seconds counter" in om)

    try:
        vt.get(v.url + "/nope")
        c.check("unknown path is 404", False, "answered 2xx")
    except urllib.error.HTTPError as e:
        c.check("unknown path is 404", e.code == 404, e.code)
except Exception as e:
    c.check("agent basics", False, repr(e))

try:
    # Counters move between collections at a 1 s interval.
    def cpu_total():
        return sum(vt.parse_exposition(v.metrics())["node_cpu_seconds_total"]["samples"].values())
    first = cpu_total()
    c.check("collections repeat at the configured interval", vt.wait_until(lambda: cpu_total() > first, timeout=5,
                                                                            what="cpu counters to grow"))

    # A bad config on SIGHUP is rejected and the old one keeps running.
    v.write_config("host:\n  interval: 1s\n  typo_key: 1\n")
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "configuration reload failed" in v.logs(), timeout=5, what="reload failure log")
    c.check("bad reload logs file:line and reason", f"{v.config}:3:3: host: unknown key" in v.logs(), v.logs())
    fams = vt.parse_exposition(v.metrics())
    c.check("bad reload reported as a metric",
            fams["vigil_config_last_reload_successful"]["samples"][frozenset()] == 0)
    c.check("still serving after a bad reload", v.proc.poll() is None and "node_load1" in fams)

    # A good config on SIGHUP takes effect.
    v.write_config("host:\n  interval: 2s\n")
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "configuration reloaded" in v.logs(), timeout=5, what="reload log")
    def interval():
        f = vt.parse_exposition(v.metrics())
        return f["vigil_collector_interval_seconds"]["samples"].get(frozenset({("collector", "host")}))
    c.check("good reload applies the new interval", vt.wait_until(lambda: interval() == 2, timeout=5,
                                                                    what="interval 2s"))
    c.check("good reload reported as a metric",
            vt.parse_exposition(v.metrics())["vigil_config_last_reload_successful"]["samples"][frozenset()] == 1)

    # Graceful shutdown within 2 s, for SIGTERM and SIGINT.
    t0 = time.monotonic()
    rc = v.stop(signal.SIGTERM, timeout=5)
    took = time.monotonic() - t0
    c.check(f"SIGTERM exits 0 within 2 s (took {took:.3f}s)", rc == 0 and took < 2, f"rc={rc}")
    c.check("shutdown is logged", "shutdown complete" in v.logs())
finally:
    v.cleanup()

v2 = vt.Vigil(a.vigil)  # no --config: the built-in defaults
try:
    v2.wait_ready()
    c.check("runs on built-in defaults without a config file", "node_load1" in v2.metrics())
    t0 = time.monotonic()
    rc = v2.stop(signal.SIGINT, timeout=5)
    took = time.monotonic() - t0
    c.check(f"SIGINT exits 0 within 2 s (took {took:.3f}s)", rc == 0 and took < 2, f"rc={rc}")
finally:
    v2.cleanup()

c.finish()
