"""`vigil drill fill-disk` on a small tmpfs the test mounts: the drill fills a
directory under a cleanup root until free space is below the policy's
threshold, vigil's cleanup removes the old filler (and only old, matching
files), and the drill measures the cleanup's start and the space coming back."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
work = tempfile.mkdtemp(prefix="vigil-fill.")
mnt = os.path.join(work, "mnt")
os.makedirs(mnt)
if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt]).returncode != 0:
    shutil.rmtree(work, ignore_errors=True)
    vt.skip("cannot mount a tmpfs (needs root)")
logs = os.path.join(mnt, "logs")
os.makedirs(logs)
with open(os.path.join(logs, "current.log"), "w") as f:  # not matched by the policy's glob: kept
    f.write("x" * 4096)
CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
recovery:
  cleanup:
    - {{filesystem: '{mnt}', below: 30%, until: 50%, roots: ['{logs}'], match: '*.log.*', older_than: 1d,
       interval: 200ms}}
"""
v = None


def cleanup():
    subprocess.run(["umount", "-l", mnt])
    shutil.rmtree(work, ignore_errors=True)


with vt.running(lambda: v, cleanup):
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()
    drill = [a.vigil, "drill", "fill-disk", logs, "--server", v.url]
    r = subprocess.run(drill, capture_output=True, text=True, timeout=30)
    c.check("fill-disk without --yes says what it would write", r.returncode == 2 and "would write" in r.stdout,
            r.stdout + r.stderr)
    r = subprocess.run([a.vigil, "drill", "fill-disk", work, "--server", v.url, "--yes"], capture_output=True,
                       text=True, timeout=30)
    c.check("fill-disk refuses a directory no cleanup root covers",
            r.returncode == 1 and "not inside a cleanup root" in r.stderr, r.stdout + r.stderr)
    r = subprocess.run(drill + ["--yes", "--rounds", "2", "--json"], capture_output=True, text=True, timeout=120)
    print("drill:", r.stdout.strip(), r.stderr.strip())
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    c.check("fill-disk: the cleanup started and the space came back in each round",
            len(out.get("rounds", [])) == 2 and all(x["detect"] >= 0 and x["recover"] > 0 for x in out["rounds"]),
            r.stdout + r.stderr)
    st = os.statvfs(mnt)
    c.check("fill-disk: free space is back above the target", st.f_bavail / st.f_blocks >= 0.5)
    c.check("fill-disk: the file the policy does not match is still there, no filler left",
            sorted(os.listdir(logs)) == ["current.log"], str(os.listdir(logs)))
    hist = json.loads(vt.get(v.url + "/api/v1/recovery?service=host")[2])["data"]["history"]
    c.check("fill-disk: the cleanups and the drill are audited",
            any(e.get("action") == "cleanup" and e.get("outcome") == "done" for e in hist) and
            any(e["kind"] == "drill" for e in hist), json.dumps(hist[:4]))
    c.check("fill-disk: the drill's figures are metrics",
            'vigil_drill_last_recover_seconds{fault="fill-disk",service="host"}' in v.metrics())

c.finish()
