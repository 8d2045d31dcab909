"""vigil forwarding to a real two-node Alertmanager 0.25 cluster (Debian's
prometheus-alertmanager), clustered over loopback gossip: vigil posts every
alert to both nodes, both route to one webhook, and the cluster's
notification log makes exactly one notification per alert group. With
either node stopped (each order in turn), a new alert still produces exactly
one notification, from the node that is left."""
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
am_bin = vt.need("prometheus-alertmanager")

PEER_TIMEOUT_S = 2  # the second node waits this long for the first one's notification log entry
GROUP_WAIT_S = 1
# After a group's first notification, long enough for a duplicate to show up
# if the cluster failed to dedup: the second node sends after group_wait plus
# its peer_timeout, measured from when it learned the alert.
QUIET_S = GROUP_WAIT_S + 2 * PEER_TIMEOUT_S + 4

received = []  # (monotonic time, payload)
lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(n))
        with lock:
            received.append((time.monotonic(), payload))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()

work = tempfile.mkdtemp(prefix="vigil-amc.")
with open(os.path.join(work, "am.yml"), "w") as f:
    f.write(f"""route:
  receiver: hook
  group_by: [alertname]
  group_wait: {GROUP_WAIT_S}s
  group_interval: 10m
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{hook.server_address[1]}/', send_resolved: false}}]
""")


class Node:
    """One Alertmanager of the cluster; `peer` is the other node's gossip port."""

    def __init__(self, name):
        self.name = name
        self.web = vt.free_port()
        self.gossip = vt.free_port()
        self.url = f"http://127.0.0.1:{self.web}"
        self.proc = None
        self.log = open(os.path.join(work, f"{name}.log"), "a")

    def start(self, peer_gossip):
        self.proc = subprocess.Popen(
            [am_bin, f"--config.file={work}/am.yml", f"--storage.path={work}/{self.name}-data",
             f"--web.listen-address=127.0.0.1:{self.web}", f"--web.external-url={self.url}",
             f"--cluster.listen-address=127.0.0.1:{self.gossip}",
             f"--cluster.advertise-address=127.0.0.1:{self.gossip}",
             f"--cluster.peer=127.0.0.1:{peer_gossip}",
             "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
             f"--cluster.peer-timeout={PEER_TIMEOUT_S}s", "--cluster.settle-timeout=5s",
             "--cluster.probe-interval=200ms", "--cluster.probe-timeout=100ms",
             "--cluster.reconnect-interval=1s"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def status(self):
        return json.loads(vt.get(self.url + "/api/v2/status")[2])

    def ready(self):
        return self.proc.poll() is None and vt.get(self.url + "/-/ready")[0] == 200

    def alerts(self, alertname):
        return [x for x in json.loads(vt.get(self.url + "/api/v2/alerts")[2])
                if x["labels"].get("alertname") == alertname]

    def stop(self):
        vt.stop_process(self.proc)

    def tail(self):
        with open(os.path.join(work, f"{self.name}.log")) as f:
            return f.read()[-1500:]


n1, n2 = Node("am1"), Node("am2")


def clustered(*nodes):
    """True when every node lists all of `nodes` as cluster peers and is settled."""
    want = sorted(f"127.0.0.1:{n.gossip}" for n in nodes)
    for n in nodes:
        st = n.status()["cluster"]
        if st.get("status") != "ready" or sorted(p["address"] for p in st.get("peers") or []) != want:
            return False
    return True


flag = os.path.join(work, "flags.prom")
firing = set()


def fire(phase):
    firing.add(phase)
    tmp = flag + ".tmp"
    with open(tmp, "w") as f:
        for p in sorted(firing):
            f.write(f'cluster_test_flag{{phase="{p}"}} 1\n')
    os.rename(tmp, flag)


rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("groups:\n  - name: cluster\n    interval: 1s\n    rules:\n")
    for phase in ("both", "am1_stopped", "am2_stopped"):
        f.write(f"""      - alert: Cluster_{phase}
        expr: cluster_test_flag{{phase="{phase}"}} == 1
        labels: {{severity: high, service: validator}}
        annotations: {{summary: 'phase {phase}'}}
""")
CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{enabled: false}}
textfile: {{directory: '{work}'}}
rule_files: ['{rules}']
alerting:
  alertmanagers:
    - {{url: '{n1.url}', resend_interval: 2s}}
    - {{url: '{n2.url}', resend_interval: 2s}}
"""


def notifications(alertname):
    """(time, sender's externalURL) of each webhook call carrying a firing `alertname`."""
    with lock:
        return [(t, p.get("externalURL")) for t, p in received
                if p.get("status") == "firing" and p.get("groupLabels", {}).get("alertname") == alertname]


def expect_one_notification(alertname, senders, what):
    got = vt.wait_until(lambda: notifications(alertname), timeout=30, what=f"a notification for {alertname}")
    time.sleep(QUIET_S)  # a second node that failed to dedup would have sent by now
    got = notifications(alertname)
    c.check(f"{what}: exactly one notification for {alertname}", len(got) == 1,
            f"{len(got)} from {[s for _, s in got]}")
    c.check(f"{what}: sent by {' or '.join(senders)}", all(s in senders for _, s in got), got)


def check_deploy_example():
    """deploy/alertmanager-cluster.yml loads as a vigil config, and every
    --flag in the command lines it shows is one Alertmanager 0.25 has."""
    path = os.path.join(a.source_dir, "deploy", "alertmanager-cluster.yml")
    r = subprocess.run([a.vigil, "check", "config", path], capture_output=True, text=True, timeout=30)
    c.check("vigil check config accepts deploy/alertmanager-cluster.yml", r.returncode == 0, r.stdout + r.stderr)
    with open(path) as f:
        text = f.read()
    shown = set(re.findall(r"^#\s+.*?(--[a-z.-]+)=", text, re.M)) | set(re.findall(r"\s(--[a-z.-]+)=", text))
    helptext = subprocess.run([am_bin, "--help"], capture_output=True, text=True, timeout=30)
    known = set(re.findall(r"(--[a-z.-]+)", helptext.stdout + helptext.stderr))
    c.check("the example's Alertmanager flags exist", shown and shown <= known, sorted(shown - known))


v = None
with vt.running(lambda: v, n1.stop, n2.stop, lambda: n1.log.close(), lambda: n2.log.close(), hook.shutdown,
                lambda: shutil.rmtree(work, ignore_errors=True)):
    try:
        n1.start(n2.gossip)
        n2.start(n1.gossip)
        vt.wait_until(lambda: n1.ready() and n2.ready(), timeout=30, what="both alertmanagers ready")
        vt.wait_until(lambda: clustered(n1, n2), timeout=30, what="the two alertmanagers clustered")
        c.check("the two alertmanagers see each other as peers", True)

        check_deploy_example()
        v = vt.Vigil(a.vigil, CONFIG)
        v.wait_ready()

        # Both up: vigil gives the alert to both, the cluster notifies once.
        fire("both")
        for n in (n1, n2):
            c.check(f"vigil forwarded the alert to {n.name}",
                    vt.wait_until(lambda: n.alerts("Cluster_both"), timeout=20, what=f"the alert in {n.name}"))
        expect_one_notification("Cluster_both", {n1.url, n2.url}, "both nodes up")

        # am1 stops: am2 alone notifies a new alert, once.
        n1.stop()
        fire("am1_stopped")
        vt.wait_until(lambda: n2.alerts("Cluster_am1_stopped"), timeout=20, what="the new alert in am2")
        expect_one_notification("Cluster_am1_stopped", {n2.url}, "am1 stopped")

        # am1 comes back and rejoins (its notification log comes back by gossip);
        # then am2 stops and am1 alone notifies a new alert, once.
        n1.start(n2.gossip)
        vt.wait_until(n1.ready, timeout=30, what="am1 ready again")
        vt.wait_until(lambda: clustered(n1, n2), timeout=30, what="am1 rejoined the cluster")
        vt.wait_until(lambda: n1.alerts("Cluster_am1_stopped"), timeout=20, what="vigil's resends reach am1 again")
        time.sleep(QUIET_S)  # am1 relearns the firing groups; the notification log says they were sent
        n2.stop()
        fire("am2_stopped")
        vt.wait_until(lambda: n1.alerts("Cluster_am2_stopped"), timeout=20, what="the new alert in am1")
        expect_one_notification("Cluster_am2_stopped", {n1.url}, "am2 stopped")

        # Over the whole run, each group was notified once: the restarted am1
        # did not notify again what am2 had already sent.
        for name in ("Cluster_both", "Cluster_am1_stopped"):
            got = notifications(name)
            c.check(f"{name} still notified exactly once at the end", len(got) == 1, got)
    except Exception:
        print("--- am1 log (tail) ---\n" + n1.tail())
        print("--- am2 log (tail) ---\n" + n2.tail())
        raise
c.finish()
