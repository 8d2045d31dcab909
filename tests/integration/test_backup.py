"""Backup, restore, check and repair, end to end.
- A vigil ingests host metrics every second, holds a silence and an outbox
  entry (its webhook receiver is down); `vigil backup DIR` copies it while it
  runs. Bad targets (not empty, under a file, a full tmpfs) are refused with
  the path and the reason, and the running vigil keeps going.
- The backup is a data dir: a vigil started on it has every sample up to the
  backup's time, the silence and the outbox entry, and takes new samples.
- `vigil tsdb check` refuses a store a vigil holds, names a block with a
  flipped byte and a truncated WAL segment, and `--repair` quarantines them
  keeping every good series (`vigil tsdb dump` before and after)."""
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-backup.")
hook_port = vt.free_port()  # nothing listens here: the receiver is down
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: test
    interval: 1s
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        labels: {severity: warning}
""")
CONFIG = f"""
global: {{scrape_interval: 1s}}
rule_files: ['{rules}']
alerting:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - name: hook
      webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/hook'}}]
"""


def run(*args, timeout=120):
    return subprocess.run([a.vigil, *args], capture_output=True, text=True, timeout=timeout)


def dump(data_dir):
    """{(labels, t): value} of every sample in a data dir's store."""
    r = run("tsdb", "dump", "--data-dir", data_dir, "--match", '{__name__=~".+"}')
    if r.returncode != 0:
        raise AssertionError(f"tsdb dump {data_dir}: {r.stderr}")
    out = {}
    for line in r.stdout.splitlines():
        labels, value, t = line.rsplit(" ", 2)
        out[(labels, int(t))] = value
    return out


def rows(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def uvarint(b, i):
    shift = v = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        if x < 0x80:
            return v, i
        shift += 7


def block_series(path):
    """[(labels, offset, length)] from a block file's index (docs/format/block.md)."""
    with open(path, "rb") as f:
        b = f.read()
    index_offset, index_len = struct.unpack_from("<QQ", b, len(b) - 24)
    i = index_offset
    n, i = uvarint(b, i)
    out = []
    for _ in range(n):
        nl, i = uvarint(b, i)
        labels = []
        for _ in range(2 * nl):
            ln, i = uvarint(b, i)
            labels.append(b[i:i + ln].decode())
            i += ln
        for _ in range(3):  # min time, max time, sample count
            _, i = uvarint(b, i)
        off, i = uvarint(b, i)
        length, i = uvarint(b, i)
        out.append((dict(zip(labels[::2], labels[1::2])), off, length))
    return out


def series_key(labels):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


v = None
mnt = None
with vt.running(lambda: v, lambda: shutil.rmtree(work, ignore_errors=True)):
    orig = os.path.join(work, "orig")
    v = vt.Vigil(a.vigil, CONFIG, data_dir=orig)
    v.wait_ready(timeout=15)
    silence = post_json(v.url + "/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": "SomethingElse", "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test_backup", "comment": "kept by a backup"})["silenceID"]
    state = os.path.join(orig, "state.db")
    vt.wait_until(lambda: rows(state, "SELECT id FROM outbox WHERE receiver = 'hook'"), timeout=20,
                  what="an outbox entry for the down webhook")
    time.sleep(4)  # a few more seconds of samples

    # Bad targets: refused, the path named, nothing left behind, vigil unharmed.
    notempty = os.path.join(work, "notempty")
    os.makedirs(notempty)
    open(os.path.join(notempty, "x"), "w").close()
    r = run("backup", notempty, "--server", v.url)
    c.check("a backup into a non-empty dir is refused, naming it",
            r.returncode == 1 and notempty in r.stderr and "not empty" in r.stderr, r.stderr)
    afile = os.path.join(work, "afile")
    open(afile, "w").close()
    r = run("backup", os.path.join(afile, "b"), "--server", v.url)
    c.check("a backup under a regular file is refused, naming the path and why",
            r.returncode == 1 and afile in r.stderr and "not a directory" in r.stderr.lower(), r.stderr)
    r = run("backup", os.path.join(work, "direct"), "--data-dir", orig)
    c.check("`backup --data-dir` of a running vigil's dir is refused (its lock) and points at --server",
            r.returncode == 1 and "in use" in r.stderr and "--server" in r.stderr, r.stderr)
    mnt = tempfile.mkdtemp(prefix="vigil-backup-full.")
    if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt]).returncode == 0:
        full = os.path.join(mnt, "b")
        r = run("backup", full, "--server", v.url)
        c.check("a backup onto a full disk fails naming the path and why (no space)",
                r.returncode == 1 and mnt in r.stderr
                and ("No space left on device" in r.stderr or "disk is full" in r.stderr), r.stderr)
        c.check("nothing is left of the failed backup", not os.path.exists(full), os.listdir(mnt))
        subprocess.run(["umount", "-l", mnt])
    else:
        print("note: cannot mount a tmpfs (needs root): the full-disk case is not run")
    shutil.rmtree(mnt, ignore_errors=True)
    c.check("vigil is healthy after the refused backups", vt.get(v.url + "/-/healthy")[0] == 200)

    # The backup proper, while ingesting.
    backup = os.path.join(work, "backup")
    before_count = len(vt.api(v.url, "/api/v1/query", query="up")["result"])
    t0 = time.monotonic()
    r = run("backup", backup, "--server", v.url)
    took = time.monotonic() - t0
    c.check(f"vigil backup of a running vigil succeeds in {took:.2f}s", r.returncode == 0, r.stdout + r.stderr)
    print(r.stdout)
    with open(os.path.join(backup, "backup.json")) as f:
        meta = json.load(f)
    c.check("backup.json records blocks and the newest sample", meta["blocks"] >= 1 and meta["maxTime"] > 0, meta)
    c.check("the backup holds state.db", meta["stateDb"] and os.path.exists(os.path.join(backup, "state.db")))
    snap = post_json(v.url + "/api/v1/admin/tsdb/snapshot", {})
    name = snap.get("data", {}).get("name", "")
    c.check("POST /api/v1/admin/tsdb/snapshot writes <data_dir>/snapshots/<name> (Prometheus's shape)",
            snap.get("status") == "success" and os.path.isdir(os.path.join(orig, "snapshots", name, "tsdb", "blocks")),
            snap)
    newer = vt.wait_until(lambda: vt.api(v.url, "/api/v1/query", query=f"timestamp(up) > {meta['maxTime'] / 1000}")[
        "result"], timeout=10, what="samples newer than the backup")
    c.check(f"vigil kept ingesting through the backup ({len(newer)} of {before_count} `up` series newer than it)",
            vt.get(v.url + "/-/healthy")[0] == 200 and newer)
    c.check("vigil stops cleanly", v.stop() == 0)
    v.cleanup()
    v = None

    # Every sample up to the backup's time. A collection committed just after
    # the snapshot can carry a slightly older timestamp; 3 s cover that.
    cutoff = meta["maxTime"] - 3000
    original = {k: x for k, x in dump(orig).items() if k[1] <= cutoff}
    restored = dump(backup)
    missing = [k for k in original if restored.get(k) != original[k]]
    c.check(f"every sample up to the backup's time is in it ({len(original)} samples, "
            f"{len({k[0] for k in original})} series)", original and not missing, missing[:5])
    c.check("the backup has no sample after its time", all(t <= meta["maxTime"] for _, t in restored))
    bstate = os.path.join(backup, "state.db")
    c.check("the silence is in the backup's state.db",
            rows(bstate, f"SELECT id FROM silences WHERE id = '{silence}'") != [])
    c.check("the outbox entry is in the backup's state.db",
            rows(bstate, "SELECT id FROM outbox WHERE receiver = 'hook'") != [])

    # Restore: a vigil on the backup.
    v = vt.Vigil(a.vigil, CONFIG, data_dir=backup)
    v.wait_ready(timeout=15)
    silences = json.loads(vt.get(v.url + "/api/v2/silences")[2])
    c.check("the restored vigil has the silence", any(s["id"] == silence for s in silences), silences)
    t_old = (cutoff - 1000) / 1000
    old = vt.api(v.url, "/api/v1/query", query="up", time=f"{t_old:.3f}")["result"]
    c.check("the restored vigil answers queries from before the backup", len(old) > 0, old)
    vt.wait_until(lambda: vt.api(v.url, "/api/v1/query", query=f"timestamp(up) > {meta['maxTime'] / 1000 + 1}")[
        "result"], timeout=15, what="new samples after the backup's time")
    c.check("the restored vigil takes new samples after the backup's time", True)
    c.check("the restored outbox still holds the entry",
            rows(bstate, "SELECT id FROM outbox WHERE receiver = 'hook'") != [])
    r = run("tsdb", "check", "--data-dir", backup)
    c.check("tsdb check refuses a store a running vigil holds (exit 2, says why)",
            r.returncode == 2 and "in use by a running vigil" in r.stderr, r.stdout + r.stderr)
    time.sleep(2)
    c.check("the restored vigil stops cleanly", v.stop() == 0)
    v.cleanup()
    v = None

    # Check and repair.
    tsdb = os.path.join(backup, "tsdb")
    r = run("tsdb", "check", "--data-dir", backup)
    c.check("a sound store checks clean (exit 0)", r.returncode == 0 and "no damage" in r.stdout,
            r.stdout + r.stderr)
    before = dump(backup)
    blocks = sorted(os.path.join(tsdb, "blocks", b) for b in os.listdir(os.path.join(tsdb, "blocks")))
    block_dir = max(blocks, key=lambda b: os.path.getsize(os.path.join(b, "block")))
    with open(os.path.join(block_dir, "meta.json")) as f:
        bmeta = json.load(f)
    labels, off, length = block_series(os.path.join(block_dir, "block"))[len(block_series(
        os.path.join(block_dir, "block"))) // 2]
    victim = series_key(labels)
    with open(os.path.join(block_dir, "block"), "r+b") as f:
        f.seek(off + length - 2)
        byte = f.read(1)
        f.seek(off + length - 2)
        f.write(bytes([byte[0] ^ 0x5A]))
    wal_dir = os.path.join(tsdb, "wal")
    segments = sorted(s for s in os.listdir(wal_dir) if s.isdigit() and os.path.getsize(os.path.join(wal_dir, s)) > 64)
    segment = os.path.join(wal_dir, segments[-1])
    size = os.path.getsize(segment)
    os.truncate(segment, size - 5)

    r = run("tsdb", "check", "--data-dir", backup)
    out = r.stdout
    c.check("tsdb check exits 1 on damage", r.returncode == 1, out + r.stderr)
    c.check("it names the block file with the flipped byte and the series", f"damaged: {block_dir}/block: series "
            in out and "checksum mismatch" in out and labels["__name__"] in out, out)
    c.check("it names the truncated WAL segment and why", f"damaged: {segment}: torn record" in out, out)
    c.check("a check without --repair changes nothing",
            os.path.isdir(block_dir) and os.path.getsize(segment) == size - 5)
    r = run("tsdb", "check", "--data-dir", backup, "--json")
    report = json.loads(r.stdout)
    c.check("--json lists both damaged files", r.returncode == 1 and sorted(d["path"] for d in report["damaged"]) ==
            sorted([f"{block_dir}/block", segment]), report)

    r = run("tsdb", "check", "--data-dir", backup, "--repair")
    c.check("--repair repairs both", r.returncode == 1 and r.stdout.count("  repaired: ") == 2
            and "NOT repaired" not in r.stdout, r.stdout + r.stderr)
    print(r.stdout)
    q = os.path.join(tsdb, "quarantine")
    c.check("the damaged block is in quarantine/, nothing deleted",
            os.path.exists(os.path.join(q, os.path.basename(block_dir), "block")) and not os.path.exists(block_dir))
    c.check("the damaged WAL segment is kept whole in quarantine/wal/",
            os.path.getsize(os.path.join(q, "wal", os.path.basename(segment))) == size - 5)
    r = run("tsdb", "check", "--data-dir", backup)
    c.check("after --repair the store checks clean", r.returncode == 0, r.stdout + r.stderr)

    after = dump(backup)
    changed = [k for k in after if before.get(k) != after[k]]
    c.check("repair altered no sample and added none", not changed, changed[:5])
    lost = [k for k in before if k not in after]
    newest = max(t for _, t in before)
    in_block = [k for k in lost if k[0] == victim and bmeta["minTime"] <= k[1] <= bmeta["maxTime"]]
    tail = [k for k in lost if k[1] >= newest - 3000]
    c.check(f"only the damaged series' samples in that block ({len(in_block)}) and the torn WAL tail "
            f"({len(tail)}) are gone", set(lost) == set(in_block) | set(tail) and in_block, [
                k for k in lost if k not in in_block and k not in tail][:5])
    untouched = {k[0] for k in before} - {victim}
    c.check(f"every other series ({len(untouched)}) keeps every sample outside the torn WAL tail",
            all(after.get(k) == x for k, x in before.items() if k[0] != victim and k[1] < newest - 3000))

c.finish()
