"""Recovery actions through a running vigil: failover of a consumer's
dependency between two emulated endpoints (env file rewritten atomically,
consumer restarted under a private `systemd --user` and verified, fail back
after the hold-down, notified), disk cleanup in dry-run and enforce mode on
a temp directory (only old, matching files; never through a symlink), and
exec actions when a matching alert fires."""
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
work = tempfile.mkdtemp(prefix="vigil-actions.")


class Endpoint:
    """An emulated dependency (titan's URL, a bitcoind RPC) that can be made to fail."""

    def __init__(self):
        self.healthy = True
        endpoint = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if endpoint.healthy else 503)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


primary, standby = Endpoint(), Endpoint()
env_file = os.path.join(work, "consumer.env")
with open(env_file, "w") as f:
    f.write(f"# the consumer's settings\nexport LOG_LEVEL=info\nexport TITAN_URL={primary.url}\n")
consumer_port = vt.free_port()
server_py = vt.write_rpc_server(work)
marker = os.path.join(work, "exec-ran")
script = os.path.join(work, "on-alert.sh")
with open(script, "w") as f:
    f.write(f"#!/bin/sh\necho \"$VIGIL_ALERTNAME $VIGIL_LABEL_SERVICE $1\" > {marker}\n")
os.chmod(script, 0o755)

sd = vt.user_systemd_or_skip({"vt-consumer.service": f"[Service]\nExecStart={sys.executable} {server_py} {consumer_port}\n"
                                                     "Restart=no\n"}, work)
hooks = vt.Emulator(a.source_dir, "webhooks")

# Cleanup: a root with old and new logs, a symlink to a file outside it and a symlinked directory.
root = os.path.join(work, "logs")
outside = os.path.join(work, "outside")
os.makedirs(root)
os.makedirs(outside)
old = time.time() - 10 * 86400


def make(path, age=old):
    with open(path, "w") as f:
        f.write("x" * 4096)
    os.utime(path, (age, age))


for i in range(3):
    make(os.path.join(root, f"app.log.{i}"))
make(os.path.join(root, "app.log.new"), time.time())
make(os.path.join(root, "keep.txt"))
make(os.path.join(outside, "precious.log.1"))
os.symlink(os.path.join(outside, "precious.log.1"), os.path.join(root, "link.log.9"))
os.symlink(outside, os.path.join(root, "linked-dir"))
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: g
    rules:
      - alert: ConsumerSlow
        expr: vector(1)
        labels: {severity: medium, service: consumer}
""")


def config(mode):
    fs = subprocess.run(["df", "--output=target", root], capture_output=True, text=True).stdout.split()[-1]
    return f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
rule_files: ['{rules}']
alerting:
  route: {{receiver: hook, group_by: [alertname, service], group_wait: 0s, group_interval: 1s}}
  receivers: [{{name: hook, webhook_configs: [{{url: '{hooks.url}/alertmanager'}}]}}]
recovery:
  mode: {mode}
  cleanup:
    - {{filesystem: '{fs}', below: 99.99%, until: 99.999%, roots: ['{root}'], match: '*.log.*', older_than: 1d,
       interval: 500ms}}
services:
  consumer:
    unit: vt-consumer.service
    probes: [{{name: up, type: http, url: 'http://127.0.0.1:{consumer_port}/', interval: 300ms, timeout: 250ms}}]
    recovery:
      failover:
        - {{env_file: '{env_file}', key: TITAN_URL, endpoints: ['{primary.url}', '{standby.url}'],
           probe_interval: 200ms, probe_timeout: 150ms, fail_after: 2, hold_down: 3s}}
      exec:
        - {{name: notify-script, matchers: ['alertname="ConsumerSlow"'], command: ['{script}', 'arg; $(not run)'],
           timeout: 5s}}
"""


v = None


def history(limit=200):
    return list(reversed(json.loads(vt.get(v.url + f"/api/v1/recovery?limit={limit}")[2])["data"]["history"]))


def actions(kind):
    return [e for e in history() if e["kind"] == "action" and e["action"] == kind]


def env_value():
    for line in open(env_file).read().splitlines():
        if line.startswith("export TITAN_URL="):
            return line.split("=", 1)[1]
    return None


def hook_alerts(name):
    return vt.webhook_alerts(hooks.url, name)


with vt.running(lambda: v, lambda: hooks.stop(), lambda: sd.cleanup(), lambda: primary.stop(),
                lambda: standby.stop(), lambda: shutil.rmtree(work, ignore_errors=True)):
    sd.systemctl("start", "vt-consumer.service")

    # --- dry-run: cleanup lists, deletes nothing; failover says what it would do.
    v = vt.Vigil(a.vigil, config("dry-run"))
    v.wait_ready()
    # The row is written before the cleanup runs ("started"); its outcome and list come when it ends.
    dry = vt.wait_until(lambda: [e for e in actions("cleanup") if e["outcome"] != "started"], timeout=15,
                        what="a dry-run cleanup finished")[0]
    c.check("dry-run cleanup: lists the old logs, deletes nothing",
            dry["outcome"] == "dry-run" and "app.log.0" in dry["detail"] and
            sorted(os.listdir(root)) == ["app.log.0", "app.log.1", "app.log.2", "app.log.new", "keep.txt",
                                         "link.log.9", "linked-dir"], dry["detail"])
    v.cleanup()

    # --- enforce.
    v = vt.Vigil(a.vigil, config("enforce"))
    v.wait_ready()
    vt.wait_until(lambda: [e for e in actions("cleanup") if e["outcome"] in ("done", "partial")], timeout=15,
                  what="a cleanup")
    left = sorted(os.listdir(root))
    c.check("cleanup: only old files matching the glob went", left == ["app.log.new", "keep.txt", "link.log.9",
                                                                       "linked-dir"], str(left))
    c.check("cleanup: the symlink's target and the symlinked directory's files are untouched",
            os.path.exists(os.path.join(outside, "precious.log.1")) and os.path.islink(os.path.join(root, "link.log.9")))

    # exec: the alert fires once, the script runs once with the alert in its environment, no shell.
    vt.wait_until(lambda: os.path.exists(marker), timeout=15, what="the exec action")
    ran = open(marker).read().strip()
    execs = vt.wait_until(lambda: [e for e in actions("exec") if e["outcome"] == "done"], timeout=10, what="exec done")
    c.check("exec: ran with the alert's labels and its argument verbatim",
            ran == "ConsumerSlow consumer arg; $(not run)" and len(execs) == 1, ran + json.dumps(execs))

    # --- failover: the primary fails -> switch to the standby, consumer restarted and verified.
    pid = int(sd.systemctl("show", "vt-consumer.service", "-p", "MainPID", "--value"))
    seen = set()
    stop_reading = threading.Event()

    def read_env():  # every read during the switch parses to one whole value
        while not stop_reading.is_set():
            seen.add(env_value())
            time.sleep(0.001)

    reader = threading.Thread(target=read_env)
    reader.start()
    primary.healthy = False
    vt.wait_until(lambda: [e for e in actions("failover") if e["outcome"] == "done"], timeout=15,
                  what="the switch to the standby")
    c.check("failover: the env file names the standby; other lines kept",
            env_value() == standby.url and "export LOG_LEVEL=info" in open(env_file).read())
    c.check("failover: the consumer was restarted",
            int(sd.systemctl("show", "vt-consumer.service", "-p", "MainPID", "--value")) not in (0, pid))
    c.check("failover: notified", vt.wait_until(lambda: [al for al in hook_alerts("DependencyFailedOver")
                                                        if al["status"] == "firing"], timeout=10, what="page"))
    switched = time.time()
    primary.healthy = True
    vt.wait_until(lambda: env_value() == primary.url, timeout=20, what="fail back")
    held = time.time() - switched
    c.check("failover: fail back after the 3 s hold-down", held >= 2.9, f"{held:.2f}s")
    c.check("failover: the fail back resolves the notice", vt.wait_until(
        lambda: [al for al in hook_alerts("DependencyFailedOver") if al["status"] == "resolved"], timeout=10,
        what="resolved"))

    # SIGKILL vigil as a switch starts: the file is whole, old or new.
    primary.healthy = False
    vt.wait_until(lambda: [e for e in actions("failover") if e["outcome"] == "started"] or env_value() == standby.url,
                  timeout=15, interval=0.005, what="a switch under way")
    v.stop(sig=signal.SIGKILL)
    stop_reading.set()
    reader.join()
    c.check("failover: every read of the env file saw a whole value", seen <= {primary.url, standby.url},
            str(seen))

c.finish()
