"""`vigil tsdb import` end to end: samples in any order across several block
windows, a repeated timestamp (the first value stays, as in promtool's
backfill), a second import beside the first, `vigil tsdb dump` returning
exactly what was written; the progress line on a terminal (rate and time
left); and each kind of bad input (a missing file, a syntax error, a sample
without a timestamp, a sample after `# EOF`) named with file and line, with the
store left as it was and no spill files behind."""
import os
import random
import pty
import shutil
import subprocess
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()
tmp = tempfile.mkdtemp(prefix="vigil-import.")
WINDOW = 72 * 3600  # the default retention's widest compaction window, in seconds
START = 1_700_000_000 // WINDOW * WINDOW + 70 * 3600  # 2 h before a window ends


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def dump(data, match):
    code, out, err = vt.cli(a.vigil, "tsdb", "dump", "--data-dir", data, "--match", match)
    assert code == 0, err
    return [line for line in out.splitlines() if line]


def store_files(data):
    out = []
    for root, _, files in os.walk(os.path.join(data, "tsdb", "blocks")):
        out += [os.path.relpath(os.path.join(root, f), data) for f in files]
    return sorted(out)


try:
    data = os.path.join(tmp, "data")
    # Newest first, over 6 h: the samples straddle two windows.
    lines = ["# TYPE imp gauge"]
    expected = []
    for i in reversed(range(360)):
        t = START + i * 60
        if i % 2 == 0:  # a second series on every other line: the order of series changes
            lines.append(f'imp{{job="c"}} {-i} {t}')
        lines.append(f'imp{{job="a"}} {i} {t}')
        expected.append((t * 1000, i))
    lines.insert(5, f'imp{{job="a"}} 12345 {START + 359 * 60}')  # a repeat of the newest: dropped
    lines.append("# EOF")
    code, out, err = vt.cli(a.vigil, "tsdb", "import", write("a.om", "\n".join(lines) + "\n"), "--data-dir", data)
    c.check("the import succeeds and says what it wrote", code == 0 and "imported 540 samples of 2 series into 2 blocks" in out
            and "1 samples with a repeated timestamp dropped" in out, out + err)
    got = dump(data, 'imp{job="a"}')
    want = sorted(expected)
    c.check("dump returns every sample in time order, the first of the repeat kept",
            [line.rsplit(" ", 2)[1:] for line in got] == [[str(v), str(t)] for t, v in want], "\n".join(got[:5]))

    code, out, err = vt.cli(a.vigil, "tsdb", "import",
                            write("b.om", f'imp{{job="b"}} 1 {START}\nimp{{job="b"}} 2 {START + 60}\n# EOF\n'),
                            "--data-dir", data)
    c.check("a second import adds its series beside the first", code == 0 and len(dump(data, 'imp{job="b"}')) == 2
            and len(dump(data, 'imp{job="a"}')) == 360, out + err)
    c.check("the interleaved series holds its own samples",
            [line.rsplit(" ", 2)[1:] for line in dump(data, 'imp{job="c"}')] ==
            [[str(-i), str((START + i * 60) * 1000)] for i in range(0, 360, 2)])
    c.check("no spill files are left", not any("import-" in f for f in store_files(data)), str(store_files(data)))

    # The import skips parsing a label block identical to the one expected
    # next: names sharing label text, one series in two spellings, a '}'
    # inside a value, and an order that changes at every timestamp.
    rng = random.Random(7)
    spellings = {  # series -> the ways it is written
        ("x", 'a="1"'): ['{a="1"}'], ("y", 'a="1"'): ['{a="1"}'],
        ("x", 'a="1",b="2"'): ['{a="1",b="2"}', '{b="2",a="1"}'], ("x", 'a="x}y"'): ['{a="x}y"}'],
    }
    want, lines = {}, []
    for step in range(40):
        order = list(spellings)
        if step % 3:
            rng.shuffle(order)
        for k, (name, labels) in enumerate(order):
            value = step * 10 + k
            lines.append(f"{name}{rng.choice(spellings[(name, labels)])} {value} {START + step * 15}")
            want.setdefault((name, labels), []).append([str(value), str((START + step * 15) * 1000)])
    lines.append("# EOF")
    mixed = os.path.join(tmp, "mixed")
    code, out, err = vt.cli(a.vigil, "tsdb", "import", write("mixed.om", "\n".join(lines) + "\n"), "--data-dir", mixed)
    only = {("x", 'a="1"'): 'x{a="1",b=""}'}  # a="1" alone would match the series with b too
    got = {key: [line.rsplit(" ", 2)[1:] for line in dump(mixed, only.get(key, key[0] + "{" + key[1] + "}"))]
           for key in want}
    c.check("series in a changing order, shared label text and two spellings each keep their own samples",
            code == 0 and "of 4 series" in out and got == want, out + err + str(got)[:400])

    # On a terminal the progress line shows the rate and the time left.
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(a.vigil, [a.vigil, "tsdb", "import", os.path.join(tmp, "a.om"), "--data-dir",
                           os.path.join(tmp, "tty-data")])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    c.check("on a TTY a progress line shows the rate and the time left",
            os.waitstatus_to_exitcode(status) == 0 and "M samples/s" in text and "left" in text
            and "parsing" in text and "writing" in text, text)

    before = store_files(data)
    bad = [
        ("a missing file", os.path.join(tmp, "nope.om"), "open " + os.path.join(tmp, "nope.om")),
        ("a syntax error", write("syntax.om", 'imp{job="a" 1 1700000000\n# EOF\n'), "syntax.om: line 1:"),
        ("a sample without a timestamp", write("nots.om", "imp 1 1700000000\nimp 2\n# EOF\n"),
         "nots.om: line 2: sample without a timestamp"),
        ("a value that is no number", write("value.om", "imp 1 1700000000\nimp one 1700000001\n"), "value.om: line 2:"),
    ]
    for what, path, message in bad:
        code, out, err = vt.cli(a.vigil, "tsdb", "import", path, "--data-dir", data)
        c.check(f"{what}: exit 1 and the error names where", code == 1 and message in err, out + err)
    c.check("after the bad inputs the store is as it was, no spill files behind", store_files(data) == before,
            str(store_files(data)))
    c.check("and every sample is still there", len(dump(data, "imp")) == 542)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

c.finish()
