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
    # issue 19: node_exporter's other default collectors public dashboards and alert packs use
    r"node_timex_.+", r"node_vmstat_.+", r"node_network_receive_nohandler_total",
    r"node_network_(up|info|speed_bytes|carrier|carrier_(up_|down_)?changes_total|address_assign_type|device_id|"
    r"dormant|flags|iface_id|iface_link|iface_link_mode|mtu_bytes|name_assign_type|net_dev_group|"
    r"transmit_queue_length|protocol_type)",
    r"node_softnet_.+", r"node_udp_queues", r"node_entropy_.+", r"node_nf_conntrack_.+", r"node_arp_entries",
    r"node_textfile_scrape_error", r"process_virtual_memory_max_bytes",
]
# node_exporter runs more collectors (hardware, bcache, xfs, …): vigil's set is a subset, with the same names.
SELF_REPORT = ["node_scrape_collector_duration_seconds", "node_scrape_collector_success"]
NEW_FAMILIES = re.compile(r"^(node_timex_|node_vmstat_|node_network_|node_softnet_|node_udp_|node_entropy_|"
                          r"node_nf_conntrack_|node_arp_|node_textfile_|process_virtual_memory_max)")
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

    # The families of issue 19, each on its own line so a gap names itself.
    new = [n for n in names if NEW_FAMILIES.match(n)]
    for prefix in ("node_timex_", "node_vmstat_", "node_network_speed_bytes", "node_network_carrier",
                   "node_network_receive_nohandler_total", "node_softnet_", "node_udp_queues", "node_entropy_",
                   "node_nf_conntrack_", "node_arp_entries", "node_textfile_scrape_error",
                   "process_virtual_memory_max_bytes"):
        fams = [n for n in new if n.startswith(prefix)]
        c.check(f"{prefix}*: {len(fams)} families, same names, types and label sets",
                fams and all(n in after and after[n]["type"] == theirs[n]["type"] and
                             set(after[n]["samples"]) == set(theirs[n]["samples"]) for n in fams),
                [(n, theirs[n]["type"], after.get(n, {}).get("type")) for n in fams])
    # Values: vmstat (untyped, growing) sandwiched like counters; settled values equal; the rest close.
    moving = {"node_timex_offset_seconds", "node_timex_frequency_adjustment_ratio", "node_timex_maxerror_seconds",
              "node_timex_estimated_error_seconds", "node_nf_conntrack_entries", "node_udp_queues",
              "node_entropy_available_bits", "node_arp_entries"}
    wrong = []
    for n in new:
        for k, val in theirs[n]["samples"].items():
            lo, hi = before.get(n, {}).get("samples", {}).get(k), after.get(n, {}).get("samples", {}).get(k)
            if hi is None:
                wrong.append((n, dict(k), val, None))
            elif theirs[n]["type"] == "counter" or n.startswith("node_vmstat_"):
                if lo is not None and not (lo - 1e-9 <= val <= hi + 1e-9):
                    wrong.append((n, dict(k), lo, val, hi))
            elif n in moving:
                if abs(hi - val) > max(1.0, 0.05 * abs(val)):
                    wrong.append((n, dict(k), val, hi))
            elif hi != val and not (lo is not None and min(lo, hi) <= val <= max(lo, hi)):
                wrong.append((n, dict(k), val, hi))
    c.check(f"values of the {len(new)} new families equal, sandwiched or close", not wrong, wrong[:8])
    for fam in SELF_REPORT:
        mine = {dict(k)["collector"] for k in after.get(fam, {}).get("samples", {})}
        ne_parts = {dict(k)["collector"] for k in theirs.get(fam, {}).get("samples", {})}
        c.check(f"{fam}: vigil's {len(mine)} parts carry node_exporter's collector names, same type",
                mine and mine <= ne_parts and after[fam]["type"] == theirs[fam]["type"], sorted(mine - ne_parts))
    def parts(fam_samples, only_ok=False):
        return {dict(k)["collector"] for k, val in fam_samples.items() if val == 1 or not only_ok}
    ne_ok = parts(theirs["node_scrape_collector_success"]["samples"], only_ok=True)
    vigil_all = parts(after["node_scrape_collector_success"]["samples"])
    vigil_ok = parts(after["node_scrape_collector_success"]["samples"], only_ok=True)
    failing = sorted((vigil_all & ne_ok) - vigil_ok)
    c.check("every part that succeeds in node_exporter succeeds in vigil", not failing, failing)
finally:
    ne.terminate()
    try:
        ne.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ne.kill()
    v.cleanup()

c.finish()
