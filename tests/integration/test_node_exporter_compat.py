"""vigil's host metrics against Debian's prometheus-node-exporter on the same
machine at the same moment: same names, types and label sets for every family
the foundation promises; equal filesystem sizes; counters monotonic and
sandwiched between two vigil snapshots taken around node_exporter's read."""
import os
import re
import subprocess
import tempfile
import time

import vigiltest as vt

a = vt.args()
node_exporter = vt.need("prometheus-node-exporter")
c = vt.Checks()

# Debian's node_exporter package ships these defaults (it excludes /run, /mnt,
# /media and lo, unlike upstream); give vigil the same so both see the same set.
DEBIAN_MOUNT_EXCLUDE = r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
CONFIG = f"""host:
  interval: 1s
  filesystems:
    exclude_mountpoints: '{DEBIAN_MOUNT_EXCLUDE}'
  network:
    exclude: '^lo$'
"""

# The families the foundation promises, as regexes over names.
PROMISED = [
    r"node_cpu_seconds_total", r"node_load(1|5|15)", r"node_memory_.+",
    r"node_filesystem_(size|free|avail)_bytes", r"node_filesystem_files(_free)?", r"node_filesystem_readonly",
    r"node_disk_(reads|writes)_completed_total", r"node_disk_(read|written)_bytes_total",
    r"node_disk_io_time_seconds_total", r"node_disk_io_now", r"node_disk_.+_total",
    r"node_network_(receive|transmit)_(bytes|packets|errs|drop)_total",
    r"node_filefd_(allocated|maximum)", r"node_boot_time_seconds", r"node_time_seconds", r"node_uname_info",
    r"node_pressure_.+", r"node_sockstat_.+", r"node_netstat_Tcp_.+",
]
promised = re.compile("^(" + "|".join(PROMISED) + ")$")

port = vt.free_port()
tmp = tempfile.mkdtemp(prefix="vigil-ne.")
ne_log = open(os.path.join(tmp, "node_exporter.log"), "w")
ne = subprocess.Popen([node_exporter, f"--web.listen-address=127.0.0.1:{port}"], stdout=ne_log,
                      stderr=subprocess.STDOUT)
v = vt.Vigil(a.vigil, CONFIG)
try:
    v.wait_ready()
    ne_url = f"http://127.0.0.1:{port}/metrics"
    vt.wait_until(lambda: vt.get(ne_url)[0] == 200, timeout=15, what="node_exporter up")

    before = vt.parse_exposition(v.metrics())
    ne_text = vt.get(ne_url)[2]
    theirs = vt.parse_exposition(ne_text)
    time.sleep(2.5)  # vigil serves a snapshot at most one interval (1 s) old; wait well past it
    after = vt.parse_exposition(v.metrics())

    names = sorted(n for n in theirs if promised.match(n))
    c.check(f"node_exporter exposes {len(names)} of the promised families here", len(names) > 80)
    missing = [n for n in names if n not in after]
    c.check("every promised family node_exporter exposes is in vigil", not missing, missing)
    wrong_type = [(n, theirs[n]["type"], after[n]["type"]) for n in names
                  if n in after and theirs[n]["type"] != after[n]["type"]]
    c.check("same types", not wrong_type, wrong_type)

    volatile = {"node_time_seconds"}
    label_diff = []
    for n in names:
        if n not in after:
            continue
        if set(theirs[n]["samples"]) != set(after[n]["samples"]):
            label_diff.append((n, set(theirs[n]["samples"]) ^ set(after[n]["samples"])))
    c.check("same label sets for every promised family", not label_diff, label_diff[:5])

    # Filesystem sizes equal (they do not move); free space close.
    for fam in ("node_filesystem_size_bytes", "node_filesystem_files"):
        diff = {k: (v_, after[fam]["samples"].get(k)) for k, v_ in theirs[fam]["samples"].items()
                if after[fam]["samples"].get(k) != v_}
        c.check(f"{fam} equal", not diff, diff)
    for k, val in theirs["node_filesystem_avail_bytes"]["samples"].items():
        mine = after["node_filesystem_avail_bytes"]["samples"].get(k)
        c.check(f"avail bytes close on {dict(k).get('mountpoint')}",
                mine is not None and abs(mine - val) <= max(64 << 20, 0.01 * val), (val, mine))
    c.check("MemTotal equal", theirs["node_memory_MemTotal_bytes"]["samples"] ==
            after["node_memory_MemTotal_bytes"]["samples"])
    c.check("boot time equal", theirs["node_boot_time_seconds"]["samples"] ==
            after["node_boot_time_seconds"]["samples"])
    c.check("uname equal", theirs["node_uname_info"]["samples"] == after["node_uname_info"]["samples"])

    # Counters: vigil's earlier snapshot <= node_exporter's read <= vigil's later snapshot.
    bad = []
    checked = 0
    for n in names:
        if theirs[n]["type"] != "counter" or n in volatile:
            continue
        for k, val in theirs[n]["samples"].items():
            lo, hi = before.get(n, {}).get("samples", {}).get(k), after[n]["samples"].get(k)
            if lo is None or hi is None:
                continue
            checked += 1
            eps = 1e-9 * max(1.0, abs(val))
            if not (lo - eps <= val <= hi + eps) or lo > hi:
                bad.append((n, dict(k), lo, val, hi))
    c.check(f"{checked} counters monotonic and sandwiched around node_exporter's value", checked > 50 and not bad,
            bad[:5])
finally:
    ne.terminate()
    try:
        ne.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ne.kill()
    v.cleanup()

c.finish()
