"""Capacity forecasts end to end (docs/capacity.md): 30 days of a chain disk
that grows 4 GiB/day with a 150 GiB cleanup 2 days ago, and a flat disk,
backfilled with `vigil tsdb import`; the running agent forecasts them from
its store: `vigil capacity` in words and its exit status, `--json`, GET
/api/v1/capacity (405 on POST) and the stored vigil_capacity_days_to_full."""
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()
GiB = 1024 ** 3
now = int(time.time())

with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    om = os.path.join(tmp, "history.om")
    with open(om, "w") as f:
        for name in ("node_filesystem_size_bytes", "node_filesystem_avail_bytes"):
            f.write(f"# TYPE {name} gauge\n")
            for mount, fill in (("/mnt/chain", lambda d: 800 + 4 * d - (150 if d >= 28 else 0)),
                                ("/mnt/flat", lambda d: 300)):
                for h in range(30 * 24 + 1):
                    d = h / 24
                    t = now - 30 * 86400 + h * 3600 - 120
                    size = 1000 * GiB if mount == "/mnt/chain" else 500 * GiB
                    value = size if name == "node_filesystem_size_bytes" else size - fill(d) * GiB
                    f.write(f'{name}{{device="/dev/test",fstype="ext4",mountpoint="{mount}"}} {value:.0f} {t}\n')
        f.write("# EOF\n")
    r = subprocess.run([a.vigil, "tsdb", "import", "--data-dir", data, om], capture_output=True, text=True,
                       timeout=120)
    c.check("history imported", r.returncode == 0, r.stderr[-500:])

    v = vt.Vigil(a.vigil, "global:\n  scrape_interval: 5s\n", data_dir=data)
    with vt.running(lambda: v):
        v.wait_ready()
        r = subprocess.run([a.vigil, "capacity", "--server", v.url], capture_output=True, text=True, timeout=60)
        lines = r.stdout.splitlines()
        chain = [l for l in lines if l.startswith("`/mnt/chain`")]
        flat = [l for l in lines if l.startswith("`/mnt/flat`")]
        # 650 + 120 = 770 GiB used after the cleanup, 230 GiB left at 4 GiB/day: 57.5 days.
        c.check("the chain disk in words", len(chain) == 1 and chain[0].startswith(
            ("`/mnt/chain` fills in 57 days (", "`/mnt/chain` fills in 58 days (")) and
            "at 4.0 GiB/day: grow it by" in chain[0], r.stdout)
        c.check("the flat disk is not filling", len(flat) == 1 and "is not filling" in flat[0], r.stdout)
        c.check("exit 0: nothing full within 7 days", r.returncode == 0, (r.returncode, r.stderr))

        r = subprocess.run([a.vigil, "capacity", "--server", v.url, "--json"], capture_output=True, text=True,
                           timeout=60)
        res = {x["name"]: x for x in json.loads(r.stdout)["resources"]}
        days = res.get("/mnt/chain", {}).get("daysToFull", {})
        c.check("--json: days to full 57.5", abs((days.get("estimate") or 0) - 57.5) < 0.1, days)
        c.check("--json: the cleanup is one step", res.get("/mnt/chain", {}).get("steps") == 1, res.get("/mnt/chain"))
        c.check("--json: the flat disk never fills", res.get("/mnt/flat", {}).get("daysToFull", {}).get("estimate",
                                                                                                           0) is None,
                res.get("/mnt/flat"))

        req = urllib.request.Request(v.url + "/api/v1/capacity", data=b"", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        c.check("POST /api/v1/capacity is a 405", code == 405, code)

        def stored():
            q = 'vigil_capacity_days_to_full{name="/mnt/chain",bound="estimate"}'
            res = vt.api(v.url, "/api/v1/query", query=q)["result"]
            return res and float(res[0]["value"][1])

        vt.wait_until(stored, timeout=30, what="vigil_capacity_days_to_full stored")
        c.check("the stored metric agrees", abs(stored() - 57.5) < 0.1, stored())

c.finish()
