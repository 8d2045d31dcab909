"""Crash test: a child ingests into the store as fast as it can and is killed
with SIGKILL at random moments, 25 times; after each kill the store opens
cleanly, holds every sample committed before the kill (a SIGKILL loses
nothing written), and every value read back is exactly what was written."""
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
stress = os.environ.get("VIGIL_TSDB_STRESS")
c = vt.Checks()
if not stress or not os.path.exists(stress):
    print("FAIL: VIGIL_TSDB_STRESS does not name the tsdb_stress helper")
    raise SystemExit(1)

KILLS = 25
rng = random.Random(int(os.environ.get("VIGIL_CRASH_SEED", "20261125")))
tmp = tempfile.mkdtemp(prefix="vigil-crash.")
store = os.path.join(tmp, "tsdb")
committed = 0
try:
    for n in range(KILLS):
        child = subprocess.Popen([stress, "ingest", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        last = [None]
        ingesting = threading.Event()

        def reader():
            for line in child.stdout:
                if line.startswith("committed "):
                    last[0] = int(line.split()[1])
                    ingesting.set()
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        # Every other kill counts from the first commit rather than from the
        # start: on a slow (sanitized, loaded) machine opening the store can
        # take the whole window, and the run must still reach persistence
        # and compaction; the others can land in the replay itself.
        if n % 2:
            ingesting.wait(timeout=60)
        time.sleep(rng.uniform(0.05, 0.6))
        child.kill()  # SIGKILL
        child.wait(timeout=10)
        t.join(timeout=10)
        if last[0] is not None:
            committed = max(committed, last[0])
        err = child.stderr.read()
        if err.strip():
            c.check(f"kill {n + 1}: child reported no errors", False, err)
        v = subprocess.run([stress, "verify", store, str(committed)], capture_output=True, text=True, timeout=120)
        c.check(f"kill {n + 1}: store opens, all committed samples present and exact ({v.stdout.strip()})",
                v.returncode == 0, v.stdout + v.stderr)
        if v.returncode != 0:
            break
    blocks = os.listdir(os.path.join(store, "blocks"))
    c.check(f"blocks were cut and compacted during the run ({len(blocks)} blocks)", len(blocks) >= 1, blocks)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

c.finish()
