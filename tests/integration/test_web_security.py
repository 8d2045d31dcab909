"""HTTP security against a running vigil with a web configuration file
(docs/security.md): TLS made by the openssl CLI, basic_auth_users with
bcrypt, reads per read_access, a reload on SIGHUP, a cross-site form post in
headless Chromium, curl and a real Prometheus scraping over TLS with basic
auth, limits (10 MiB body, 500 idle connections) and the refusal to listen
beyond loopback without authentication."""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import vigiltest as vt

a = vt.args()
c = vt.Checks()
curl = vt.need("curl")
openssl = vt.need("openssl")
work = tempfile.mkdtemp(prefix="vigil-websec.")
PASSWORD = "correct horse battery staple"


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, **kw)


# A CA and a server certificate for 127.0.0.1, made by the openssl CLI.
def make_certificates():
    p = lambda n: os.path.join(work, n)
    run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"),
        "-days", "2", "-subj", "/CN=vigil test CA", check=True)
    run(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=127.0.0.1", check=True)
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(openssl, "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile", p("ext.cnf"), check=True)


def hash_password(password):
    r = run(a.vigil, "hash-password", "--cost", "4", input=password + "\n")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def write_web_config(password, read_access="authenticated"):
    with open(os.path.join(work, "web.yml"), "w") as f:
        f.write(f"""tls_server_config:
  cert_file: server.pem
  key_file: server.key
  min_version: TLS12
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  alice: {hash_password(password)}
read_access: {read_access}
""")


def curl_status(url, *extra, user=None):
    cmd = [curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", os.path.join(work, "ca.pem"),
           "--max-time", "10", *extra]
    if user:
        cmd += ["-u", user]
    r = run(*cmd, url)
    return int(r.stdout or 0), r.returncode


def silence_body(name):
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    return json.dumps({"matchers": [{"name": "alertname", "value": name, "isRegex": False}],
                       "startsAt": iso(now), "endsAt": iso(now + 3600), "createdBy": "test", "comment": "websec"})


v = None
prom = None
evil = None
try:
    make_certificates()
    write_web_config(PASSWORD)
    r = run(a.vigil, "check", "web-config", os.path.join(work, "web.yml"))
    c.check("vigil check web-config accepts the file", r.returncode == 0 and "valid (TLS, 1 users)" in r.stdout,
            r.stdout + r.stderr)

    v = vt.Vigil(a.vigil, "global: {scrape_interval: 1s}\nhost: {interval: 1s}\n",
                 extra_args=["--web.config.file", os.path.join(work, "web.yml")])
    base = f"https://127.0.0.1:{v.port}"
    alice = f"alice:{PASSWORD}"
    vt.wait_until(lambda: curl_status(base + "/-/ready")[0] == 200, timeout=20, what="vigil ready over TLS")
    c.check("vigil says it serves https", f"https://127.0.0.1:{v.port}/" in v.logs(), v.logs()[-500:])

    def silences():
        r = run(curl, "-s", "--cacert", os.path.join(work, "ca.pem"), "-u", alice, base + "/api/v2/silences")
        return json.loads(r.stdout)

    post = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", silence_body("Websec")]
    c.check("unauthenticated write -> 401", curl_status(base + "/api/v2/silences", *post)[0] == 401)
    c.check("... and nothing changed", silences() == [])
    c.check("wrong password -> 401",
            curl_status(base + "/api/v2/silences", *post, user="alice:wrong")[0] == 401)
    c.check("unknown user -> 401",
            curl_status(base + "/api/v2/silences", *post, user=f"mallory:{PASSWORD}")[0] == 401)
    c.check("correct password -> 200", curl_status(base + "/api/v2/silences", *post, user=alice)[0] == 200)
    c.check("... and the silence exists", len(silences()) == 1)

    c.check("read_access authenticated: a query without credentials -> 401",
            curl_status(base + "/api/v1/query?query=up")[0] == 401)
    c.check("... with credentials -> 200", curl_status(base + "/api/v1/query?query=up", user=alice)[0] == 200)
    c.check("health checks stay open", curl_status(base + "/-/healthy")[0] == 200)
    head = run(curl, "-s", "-D", "-", "-o", "/dev/null", "--cacert", os.path.join(work, "ca.pem"), "-u", alice,
               base + "/").stdout
    c.check("configured security headers are sent", "X-Frame-Options: deny" in head, head)

    # TLS versions and plain HTTP.
    status, rc = curl_status(base + "/-/healthy", "--tlsv1.1", "--tls-max", "1.1")
    c.check(f"a TLS 1.1 client is refused (curl exit {rc})", status == 0 and rc != 0)
    status, rc = curl_status(base + "/-/healthy", "--tlsv1.3")
    c.check("a TLS 1.3 client is served", status == 200, f"rc={rc}")
    plain = run(curl, "-s", "--max-time", "5", f"http://127.0.0.1:{v.port}/-/healthy").stdout
    c.check("plain HTTP to the TLS port gets a plain answer saying so",
            "HTTP request to an HTTPS server" in plain, plain)

    # Limits.
    big = os.path.join(work, "big.json")
    with open(big, "wb") as f:
        f.write(b"x" * (10 << 20))
    status, _ = curl_status(base + "/api/v2/silences", "-X", "POST", "-H", "Content-Type: application/json",
                            "--data-binary", "@" + big, user=alice)
    c.check(f"a 10 MiB body -> 413 (got {status})", status == 413)
    idle = []
    for _ in range(500):
        s = socket.create_connection(("127.0.0.1", v.port), timeout=5)
        idle.append(s)
    time.sleep(0.3)
    timings = []
    for _ in range(5):
        r = run(curl, "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--cacert",
                os.path.join(work, "ca.pem"), base + "/-/healthy")
        code, seconds = r.stdout.split()
        timings.append((int(code), float(seconds)))
    worst = max(t for _, t in timings)
    print(f"/-/healthy with 500 idle connections open: {', '.join(f'{t * 1000:.1f} ms' for _, t in timings)}")
    c.check(f"500 idle connections do not stop /-/healthy (worst {worst * 1000:.1f} ms, TLS handshake included)",
            all(code == 200 for code, _ in timings) and worst < 1.0)
    for s in idle:
        s.close()

    # The command line speaks https with credentials from the environment.
    env = dict(os.environ, VIGIL_HTTP_CA_FILE=os.path.join(work, "ca.pem"))
    r = run(a.vigil, "silence", "list", "--server", base, env=env)
    c.check("vigil silence list without credentials says 401 and what to set",
            r.returncode != 0 and "HTTP 401" in r.stderr and "VIGIL_HTTP_USER" in r.stderr, r.stderr)
    env.update(VIGIL_HTTP_USER="alice", VIGIL_HTTP_PASSWORD=PASSWORD)
    r = run(a.vigil, "silence", "list", "--server", base, env=env)
    c.check("vigil silence list with VIGIL_HTTP_USER/PASSWORD works", r.returncode == 0 and "Websec" in r.stdout,
            r.stdout + r.stderr)

    # A real Prometheus scraping over TLS with basic auth.
    prometheus = shutil.which("prometheus")
    if prometheus:
        pport = vt.free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"""global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: vigil
    scheme: https
    tls_config: {{ca_file: {work}/ca.pem}}
    basic_auth: {{username: alice, password: '{PASSWORD}'}}
    static_configs: [{{targets: ['127.0.0.1:{v.port}']}}]
""")
        plog = open(os.path.join(work, "prometheus.log"), "w")
        prom = subprocess.Popen([prometheus, f"--config.file={work}/prometheus.yml",
                                 f"--storage.tsdb.path={work}/prom", f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=plog, stderr=subprocess.STDOUT)

        def target():
            t = json.loads(vt.get(f"http://127.0.0.1:{pport}/api/v1/targets")[2])["data"]["activeTargets"]
            return t and t[0]["health"] == "up" and t[0]
        t = vt.wait_until(target, timeout=30, interval=0.25, what="Prometheus scraping vigil over TLS")
        c.check("Prometheus 2.42 scrapes vigil over TLS with basic auth", t["health"] == "up", json.dumps(t))
    else:
        c.check("prometheus is installed (scripts/setup.sh installs it)", False)

    # A cross-site form post from another origin, in headless Chromium.
    node, chromium = shutil.which("node"), shutil.which("chromium")
    if node and chromium and os.path.isdir(os.path.join(a.source_dir, "web", "node_modules", "playwright-core")):
        target_url = base + "/api/v2/silences"
        # enctype=text/plain makes the body valid JSON: the classic CSRF on a JSON API.
        page = f"""<!doctype html><form id=f method=POST action="{target_url}" enctype="text/plain">
<input name='{{"matchers":[{{"name":"alertname","value":".*","isRegex":true}}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"attacker","comment":"' value='"}}'>
</form><script>document.getElementById('f').submit()</script>"""

        class Evil(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        before = len(silences())
        r = run(node, os.path.join(a.source_dir, "tests", "browser", "csrf_test.mjs"),
                env=dict(os.environ, VIGIL_URL=base, EVIL_URL=f"http://127.0.0.1:{evil.server_address[1]}",
                         VIGIL_USER="alice", VIGIL_PASSWORD=PASSWORD, CHROMIUM=chromium))
        for line in r.stdout.splitlines():
            if line.startswith(("ok ", "FAIL ")):
                c.check("chromium: " + line.split(" ", 1)[1], line.startswith("ok "))
        c.check("the browser test ran to the end", r.returncode == 0 and "FAIL" not in r.stdout,
                r.stdout[-2000:] + r.stderr[-2000:])
        after = silences()
        c.check("the attacker's silence does not exist",
                len(after) == before + 1 and all(s["createdBy"] != "attacker" for s in after),
                json.dumps(after))
    else:
        c.check("node, chromium and playwright-core are installed (scripts/setup.sh)", False)

    metrics = run(curl, "-s", "--cacert", os.path.join(work, "ca.pem"), "-u", alice, base + "/metrics").stdout
    for reason in ("unauthorized", "cross_origin", "tls_handshake", "body_too_large"):
        line = next((l for l in metrics.splitlines()
                     if l.startswith(f'vigil_http_rejected_total{{reason="{reason}"}}')), "")
        c.check(f"rejections are counted: {line}", line and float(line.split()[-1]) > 0)

    # SIGHUP: open reads and a new password; a broken file keeps the running one.
    write_web_config("new password", read_access="open")
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: curl_status(base + "/api/v1/query?query=up")[0] == 200, timeout=10,
                  what="reads open after the reload")
    c.check("after SIGHUP, read_access open: a query without credentials -> 200", True)
    c.check("... writes still ask", curl_status(base + "/api/v2/silences", *post)[0] == 401)
    c.check("... the old password is refused", curl_status(base + "/api/v2/silences", *post, user=alice)[0] == 401)
    c.check("... the new one works",
            curl_status(base + "/api/v2/silences", *post, user="alice:new password")[0] == 200)
    with open(os.path.join(work, "web.yml"), "a") as f:
        f.write("tls_config: {}\n")
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "web configuration reload failed" in v.logs(), timeout=10, what="the reload to fail")
    c.check("a broken web config on SIGHUP is reported with its line and the running one kept",
            "web.yml:11:1: unknown key" in v.logs() and
            curl_status(base + "/api/v2/silences", *post, user="alice:new password")[0] == 200, v.logs()[-800:])
    logs = v.logs()
    c.check("no password or hash appears in the log", PASSWORD not in logs and "new password" not in logs
            and "$2b$" not in logs)
    c.check("vigil is still running", v.proc.poll() is None)

    # Beyond loopback without authentication: refused before listening.
    r = run(a.vigil, "run", "--data-dir", os.path.join(work, "d2"), "--listen", f"0.0.0.0:{vt.free_port()}")
    c.check("a non-loopback listen without authentication refuses to start",
            r.returncode == 1 and "refusing to listen on 0.0.0.0" in r.stderr and "--web.insecure" in r.stderr,
            r.stderr[-500:])
    c.check("... before creating anything", not os.path.exists(os.path.join(work, "d2")))
finally:
    if evil:
        evil.shutdown()
    vt.stop_process(prom)
    if v:
        if c.failed:
            print("--- vigil log (tail) ---\n" + v.logs()[-3000:])
        v.cleanup()
    shutil.rmtree(work, ignore_errors=True)

c.finish()
