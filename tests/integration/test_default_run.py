#!/usr/bin/env python3
"""A first run shows something: `vigil run` with no --config, started from a
directory holding no rule file, prints where its web UI is, loads the host
rule pack embedded in the binary, and its Watchdog alert fires.

  test_default_run.py --vigil PATH --source-dir DIR
"""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import vigiltest  # noqa: E402

a = vigiltest.args()
c = vigiltest.Checks()
binary = os.path.abspath(a.vigil)
empty_dir = tempfile.mkdtemp(prefix="vigil-cwd.")  # nothing to find: the pack must come from the binary
v = None


def api(path):
    body = json.loads(vigiltest.get(v.url + path)[2])
    assert body["status"] == "success", body
    return body["data"]


with vigiltest.running(lambda: v, lambda: os.rmdir(empty_dir)):
    v = vigiltest.Vigil(binary, cwd=empty_dir)
    v.wait_ready(timeout=30)

    line = vigiltest.wait_until(lambda: re.search(r"^vigil listening on (\S+) \(web UI\)$", v.logs(), re.M),
                                timeout=10, what="the address line on stderr")
    c.check("prints `vigil listening on http://127.0.0.1:PORT/ (web UI)`", line.group(1) == v.url + "/",
            f"got {line.group(0)!r}, want the URL {v.url}/")
    status, _, _ = vigiltest.get(line.group(1))
    c.check("the printed address answers", status == 200, f"HTTP {status}")

    groups = api("/api/v1/rules")["groups"]
    by_name = {g["name"]: g for g in groups}
    c.check("/api/v1/rules lists the embedded host pack's groups",
            {"host-disk", "host-saturation", "heartbeat"} <= set(by_name),
            f"got {sorted(by_name)}")
    c.check("each group comes from builtin:host", all(g["file"] == "builtin:host" for g in groups),
            f"files {sorted({g['file'] for g in groups})}")
    alerts = {r["name"] for g in groups for r in g["rules"]}
    want = {"DiskAlmostFull", "DiskWillFillIn24h", "MemoryLow", "CpuSaturated", "LoadHigh", "Watchdog"}
    c.check("the pack holds the disk, memory, CPU, load and Watchdog alerts", want <= alerts,
            f"missing {sorted(want - alerts)}")

    # The heartbeat group runs every evaluation_interval (15s by default).
    firing = vigiltest.wait_until(
        lambda: [x for x in api("/api/v1/alerts")["alerts"]
                 if x["labels"].get("alertname") == "Watchdog" and x["state"] == "firing"],
        timeout=40, interval=0.5, what="Watchdog firing in /api/v1/alerts")
    c.check("Watchdog fires with severity low", firing[0]["labels"].get("severity") == "low", f"{firing[0]}")

    # The host rules evaluate without failing against the real host's metrics.
    failures = [(r["name"], r.get("lastError")) for g in api("/api/v1/rules")["groups"] for r in g["rules"]
                if r.get("health") == "err"]
    c.check("no rule of the pack reports an evaluation error", not failures, f"{failures}")

c.finish()
