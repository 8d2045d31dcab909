#!/usr/bin/env python3
"""Runs `vigil test rules` on promtool's rule unit test examples and checks
each verdict against testdata/VERDICTS.tsv; when promtool is installed it also
checks promtool's verdict, so the table stays true.

  conformance.py --vigil PATH [--promtool PATH] [FILE ...]
"""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")


def verdict(cmd, file):
    r = subprocess.run(cmd + ["test", "rules", file], cwd=DATA, capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 1):
        return "error(%d): %s" % (r.returncode, r.stderr[-500:])
    return "pass" if r.returncode == 0 else "fail"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--promtool", default=shutil.which("promtool"))
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    args.vigil = os.path.abspath(args.vigil)
    rows = []
    with open(os.path.join(DATA, "VERDICTS.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, promtool, vigil, why = line.rstrip("\n").split("\t")
            if not args.files or name in args.files:
                rows.append((name, promtool, vigil, why))
    if not rows:
        print("no such file in VERDICTS.tsv: %s" % args.files)
        return 1
    failed = 0
    for name, want_promtool, want_vigil, why in rows:
        got = verdict([args.vigil], name)
        line = "%-28s vigil: %s (want %s)" % (name, got, want_vigil)
        if got != want_vigil:
            failed += 1
            line += "  MISMATCH"
        if args.promtool:
            got_p = verdict([args.promtool], name)
            line += "  promtool: %s (recorded %s)" % (got_p, want_promtool)
            if got_p != want_promtool:
                failed += 1
                line += "  MISMATCH"
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
