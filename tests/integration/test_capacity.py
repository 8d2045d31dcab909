"""Capacity forecasts end to end (docs/capacity.md): 30 days of a chain disk
that grows 4 GiB/day with a 150 GiB cleanup 2 days ago, a flat disk,
bitcoind's data directory on the chain disk and a service climbing toward
its MemoryMax, backfilled with `vigil tsdb import`; the running agent
forecasts them from its store: `vigil capacity` in words and its exit
status, `--json`, GET /api/v1/capacity (405 on POST) and the stored
vigil_capacity_days_to_full. The agent also measures a real data directory
(services.*.data_dirs), which must equal GNU du's count of it."""
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
        # bitcoind's data: 500 GiB growing 3 GiB/day on /mnt/chain (the cleanup was of other files).
        dir_labels = 'service="bitcoind",path="/mnt/chain/bitcoin",mountpoint="/mnt/chain"'
        for name in ("vigil_service_data_dir_bytes", "vigil_service_data_dir_filesystem_avail_bytes"):
            f.write(f"# TYPE {name} gauge\n")
            for h in range(30 * 24 + 1):
                d = h / 24
                t = now - 30 * 86400 + h * 3600 - 120
                disk_used = 800 + 4 * d - (150 if d >= 28 else 0)
                value = 500 + 3 * d if name == "vigil_service_data_dir_bytes" else 1000 - disk_used
                f.write(f"{name}{{{dir_labels}}} {value * GiB:.0f} {t}\n")
        # titan climbs 0.05 GiB/day from 1 GiB under a MemoryMax of 4 GiB: 30 days left.
        for name in ("vigil_systemd_unit_memory_bytes", "vigil_systemd_unit_memory_max_bytes"):
            f.write(f"# TYPE {name} gauge\n")
            for h in range(30 * 24 + 1):
                t = now - 30 * 86400 + h * 3600 - 120
                value = 1 + 0.05 * h / 24 if name == "vigil_systemd_unit_memory_bytes" else 4
                f.write(f'{name}{{name="titan.service",service="titan"}} {value * GiB:.0f} {t}\n')
        f.write("# EOF\n")
    r = subprocess.run([a.vigil, "tsdb", "import", "--data-dir", data, om], capture_output=True, text=True,
                       timeout=120)
    c.check("history imported", r.returncode == 0, r.stderr[-500:])

    # A real data directory: files, a hard link, a sparse file and a symlink out of it.
    chain_dir = os.path.join(tmp, "chain")
    os.makedirs(os.path.join(chain_dir, "blocks"))
    for i in range(3):
        with open(os.path.join(chain_dir, "blocks", f"blk{i:05}.dat"), "wb") as f:
            f.write(os.urandom(1 << 20))
    os.link(os.path.join(chain_dir, "blocks", "blk00000.dat"), os.path.join(chain_dir, "hardlink"))
    with open(os.path.join(chain_dir, "sparse"), "wb") as f:
        f.truncate(1 << 30)
    os.symlink(data, os.path.join(chain_dir, "elsewhere"))

    v = vt.Vigil(a.vigil, f"""global:
  scrape_interval: 5s
services:
  chain: {{data_dirs: [{{path: '{chain_dir}', interval: 1s}}]}}
""", data_dir=data)
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
        # 590 GiB of data with 380 GiB of room left (230 free): 3 GiB/day fills it in 76.7 days.
        data_line = [l for l in lines if l.startswith("bitcoind's data `/mnt/chain/bitcoin`")]
        c.check("the chain data by name, against its filesystem's room", len(data_line) == 1 and
                "grows 3.0 GiB/day and fills the 230.0 GiB left on `/mnt/chain` in 77 days (" in data_line[0],
                r.stdout)
        titan = [l for l in lines if l.startswith("titan uses")]
        c.check("a service's memory against its MemoryMax", len(titan) == 1 and titan[0].startswith(
            "titan uses 2.5 GiB of 4.0 (MemoryMax): headroom 38%; climbing 51 MiB/day (suspected leak), reaches it "
            "in 30 days"), r.stdout)

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

        def measured():
            res = vt.api(v.url, "/api/v1/query", query=f'vigil_service_data_dir_bytes{{path="{chain_dir}"}}')["result"]
            return res and res[0]

        m = vt.wait_until(measured, timeout=30, what="vigil_service_data_dir_bytes stored")
        du = subprocess.run(["du", "-s", "-B1", "-x", chain_dir], capture_output=True, text=True, timeout=30)
        du_bytes = int(du.stdout.split()[0])
        c.check(f"the data directory's size equals du -s -B1 -x ({du_bytes} bytes)",
                float(m["value"][1]) == du_bytes, (m, du.stdout))
        c.check("labelled with the service and its mountpoint",
                m["metric"].get("service") == "chain" and chain_dir.startswith(m["metric"].get("mountpoint", "?")), m)
        res = vt.api(v.url, "/api/v1/query", query=f'vigil_service_data_dir_files{{path="{chain_dir}"}}')["result"]
        c.check("files counted once per inode", res and float(res[0]["value"][1]) == 4, res)

c.finish()
