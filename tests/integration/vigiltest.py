"""Shared helpers for vigil's integration tests: start the real binary and
real peers on loopback, bounded waits, and clean shutdown by PID."""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77  # CTest's SKIP_RETURN_CODE


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--vigil", required=True)
    p.add_argument("--source-dir", required=True)
    return p.parse_args()


def need(binary):
    """Returns the path of a peer binary, or skips (fails when VIGIL_REQUIRE_PEERS=1)."""
    path = shutil.which(binary)
    if path:
        return path
    skip(f"{binary} is not installed (scripts/setup.sh installs it)")


def skip(msg):
    """Skips the test (fails it when VIGIL_REQUIRE_PEERS=1, as CI sets)."""
    if os.environ.get("VIGIL_REQUIRE_PEERS") == "1":
        print(f"FAIL: {msg} and VIGIL_REQUIRE_PEERS=1")
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # the peer may not be up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def get(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read().decode()


def api(base, path, **params):
    """The `data` of a Prometheus-style API answer (GET with params); raises with the body otherwise."""
    q = urllib.parse.urlencode(params, doseq=True)
    body = json.loads(get(f"{base}{path}?{q}", timeout=30)[2])
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def label_values(base, query, t):
    """Grafana's label_values(selector, name) over the Prometheus API, as Grafana resolves a variable."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    if not m:
        raise AssertionError(f"not a label_values(selector, label) query: {query!r}")
    selector, name = m.group(1), m.group(2)
    return sorted(api(base, f"/api/v1/label/{name}/values", **{"match[]": selector, "start": t - 300, "end": t}))


def has_data(base, expr, t):
    """True when an instant query at `t` returns a scalar, a string or at least one series."""
    r = api(base, "/api/v1/query", query=expr, time=f"{t:.3f}")
    if r["resultType"] in ("scalar", "string"):
        return True
    return len(r["result"]) > 0


def dashboard_targets(dashboard):
    """(panel, target) for every target of a Grafana dashboard, rows' nested panels included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets") or []:
                out.append((p, t))
            walk(p.get("panels") or [])
    walk(dashboard.get("panels") or [])
    return out


def stop_process(proc, timeout=10):
    """SIGTERM, up to `timeout` s to exit, then SIGKILL; None is ignored."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Vigil:
    """A vigil process with its own temp data dir; stopped by PID."""

    def __init__(self, binary, config_text=None, extra_args=(), listen=None, data_dir=None, cwd=None):
        self.dir = tempfile.mkdtemp(prefix="vigil-it.")
        self.port = free_port() if listen is None else None
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        cmd = [binary, "run", "--data-dir", self.data_dir, "--listen", self.listen]
        if config_text is not None:
            self.config = os.path.join(self.dir, "vigil.yml")
            with open(self.config, "w") as f:
                f.write(config_text)
            cmd += ["--config", self.config]
        cmd += list(extra_args)
        self.log_path = os.path.join(self.dir, "vigil.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)
        self.url = f"http://{self.listen}"

    def wait_ready(self, timeout=10):
        wait_until(lambda: self.proc.poll() is None and get(self.url + "/-/ready")[0] == 200,
                   timeout=timeout, what=f"vigil ready at {self.url} (log: {self.log_path})")

    def metrics(self, accept=None):
        return get(self.url + "/metrics", headers={"Accept": accept} if accept else None)[2]

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def stop(self, sig=signal.SIGTERM, timeout=5):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running(current_vigil, *cleanups):
    """Wraps a test's body: when it raises, the tail of the current vigil's
    log is printed; at the end, whatever happened, that vigil is cleaned up
    and then each cleanup is called in order. `current_vigil` returns the
    Vigil in use (None before it starts), as tests restart it."""
    try:
        yield
    except Exception:
        v = current_vigil()
        if v is not None:
            print("--- vigil log (tail) ---\n" + v.logs()[-3000:])
        raise
    finally:
        v = current_vigil()
        if v is not None:
            v.cleanup()
        for cleanup in cleanups:
            cleanup()


RPC_SERVER = """import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def write_rpc_server(directory):
    """Writes a tiny HTTP "RPC" for test units (`python3 rpc.py PORT [name]`:
    200 on every GET; a SIGSTOP makes it hang) and returns its path."""
    path = os.path.join(directory, "rpc.py")
    with open(path, "w") as f:
        f.write(RPC_SERVER)
    return path


def webhook_alerts(hooks_url, alertname, service=None, status=None):
    """The alerts the webhooks emulator received in Alertmanager's payloads,
    filtered by alertname and optionally service and status."""
    out = []
    for e in json.loads(get(hooks_url + "/_events")[2]):
        if e["kind"] != "webhook":
            continue
        for al in e["data"]["alerts"]:
            labels = al["labels"]
            if labels.get("alertname") == alertname and (service is None or labels.get("service") == service) and (
                    status is None or al["status"] == status):
                out.append(al)
    return out


def rss_mib(pid):
    """The process's resident set (VmRSS) in MiB; 0 if it has none."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cli(binary, *args, timeout=30):
    """Runs `vigil ARGS`; returns (exit code, stdout, stderr)."""
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


class UserSystemd:
    """A private `systemd --user` with its own runtime dir, bus and unit files
    (recipe: ../shared/design/TESTING.md). Sets XDG_RUNTIME_DIR,
    XDG_CONFIG_HOME and DBUS_SESSION_BUS_ADDRESS in os.environ so systemctl
    and vigil (systemd: {bus: user}) find it. Raises SkipTest-worthy
    RuntimeError when systemd is missing or does not come up."""

    BINARY = "/lib/systemd/systemd"
    # Where a manager can get a cgroup of its own: two managers in one cgroup
    # fight over its subtree (hence ctest's systemd_user lock). The named
    # systemd hierarchy and the unified one of a hybrid layout, or the one
    # unified hierarchy.
    CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
    CGROUP_V2_ROOT = "/sys/fs/cgroup"

    def __init__(self, units, own_cgroup=False):
        if not os.path.exists(self.BINARY) or not shutil.which("systemctl"):
            raise RuntimeError("systemd is not installed (scripts/setup.sh installs it)")
        try:
            os.makedirs("/run/systemd/system", exist_ok=True)  # how libsystemd decides "booted with systemd"
        except OSError as e:
            raise RuntimeError(f"cannot create /run/systemd/system: {e}")
        self.runtime = tempfile.mkdtemp(prefix="vigil-sd.")
        os.chmod(self.runtime, 0o700)
        self.units_dir = os.path.join(self.runtime, "config", "systemd", "user")
        os.makedirs(self.units_dir)
        os.environ["XDG_RUNTIME_DIR"] = self.runtime
        os.environ["XDG_CONFIG_HOME"] = os.path.join(self.runtime, "config")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.runtime}/bus"
        for name, text in units.items():
            with open(os.path.join(self.units_dir, name), "w") as f:
                f.write(text)
        self.log_path = os.path.join(self.runtime, "systemd.log")
        self.log = open(self.log_path, "w")
        self.proc = None
        self.cgroups = self._make_cgroups() if own_cgroup else []
        if own_cgroup and not self.cgroups:
            self.cleanup()
            raise RuntimeError("cannot make a cgroup for a private systemd --user (needs root and a writable "
                               "/sys/fs/cgroup)")
        self.start()
        try:
            wait_until(lambda: os.path.exists(f"{self.runtime}/systemd/private") and
                       os.path.exists(f"{self.runtime}/bus"), timeout=15, what="systemd --user and its bus")
            wait_until(self.manager_up, timeout=10, what="systemctl answering")
        except AssertionError as e:
            tail = open(self.log_path).read()[-2000:]
            self.cleanup()
            raise RuntimeError(f"systemd --user did not start: {e}\n{tail}")

    def _make_cgroups(self):
        if os.path.exists(os.path.join(self.CGROUP_V2_ROOT, "cgroup.procs")):
            roots = [self.CGROUP_V2_ROOT]
        else:
            roots = [r for r in self.CGROUP_ROOTS if os.path.exists(os.path.join(r, "cgroup.procs"))]
        made = []
        for root in roots:
            path = os.path.join(root, "vigil-test-" + os.path.basename(self.runtime))
            try:
                os.mkdir(path)
            except OSError:
                break
            made.append(path)
        if len(made) != len(roots) or not made:
            for path in made:
                os.rmdir(path)
            return []
        return made

    def _enter_cgroups(self):
        for path in self.cgroups:  # in the child, before exec: the manager starts in its own cgroup
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def start(self):
        self.proc = subprocess.Popen([self.BINARY, "--user"], stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=self._enter_cgroups if self.cgroups else None)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def manager_up(self):
        r = subprocess.run(["systemctl", "--user", "show", "-p", "Version", "--value"], capture_output=True,
                           text=True, timeout=5)
        return r.returncode == 0 and r.stdout.strip() != ""

    def systemctl(self, *args, check=True):
        r = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError(f"systemctl --user {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout.strip()

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.runtime, ignore_errors=True)
        for path in reversed(self.cgroups):
            # Empty once the manager and its units are gone; the units' own cgroups go first.
            for sub, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def user_systemd_or_skip(units, scratch=None, own_cgroup=False):
    """A UserSystemd running `units`, or the test skips (removing `scratch`, a
    temporary directory it made) when systemd cannot run here."""
    try:
        return UserSystemd(units, own_cgroup)
    except RuntimeError as e:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        skip(str(e))


class Emulator:
    """An emulated peer from tests/emulators on a free loopback port."""

    def __init__(self, source_dir, name, *extra_args, python=None, port_arg=True):
        script = os.path.join(source_dir, "tests", "emulators", name + ".py")
        args = ["--port", "0"] if port_arg else []
        self.proc = subprocess.Popen([python or sys.executable, script, *args, *extra_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise AssertionError(f"emulator {name} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def scenario(self, mode, **fields):
        body = json.dumps({"mode": mode, **fields}).encode()
        req = urllib.request.Request(self.url + "/_scenario", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def parse_exposition(text):
    """Returns {name: {"type": t, "samples": {frozenset(labels): value}}} for text format 0.0.4."""
    families = {}
    types = {}
    sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, t = line.split(" ", 3)
            types[name] = t
            continue
        if not line or line.startswith("#"):
            continue
        m = sample_re.match(line)
        if not m:
            raise AssertionError(f"unparsable exposition line: {line!r}")
        name, labels = m.group(1), frozenset(label_re.findall(m.group(3) or ""))
        fam = families.setdefault(name, {"type": types.get(name, "untyped"), "samples": {}})
        fam["samples"][labels] = float(m.group(4))
    return families


class Checks:
    """Collects named pass/fail results and prints 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
