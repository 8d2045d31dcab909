"""The web UI in a real headless Chromium (Debian's chromium, driven by
playwright-core from web/node_modules: tests/browser/ui_test.mjs) against a
running vigil with a private `systemd --user` and the emulated bitcoind,
titan and validator. Screenshots of each page go to build/ui-screenshots/."""
import gzip
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()
node = vt.need("node")
chromium = vt.need("chromium")
playwright = os.path.join(a.source_dir, "web", "node_modules", "playwright-core")
if not os.path.isdir(playwright):
    vt.skip("web/node_modules/playwright-core is missing (scripts/setup.sh runs npm ci in web/)")

work = tempfile.mkdtemp(prefix="vigil-webui.")
sleeper = os.path.join(work, "vt-ui-sleeper")
shutil.copy("/bin/sleep", sleeper)
UNITS = {f"vt-ui-{name}.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n"
         for name in ("bitcoind", "titan", "validator")}
sd = vt.user_systemd_or_skip(UNITS, work)
for unit in UNITS:
    sd.systemctl("start", unit)

cookie = os.path.join(work, ".cookie")
bitcoind = vt.Emulator(a.source_dir, "bitcoind", "--cookie-file", cookie)
titan = vt.Emulator(a.source_dir, "titan")
validator = vt.Emulator(a.source_dir, "validator")
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: ui-test
    rules:
      - alert: UiTestAlwaysFiring
        expr: vector(1)
        labels: {severity: low, service: validator}
        annotations: {summary: 'fires so the UI can silence it'}
      - alert: ServiceDown
        expr: vigil_service_up == 0
        labels: {severity: critical}
        annotations: {summary: '{{ $labels.service }} is down'}
""")

CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{interval: 1s}}
systemd: {{bus: user}}
rule_files: ['{rules}']
services:
  bitcoind:
    unit: vt-ui-bitcoind.service
    bitcoind: {{url: '{bitcoind.url}/', cookie_file: '{cookie}', interval: 1s, timeout: 800ms}}
  titan:
    unit: vt-ui-titan.service
    depends_on: [bitcoind]
    titan: {{url: '{titan.url}', interval: 1s, timeout: 800ms}}
  validator:
    unit: vt-ui-validator.service
    depends_on: [titan]
    validator: {{url: '{validator.url}/', interval: 1s, timeout: 800ms}}
"""

# Two hours of three series, imported before vigil starts, so charts have
# history to draw (and live data goes on after the import).
now = int(time.time())
history = os.path.join(work, "history.om")
with open(history, "w") as f:
    f.write("# TYPE ui_test_series gauge\n")
    for i in range(3):
        for t in range(now - 7200, now - 14, 15):
            f.write(f'ui_test_series{{i="{i}"}} {10 * i + math.sin(t / 600):.4f} {t}\n')
    f.write("# EOF\n")
data_dir = os.path.join(work, "data")
imported = subprocess.run([a.vigil, "tsdb", "import", history, "--data-dir", data_dir], capture_output=True, text=True,
                          timeout=60)
c.check("history imported", imported.returncode == 0, imported.stdout + imported.stderr)

v = None


def cleanup():
    for e in (bitcoind, titan, validator):
        e.stop()
    sd.cleanup()
    shutil.rmtree(work, ignore_errors=True)


with vt.running(lambda: v, cleanup):
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready(timeout=20)
    # A few rounds of history for the charts.
    vt.wait_until(lambda: "vigil_bitcoind_blocks" in v.metrics(), timeout=15, what="bitcoind collected")
    with urllib.request.urlopen(urllib.request.Request(v.url + "/", headers={"Accept-Encoding": "gzip"}),
                                timeout=5) as r:
        page = gzip.decompress(r.read()).decode()
        c.check("/ serves the embedded page, gzipped", r.status == 200 and r.headers["Content-Encoding"] == "gzip"
                and "/assets/app.js?v=" in page, f"{r.status} {dict(r.headers)}")
    shots = os.path.join(os.path.dirname(os.path.abspath(a.vigil)), "ui-screenshots")
    env = dict(os.environ, VIGIL_URL=v.url, UI_SERVICES="bitcoind,titan,validator",
               UI_KILL_UNIT="vt-ui-titan.service", UI_KILL_SERVICE="titan", UI_ALERT="UiTestAlwaysFiring",
               UI_SCREENSHOTS=shots, CHROMIUM=chromium)
    r = subprocess.run([node, os.path.join(a.source_dir, "tests", "browser", "ui_test.mjs")], env=env,
                       capture_output=True, text=True, timeout=240)
    print(r.stdout, end="")
    if r.stderr.strip():
        print(r.stderr[-3000:], file=sys.stderr)
    c.check("the browser checks pass", r.returncode == 0, f"exit {r.returncode}")
    c.check("screenshots written", len(os.listdir(shots)) >= 5, shots)
c.finish()
