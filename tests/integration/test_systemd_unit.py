"""The shipped unit deploy/systemd/vigil.service: `systemd-analyze security
--offline=yes` rates its exposure at most 2.0 ("OK"), `systemd-analyze
verify` accepts it (ExecStart pointed at the built binary), and the polkit
rule grants recovery to the user the unit runs as."""
import os
import re
import shutil
import subprocess
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()

MAX_EXPOSURE = 2.0
unit = os.path.join(a.source_dir, "deploy", "systemd", "vigil.service")
polkit = os.path.join(a.source_dir, "deploy", "polkit", "50-vigil-recovery.rules")
analyze = vt.need("systemd-analyze")

helptext = subprocess.run([analyze, "security", "--help"], capture_output=True, text=True, timeout=30).stdout
if "--offline" not in helptext:
    vt.skip(f"{analyze} has no --offline (systemd >= 250 needed to rate a unit file that is not installed)")

r = subprocess.run([analyze, "security", "--offline=yes", unit], capture_output=True, text=True, timeout=60)
m = re.search(r"Overall exposure level for vigil\.service: (\d+\.\d) (\w+)", r.stdout)
c.check("systemd-analyze security rates the unit", m is not None, f"rc={r.returncode} {r.stdout[-500:]} {r.stderr}")
if m:
    print(m.group(0))
    exposure, verdict = float(m.group(1)), m.group(2)
    c.check(f"exposure {exposure} <= {MAX_EXPOSURE}", exposure <= MAX_EXPOSURE, r.stdout[-3000:])
    c.check("verdict OK", verdict == "OK", verdict)
# --threshold is on the 0-100 scale of the same number: a second opinion on it.
r = subprocess.run([analyze, "security", "--offline=yes", f"--threshold={int(MAX_EXPOSURE * 10)}", unit],
                   capture_output=True, text=True, timeout=60)
c.check("systemd-analyze --threshold=20 passes", r.returncode == 0, f"rc={r.returncode} {r.stderr[-500:]}")

# verify needs ExecStart's binary to exist: the built one stands in for /usr/bin/vigil.
with open(unit) as f:
    text = f.read()
c.check("ExecStart runs /usr/bin/vigil", "ExecStart=/usr/bin/vigil run" in text)
tmp = tempfile.mkdtemp(prefix="vigil-unit.")
try:
    copy = os.path.join(tmp, "vigil.service")
    with open(copy, "w") as f:
        f.write(text.replace("ExecStart=/usr/bin/vigil ", f"ExecStart={os.path.abspath(a.vigil)} "))
    r = subprocess.run([analyze, "verify", copy], capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    c.check("systemd-analyze verify accepts the unit", r.returncode == 0 and not problems,
            f"rc={r.returncode} {problems}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

# The settings the watchdog and the hardening rely on, as systemd parses them.
settings = {}
for line in text.splitlines():
    line = line.strip()
    if line and not line.startswith(("#", "[")) and "=" in line:
        k, v = line.split("=", 1)
        settings.setdefault(k, []).append(v)
for key, want in [("Type", "notify"), ("NotifyAccess", "main"), ("WatchdogSec", "30s"), ("Restart", "on-failure"),
                  ("CapabilityBoundingSet", ""), ("AmbientCapabilities", ""), ("NoNewPrivileges", "yes"),
                  ("ProtectSystem", "strict"), ("ReadWritePaths", "/var/lib/vigil"), ("StateDirectory", "vigil")]:
    c.check(f"{key}={want}", settings.get(key) == [want], f"got {settings.get(key)}")
c.check("no DynamicUser (polkit names a stable user)", "DynamicUser" not in settings)

# polkit's rule must name the user the unit runs as, or recovery's restarts are refused.
user = (settings.get("User") or ["?"])[0]
with open(polkit) as f:
    rule = f.read()
m = re.search(r'subject\.user !== "([^"]+)"', rule)
c.check(f"polkit rule grants to the unit's User= ({user})", m is not None and m.group(1) == user,
        f"rule names {m.group(1) if m else None!r}")

c.finish()
