"""Full disk: vigil's data dir on a small tmpfs made by the test. When it
fills up vigil keeps running and collecting, raises vigil_tsdb_writes_failing
and logs why; when space returns it writes again; the store reopens with no
corruption."""
import os
import shutil
import subprocess
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()

mnt = tempfile.mkdtemp(prefix="vigil-fulldisk.")
if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt]).returncode != 0:
    shutil.rmtree(mnt, ignore_errors=True)
    if os.environ.get("VIGIL_REQUIRE_PEERS") == "1":
        print("FAIL: cannot mount a tmpfs (needs root) and VIGIL_REQUIRE_PEERS=1")
        raise SystemExit(1)
    print("SKIP: cannot mount a tmpfs (needs root)")
    raise SystemExit(vt.SKIP)

v = None
try:
    data = os.path.join(mnt, "data")
    port = vt.free_port()
    cfgdir = tempfile.mkdtemp(prefix="vigil-fulldisk-cfg.")
    cfg = os.path.join(cfgdir, "vigil.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 200ms\nhost:\n  interval: 200ms\n  timeout: 200ms\nstorage:\n  wal_fsync: 0\n")
    log_path = os.path.join(cfgdir, "vigil.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([a.vigil, "run", "--config", cfg, "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    vt.wait_until(lambda: vt.get(url + "/-/ready")[0] == 200, timeout=10, what="vigil ready")

    def metric(name, labels=frozenset()):
        return vt.parse_exposition(vt.get(url + "/metrics")[2])[name]["samples"].get(labels)

    c.check("writes succeed at first", metric("vigil_tsdb_writes_failing") == 0)
    time.sleep(1)

    # Fill the filesystem.
    filler = os.path.join(mnt, "filler")
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    c.check("disk full raises vigil_tsdb_writes_failing",
            vt.wait_until(lambda: metric("vigil_tsdb_writes_failing") == 1, timeout=15, what="writes_failing=1"))
    c.check("write errors are counted", metric("vigil_tsdb_wal_write_errors_total") > 0)
    with open(log_path) as f:
        logs = f.read()
    c.check("the log says why", "cannot write to the WAL" in logs and "No space left on device" in logs, logs[-2000:])
    runs_before = metric("vigil_collector_runs_total", frozenset({("collector", "host")}))
    time.sleep(1.5)
    runs_after = metric("vigil_collector_runs_total", frozenset({("collector", "host")}))
    c.check(f"still collecting while full ({runs_before} -> {runs_after} runs)", runs_after > runs_before)
    c.check("still serving", proc.poll() is None)

    # Space returns.
    os.unlink(filler)
    c.check("writes resume when space returns",
            vt.wait_until(lambda: metric("vigil_tsdb_writes_failing") == 0, timeout=15, what="writes_failing=0"))
    time.sleep(1)
    proc.terminate()
    c.check("clean shutdown", proc.wait(timeout=10) == 0)
    log.close()
    with open(log_path) as f:
        c.check("recovery is logged", "WAL writes succeed again" in f.read())

    dump = subprocess.run([a.vigil, "tsdb", "dump", "--data-dir", data, "--match", 'node_load1'],
                          capture_output=True, text=True, timeout=60)
    lines = dump.stdout.splitlines()
    c.check(f"store reopens cleanly and returns data ({len(lines)} samples of node_load1)",
            dump.returncode == 0 and len(lines) >= 5, dump.stderr)
    ts = [int(l.rsplit(" ", 1)[1]) for l in lines]
    c.check("timestamps strictly increase (no corruption)", all(x < y for x, y in zip(ts, ts[1:])))
    with open(os.path.join(cfgdir, "vigil2.log"), "w") as log2:
        p2 = subprocess.Popen([a.vigil, "run", "--config", cfg, "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                              stdout=log2, stderr=subprocess.STDOUT)
        vt.wait_until(lambda: vt.get(url + "/-/ready")[0] == 200, timeout=10, what="restart ready")
        p2.terminate()
        p2.wait(timeout=10)
    with open(os.path.join(cfgdir, "vigil2.log")) as f:
        text = f.read()
    c.check("restart replays the WAL without corruption", "corrupt_segments=0" in text, text)
finally:
    subprocess.run(["umount", "-l", mnt])
    shutil.rmtree(mnt, ignore_errors=True)

c.finish()
