#!/usr/bin/env python3
"""The shipped rule pack (deploy/rules) gives the same verdict under
`vigil test rules` and `promtool test rules` (when promtool is installed;
VIGIL_REQUIRE_PEERS=1 makes its absence a failure): both must pass.

  default_pack.py --vigil PATH --source-dir DIR
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--vigil", required=True)
ap.add_argument("--source-dir", required=True)
args = ap.parse_args()
tests = sorted(glob.glob(os.path.join(args.source_dir, "deploy", "rules", "tests", "*.yml")))
if not tests:
    sys.exit("no tests in deploy/rules/tests")
promtool = shutil.which("promtool")
if not promtool and os.environ.get("VIGIL_REQUIRE_PEERS") == "1":
    sys.exit("promtool is not installed and VIGIL_REQUIRE_PEERS=1")
failed = 0
for t in tests:
    for name, cmd in (("vigil", [os.path.abspath(args.vigil)]), ("promtool", [promtool] if promtool else None)):
        if cmd is None:
            print(f"skip {name} {t}: not installed")
            continue
        r = subprocess.run(cmd + ["test", "rules", os.path.basename(t)], cwd=os.path.dirname(t),
                           capture_output=True, text=True, timeout=120)
        ok = r.returncode == 0
        print(f"{'ok  ' if ok else 'FAIL'} {name} test rules {os.path.relpath(t, args.source_dir)}")
        if not ok:
            print(r.stdout[-3000:] + r.stderr[-1000:])
            failed += 1
sys.exit(1 if failed else 0)
