"""The command line: help, version, `check config`, and every kind of bad
input exiting 1 with a clear file:line (or address) message, never a crash."""
import os
import socket
import subprocess
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()
tmp = tempfile.mkdtemp(prefix="vigil-cli.")


def run(*argv, env=None, timeout=20):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([a.vigil, *argv], capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout + p.stderr


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# --help on every command; version.
for argv in (["--help"], ["run", "--help"], ["check", "--help"], ["check", "config", "--help"], ["version", "--help"]):
    rc, out = run(*argv)
    c.check(f"{' '.join(argv)} exits 0 with usage", rc == 0 and "Usage" in out, out[:200])
rc, out = run("version")
c.check("version prints the version", rc == 0 and out.startswith("vigil version "), out)
rc, out = run()
c.check("no subcommand is a usage error", rc != 0 and "subcommand" in out.lower(), out)

# The shipped default config is valid.
rc, out = run("check", "config", os.path.join(a.source_dir, "deploy", "default.yml"))
c.check("check config accepts deploy/default.yml", rc == 0 and "valid" in out, out)
# The deploy example takes every receiver secret from the environment.
STACK = os.path.join(a.source_dir, "deploy", "validator-stack.yml")
SECRETS = {"PAGERDUTY_ROUTING_KEY": "dummy-pd-key-0001", "TWILIO_ACCOUNT_SID": "ACdummy0002",
           "TWILIO_AUTH_TOKEN": "dummy-twilio-token-0003", "TWILIO_FROM": "+15550000004", "ONCALL_PHONE": "+15550000005",
           "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/dummy-slack-0006",
           "SMTP_SMARTHOST": "smtp.example.org:587", "SMTP_USERNAME": "vigil-smtp-user-0008",
           "SMTP_PASSWORD": "dummy-smtp-password-0007", "ALERT_EMAIL_TO": "ops-0009@example.org"}


def run_clean_env(*argv, env):
    e = {k: v for k, v in os.environ.items() if k not in SECRETS}
    e.update(env)
    p = subprocess.run([a.vigil, *argv], capture_output=True, text=True, timeout=20, env=e)
    return p.returncode, p.stdout + p.stderr


rc, out = run_clean_env("check", "config", STACK, env=SECRETS)
c.check("check config accepts deploy/validator-stack.yml with its rules and receivers (secrets set)",
        rc == 0 and "valid (3 rule files, 31 rules)" in out, out)
partial = {k: v for k, v in SECRETS.items() if k != "SLACK_WEBHOOK_URL"}
rc, out = run_clean_env("check", "config", STACK, env=partial)
c.check("deploy/validator-stack.yml without SLACK_WEBHOOK_URL: exits 1 naming the variable, showing no value",
        rc == 1 and "environment variable SLACK_WEBHOOK_URL is not set" in out and
        not any(v in out for v in partial.values()), out)
rc, out = run_clean_env("check", "config", STACK, env={})
c.check("deploy/validator-stack.yml without any secret: every missing variable is named",
        rc == 1 and all(f"environment variable {k} is not set" in out for k in SECRETS), out)

# One test per kind of bad input: (name, config text, env, expected line:col prefix, expected words).
cases = [
    ("unknown key", "global:\n  listen: 127.0.0.1:0\n  bogus_key: 1\n", {}, ":3:3:", 'unknown key "bogus_key"'),
    ("wrong type", "host:\n  interval: [1s]\n", {}, ":2:13:", "expected a string, got a list"),
    ("bad duration", "host:\n  interval: 15 seconds\n", {}, ":2:13:", "invalid duration"),
    ("unset variable", "global:\n  data_dir: ${VIGIL_TEST_UNSET_VAR}\n", {}, ":2:13:",
     "environment variable VIGIL_TEST_UNSET_VAR is not set"),
    ("missing env file", "env_files:\n  - /nonexistent/vigil.env\n", {}, ":2:5:", "cannot read env file"),
    ("invalid yaml", "global: [\n", {}, ":", "invalid YAML"),
]
# A rule file the config names is checked by both, with its own file:line.
bad_rules = write("bad_rules.yml", "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: 'rate(('\n")
cases.append(("bad rule file", f"rule_files: ['{bad_rules}']\n", {}, None, f"{bad_rules}:5:"))
for name, text, env, pos, words in cases:
    if pos is None:  # the problem is in another file than the config
        path = write(name.replace(" ", "_") + ".yml", text)
        for argv in (["check", "config", path], ["run", "--config", path, "--listen", "127.0.0.1:0", "--data-dir", tmp]):
            rc, out = run(*argv, env=env)
            c.check(f"{name}: {argv[0]} exits 1 naming {words}", rc == 1 and words in out, repr(out))
        continue
    path = write(name.replace(" ", "_") + ".yml", text)
    for argv in (["check", "config", path], ["run", "--config", path, "--listen", "127.0.0.1:0", "--data-dir", tmp]):
        rc, out = run(*argv, env=env)
        ok = rc == 1 and (path + pos) in out and words in out
        c.check(f"{name}: {argv[0]} exits 1 with {path.split('/')[-1]}{pos} {words}", ok, repr(out))

# Unreadable config: a missing file and a directory.
rc, out = run("check", "config", os.path.join(tmp, "missing.yml"))
c.check("missing config file", rc == 1 and "missing.yml: cannot read config: No such file or directory" in out, out)
rc, out = run("run", "--config", tmp, "--listen", "127.0.0.1:0", "--data-dir", tmp)
c.check("config that is a directory", rc == 1 and "cannot read config: is a directory" in out, out)

# A secret from an env file never shows up in errors.
envf = write("secret.env", "export API_TOKEN=s3cr3t-value\n")
path = write("secret.yml", f"env_files: [{envf}]\nglobal:\n  listen: ${{API_TOKEN}}\n  log_level: ${{API_TOKEN}}\n")
rc, out = run("check", "config", path)
c.check("errors never print values that came from variables", rc == 1 and "s3cr3t-value" not in out, out)

# Port already in use: exits 1 naming the address and the reason.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    rc, out = run("run", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(tmp, "d"))
    c.check("port in use", rc == 1 and f"listen 127.0.0.1:{port}: Address already in use" in out, out)
rc, out = run("run", "--listen", "127.0.0.1:99999", "--data-dir", os.path.join(tmp, "d"))
c.check("bad listen address", rc == 1 and "bad port" in out, out)

c.finish()
