"""`vigil init --preset arch-validator` against a real, private `systemd --user`
(recipe: ../shared/design/TESTING.md): three arch-*@USER units run emulated
bitcoind, titan and validator (tests/emulators) behind wrappers that take the
real programs' options; their ports and paths sit in env files, bitcoin.conf
and a shell script's sourced .envrc. The written config must pass `vigil
check config`, and `vigil run` with it must see the three services up."""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()

USER = "vtinit"  # the units' instance name; no such account, so the home is $HOME
work = tempfile.mkdtemp(prefix="vigil-init.")
emulators = os.path.join(os.path.abspath(a.source_dir), "tests", "emulators")
ports = {name: vt.free_port() for name in ("bitcoind", "titan", "validator")}
bindir = os.path.join(work, "bin")
btc_dir = os.path.join(work, "btc")
log_dir = os.path.join(work, "logs")
for d in (bindir, btc_dir, log_dir):
    os.makedirs(d)

# Wrappers named like the real programs, taking their options, running the emulators.
WRAPPERS = {
    "bitcoind": f"""
import os, sys
datadir = [x.split("=", 1)[1] for x in sys.argv[1:] if x.startswith("-datadir=")][0]
conf = open(os.path.join(datadir, "bitcoin.conf")).read()
port = [l.split("#")[0].split("=", 1)[1].strip() for l in conf.splitlines() if l.startswith("rpcport=")][0]
os.execv(sys.executable, [sys.executable, "{emulators}/bitcoind.py", "--port", port,
                          "--cookie-file", os.path.join(datadir, ".cookie")])
""",
    "titan": f"""
import os, sys
listen = sys.argv[sys.argv.index("--http-listen") + 1]
os.execv(sys.executable, [sys.executable, "{emulators}/titan.py", "--port", listen.rsplit(":", 1)[1]])
""",
    "validator": f"""
import os, sys
port = sys.argv[sys.argv.index("--rpc-bind-port") + 1]
with open(os.path.join(os.environ["LOG_DIR"], "validator.log"), "a") as f:
    f.write("INFO Connected to server at titan\\n")
os.execv(sys.executable, [sys.executable, "{emulators}/validator.py", "--port", port])
""",
}
for name, body in WRAPPERS.items():
    path = os.path.join(bindir, name)
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\n{body}")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)

with open(os.path.join(work, "bitcoind.env"), "w") as f:
    f.write(f"# bitcoind's data\nBTC_DATADIR={btc_dir}\n")
with open(os.path.join(btc_dir, "bitcoin.conf"), "w") as f:
    f.write(f"server=1\nrpcport={ports['bitcoind']}   # the RPC\n")
with open(os.path.join(work, "titan.env"), "w") as f:
    f.write(f"TITAN_LISTEN='0.0.0.0:{ports['titan']}'\nexport TITAN_UNSEEN=1\n")
with open(os.path.join(work, "validator.envrc"), "w") as f:
    f.write(f"export RPC_PORT={ports['validator']}\nexport LOG_DIR=\"{log_dir}\"  # where validator.log goes\n")

UNITS = {
    f"arch-bitcoind@{USER}.service":
        f"[Service]\nEnvironmentFile={work}/bitcoind.env\nExecStart={bindir}/bitcoind -datadir=${{BTC_DATADIR}} -server\n",
    f"arch-titan@{USER}.service":
        f"[Service]\nEnvironmentFile={work}/titan.env\n"
        f"ExecStart={bindir}/titan --http-listen ${{TITAN_LISTEN}} --data-dir {work}/titan\n",
    # $$: systemd leaves $RPC_PORT to the shell, which sets it from the sourced file.
    f"arch-validator@{USER}.service":
        f"[Service]\nWorkingDirectory={work}\n"
        f"ExecStart=/bin/sh -c '. ./validator.envrc && exec {bindir}/validator --rpc-bind-port $$RPC_PORT'\n",
    # Another arch-*@USER unit: a service with just its unit.
    f"arch-electrs@{USER}.service": "[Service]\nExecStart=/bin/sleep 1000\n",
    # A second instance whose only unit systemd cannot load (a relative ExecStart).
    "arch-titan@vtbad.service": "[Service]\nExecStart=bin/titan\n",
}
STACK = [u for u in UNITS if u.endswith(f"@{USER}.service") and "electrs" not in u]
sd = vt.user_systemd_or_skip(UNITS, work)


def vigil(*args, timeout=30):
    return subprocess.run([a.vigil, *args], capture_output=True, text=True, timeout=timeout)


v = None
with vt.running(lambda: v, lambda: sd.cleanup(), lambda: shutil.rmtree(work, ignore_errors=True)):
    for unit in STACK:
        sd.systemctl("start", unit)
    for name, port in ports.items():  # the emulators answer: the units started and stay up
        vt.wait_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, timeout=15,
                      what=f"{name} listening on {port}")

    cfg = os.path.join(work, "cfg.yml")
    r = vigil("init", "--preset", "arch-validator", "--user", USER, "--user-bus", "--write", cfg)
    c.check("init writes the file", r.returncode == 0 and os.path.exists(cfg), f"rc={r.returncode} {r.stderr}")
    print("--- init's notes ---\n" + r.stderr)
    text = open(cfg).read() if os.path.exists(cfg) else ""
    print("--- cfg.yml ---\n" + text)
    c.check("bitcoind's port from bitcoin.conf", f"url: 'http://127.0.0.1:{ports['bitcoind']}/'   # rpcport= in "
            f"{btc_dir}/bitcoin.conf" in text)
    c.check("bitcoind's cookie under -datadir", f"cookie_file: '{btc_dir}/.cookie'" in text)
    c.check("titan's port from its EnvironmentFile", f"url: 'http://127.0.0.1:{ports['titan']}'" in text)
    c.check("validator's port from the sourced .envrc", f"url: 'http://127.0.0.1:{ports['validator']}/'   # --rpc-bind-port "
            f"in ExecStart= of arch-validator@{USER}.service; $RPC_PORT from {work}/validator.envrc" in text)
    c.check("validator's log from LOG_DIR", f"- path: '{log_dir}/validator.log'" in text)
    c.check("dependencies", text.count("depends_on: [bitcoind]") == 1 and text.count("depends_on: [titan]") == 1)
    c.check("user bus", "bus: user" in text)
    c.check("other arch-*@USER units are services with their unit",
            f"  electrs:   # no module for it: its unit state only\n    unit: 'arch-electrs@{USER}.service'" in text)
    c.check("a note that systemd ignores export lines in EnvironmentFile=",
            f"note: arch-titan@{USER}.service: EnvironmentFile={work}/titan.env sets TITAN_UNSEEN with `export`, "
            "which systemd ignores" in r.stderr, r.stderr)

    r = vigil("check", "config", cfg)
    c.check("vigil check config passes", r.returncode == 0, r.stdout + r.stderr)

    r = vigil("init", "--preset", "arch-validator", "--user", USER, "--user-bus", "--write", cfg)
    c.check("an existing file is not overwritten", r.returncode == 1 and "--force" in r.stderr,
            f"rc={r.returncode} {r.stderr}")
    r = vigil("init", "--preset", "arch-validator", "--user", USER, "--user-bus", "--dry-run", "--write", cfg, "--force")
    c.check("--dry-run prints and writes nothing", r.returncode == 0 and r.stdout == text, f"rc={r.returncode} {r.stderr}")
    r = vigil("init", "--preset", "arch-validator", "--user-bus")
    c.check("without --user, several instances are an error naming them",
            r.returncode == 1 and f"several users (vtbad, {USER})" in r.stderr, r.stderr)
    r = vigil("init", "--preset", "arch-validator", "--user", "vtbad", "--user-bus")
    c.check("a unit systemd cannot load: the error says why",
            r.returncode == 1 and "arch-titan@vtbad.service is bad-setting in " in r.stderr and
            "no loadable arch-*@vtbad.service units" in r.stderr, r.stderr)
    r = vigil("init", "--preset", "arch-validator", "--user", "nobody-here", "--user-bus")
    c.check("no units: an error that says so", r.returncode == 1 and "no loadable arch-*@nobody-here.service units" in r.stderr,
            r.stderr)
    r = vigil("init", "--preset", "cosmos", "--user-bus")
    c.check("unknown preset", r.returncode == 2 and "unknown preset" in r.stderr, r.stderr)

    v = vt.Vigil(a.vigil, extra_args=["--config", cfg])
    v.wait_ready(timeout=15)

    def services_up():
        res = vt.api(v.url, "/api/v1/query", query="vigil_service_up")["result"]
        up = {s["metric"].get("service"): s["value"][1] for s in res}
        return up if all(up.get(s) == "1" for s in ("bitcoind", "titan", "validator")) else None

    try:
        up = vt.wait_until(services_up, timeout=45, interval=0.5, what="bitcoind, titan and validator up")
        c.check("vigil run with the written config sees the three services up", True)
    except AssertionError as e:
        c.check("vigil run with the written config sees the three services up", False, str(e))
        res = vt.api(v.url, "/api/v1/query", query='{__name__=~"vigil_(service_up|.*_up|.*error.*|probe_success)"}')
        for s in res["result"]:
            print(s["metric"], s["value"][1])
        print(v.logs()[-3000:])
    res = vt.api(v.url, "/api/v1/query", query="vigil_bitcoind_up")["result"]
    c.check("bitcoind's module authenticates with the cookie", [x["value"][1] for x in res] == ["1"], json.dumps(res))

c.finish()
