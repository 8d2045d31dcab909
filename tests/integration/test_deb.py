"""vigil's Debian package (scripts/build-deb.sh, `make deb`): built from the
binary under test (or taken from VIGIL_DEB), lintian finds no error or
warning, the contents and conffiles are the documented ones, the packaged
binary is stripped and accepts the packaged config and rule packs, the
packaged unit passes `systemd-analyze verify` and rates <= 2.0, and the
polkit rule grants exactly the listed units (run under node with a stand-in
polkit object). Nothing is installed on this machine unless
VIGIL_TEST_DPKG_INSTALL=1: then the package is really installed, removed and
purged with dpkg (it must not be installed, nor a `vigil` user exist, before)."""
import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()

MAX_EXPOSURE = 2.0
for tool in ("dpkg-deb", "dpkg-shlibdeps", "lintian", "help2man"):
    vt.need(tool)
analyze = vt.need("systemd-analyze")


def run(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def version_of(binary):
    m = re.match(r"vigil version (\S+)", run(binary, "version").stdout)
    return m.group(1) if m else None


tmp = tempfile.mkdtemp(prefix="vigil-deb.")
try:
    deb = os.environ.get("VIGIL_DEB")
    if not deb:
        r = run(os.path.join(a.source_dir, "scripts", "build-deb.sh"), "--vigil", a.vigil,
                "--out", os.path.join(tmp, "out"), "--no-dbgsym", timeout=300)
        c.check("scripts/build-deb.sh builds the package", r.returncode == 0, r.stdout + r.stderr)
        if r.returncode != 0:
            c.finish()
        deb = r.stdout.strip().splitlines()[-1]
    print(f"package: {deb}")

    # lintian: no error, no warning (overrides need a reason in deploy/debian/).
    # Judged on the package `make deb` ships, not on one of the ASan build
    # (make test-sanitize), which is never released.
    sanitized = re.search(r"\[lib(asan|ubsan)\.so", run("readelf", "-d", a.vigil).stdout)
    if sanitized:
        print("note: a sanitizer build; lintian is run on the package of the plain build only")
    else:
        r = run("lintian", "--display-info", "--pedantic", "--tag-display-limit", "0", deb, timeout=180)
        tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIPXCO]: ", line)]
        for line in tags:
            print(f"lintian: {line}")
        bad = [line for line in tags if line.startswith(("E:", "W:"))]
        c.check("lintian: no errors or warnings", r.returncode == 0 and not bad,
                f"rc={r.returncode} {bad} {r.stderr[-500:]}")

    # Control fields.
    fields = {}
    for key in ("Package", "Version", "Architecture", "Depends", "Section", "Maintainer"):
        fields[key] = run("dpkg-deb", "-f", deb, key).stdout.strip()
    want_version = version_of(a.vigil)
    c.check("Package: vigil", fields["Package"] == "vigil", fields["Package"])
    c.check(f"Version is the binary's ({want_version})", fields["Version"] == want_version, fields["Version"])
    depends = [d.strip().split(" ")[0] for d in fields["Depends"].split(",")]
    for dep in ("adduser", "libc6", "libsystemd0", "libstdc++6"):
        c.check(f"Depends on {dep}", dep in depends, fields["Depends"])

    # Contents: paths and modes.
    listing = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        parts = line.split(None, 5)
        listing[parts[5].split(" -> ")[0].lstrip(".")] = (parts[0], parts[1])
    expected = {
        "/usr/bin/vigil": "-rwxr-xr-x",
        "/lib/systemd/system/vigil.service": "-rw-r--r--",
        "/etc/vigil/vigil.yml": "-rw-r--r--",
        "/etc/vigil/recovery-units": "-rw-r--r--",
        "/usr/share/vigil/rules/host.yml": "-rw-r--r--",
        "/usr/share/vigil/rules/validator.yml": "-rw-r--r--",
        "/usr/share/vigil/rules/liveness-and-saturation.yml": "-rw-r--r--",
        "/usr/share/polkit-1/rules.d/50-vigil.rules": "-rw-r--r--",
        "/usr/share/doc/vigil/examples/web-config.yml": "-rw-r--r--",
        "/usr/share/doc/vigil/copyright": "-rw-r--r--",
        "/usr/share/doc/vigil/changelog.gz": "-rw-r--r--",
        "/usr/share/man/man1/vigil.1.gz": "-rw-r--r--",
    }
    for path, mode in expected.items():
        got = listing.get(path)
        c.check(f"ships {path} {mode} root/root", got == (mode, "root/root"), f"got {got}")
    c.check("ships nothing under /var/lib (postinst creates the data dir)",
            not any(p.startswith("/var/lib") for p in listing), sorted(listing))

    root = os.path.join(tmp, "root")
    control = os.path.join(tmp, "DEBIAN")
    run("dpkg-deb", "-x", deb, root, check=True)
    run("dpkg-deb", "-e", deb, control, check=True)
    with open(os.path.join(control, "conffiles")) as f:
        conffiles = sorted(f.read().split())
    c.check("conffiles: the config and the recovery unit list",
            conffiles == ["/etc/vigil/recovery-units", "/etc/vigil/vigil.yml"], conffiles)
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control, script)
        ok = os.path.exists(path) and os.stat(path).st_mode & stat.S_IXUSR
        r = run("sh", "-n", path) if ok else None
        c.check(f"{script} is an executable sh script", ok and r.returncode == 0, r.stderr if r else "missing")

    # The packaged binary: stripped, runs, accepts the packaged config and packs.
    vigil = os.path.join(root, "usr", "bin", "vigil")
    sections = run("readelf", "-S", "-W", vigil).stdout
    c.check("/usr/bin/vigil is stripped", ".symtab" not in sections and ".debug_info" not in sections)
    c.check("/usr/bin/vigil runs", version_of(vigil) == want_version)
    config = os.path.join(root, "etc", "vigil", "vigil.yml")
    r = run(vigil, "check", "config", config)
    c.check("vigil check config /etc/vigil/vigil.yml", r.returncode == 0, r.stdout + r.stderr)
    with open(config) as f:
        text = f.read()
    m = re.search(r"^global:\n(?:(?:  .*|#.*|)\n)*?  listen: (\S+)", text, re.M)
    c.check("the config listens on 127.0.0.1 only", m is not None and m.group(1).startswith("127.0.0.1:"),
            m.group(1) if m else "no global.listen")
    c.check("the config keeps data in /var/lib/vigil", re.search(r"^  data_dir: /var/lib/vigil\b", text, re.M))
    packs = sorted(os.path.join(root, "usr/share/vigil/rules", p) for p in os.listdir(os.path.join(root, "usr/share/vigil/rules")))
    r = run(vigil, "check", "rules", *packs)
    c.check("vigil check rules /usr/share/vigil/rules/*", r.returncode == 0, r.stdout + r.stderr)
    with open(os.path.join(root, "usr/share/doc/vigil/examples/web-config.yml")) as f:
        web = f.read()
    c.check("web-config.yml has tls_server_config and basic_auth_users",
            re.search(r"^tls_server_config:", web, re.M) and re.search(r"^basic_auth_users:\n  \w+: \$2[aby]\$", web, re.M))

    # The packaged unit: the paths the package installs, verify, security.
    unit = os.path.join(root, "lib", "systemd", "system", "vigil.service")
    with open(unit) as f:
        unit_text = f.read()
    c.check("unit runs /usr/bin/vigil on /etc/vigil/vigil.yml and /var/lib/vigil",
            "ExecStart=/usr/bin/vigil run --config /etc/vigil/vigil.yml --data-dir /var/lib/vigil" in unit_text)
    c.check("unit runs as User=vigil", re.search(r"^User=vigil$", unit_text, re.M))
    helptext = run(analyze, "security", "--help").stdout
    if "--offline" in helptext:
        r = run(analyze, "security", "--offline=yes", unit)
        m = re.search(r"Overall exposure level for vigil\.service: (\d+\.\d) (\w+)", r.stdout)
        print(m.group(0) if m else r.stdout[-500:])
        c.check(f"systemd-analyze security <= {MAX_EXPOSURE}", m is not None and float(m.group(1)) <= MAX_EXPOSURE,
                r.stdout[-2000:])
    else:
        print(f"note: {analyze} has no --offline; exposure not rated")
    verify_dir = os.path.join(tmp, "verify")
    os.makedirs(verify_dir)
    with open(os.path.join(verify_dir, "vigil.service"), "w") as f:
        f.write(unit_text.replace("ExecStart=/usr/bin/vigil ", f"ExecStart={vigil} "))
    r = run(analyze, "verify", os.path.join(verify_dir, "vigil.service"))
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    c.check("systemd-analyze verify accepts the packaged unit", r.returncode == 0 and not problems, problems)

    # The polkit rule, evaluated by node with polkit's API stood in: spawn runs
    # the argv for real and throws on a non-zero exit, as polkitd's does.
    node = shutil.which("node")
    if node:
        units_file = os.path.join(tmp, "recovery-units")
        with open(os.path.join(root, "etc/vigil/recovery-units")) as f:
            shipped_units = f.read()
        with open(units_file, "w") as f:
            f.write(shipped_units + "arch-validator@ops.service\narch-titan@ops.service\n")
        with open(os.path.join(root, "usr/share/polkit-1/rules.d/50-vigil.rules")) as f:
            rule = f.read()
        c.check("the rule reads /etc/vigil/recovery-units", "/etc/vigil/recovery-units" in rule)
        cases = [  # user, action, unit, verb, expected
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-validator@ops.service", "restart", "yes"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-titan@ops.service", "stop", "yes"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-titan@ops.service", "reset-failed", "yes"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "ssh.service", "restart", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-titan@ops", "restart", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-titan@ops.service", "set-property", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "arch-titan@ops.service", "kill", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "--file=/etc/shadow", "restart", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", ".*", "restart", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-units", "# /etc/vigil/recovery-units: the systemd units the `vigil` user may start,", "restart", "not_handled"),
            ("vigil", "org.freedesktop.systemd1.manage-unit-files", "arch-titan@ops.service", "restart", "not_handled"),
            ("ops", "org.freedesktop.systemd1.manage-units", "arch-titan@ops.service", "restart", "not_handled"),
        ]
        harness = os.path.join(tmp, "polkit-harness.js")
        with open(harness, "w") as f:
            f.write("""
const fs = require('fs'), cp = require('child_process');
const [rulePath, unitsFile, casesJson] = process.argv.slice(2);
const Result = {YES: 'yes', NO: 'no', NOT_HANDLED: 'not_handled', AUTH_ADMIN: 'auth_admin'};
const rules = [];
const polkit = {
  Result, addRule: (f) => rules.push(f), log: () => {},
  spawn: (argv) => {
    const r = cp.spawnSync(argv[0], argv.slice(1), {encoding: 'utf8'});
    if (r.status !== 0) throw new Error('exit ' + r.status);
    return r.stdout;
  },
};
new Function('polkit', fs.readFileSync(rulePath, 'utf8').split('/etc/vigil/recovery-units').join(unitsFile))(polkit);
const out = JSON.parse(casesJson).map(([user, id, unit, verb]) => {
  const action = {id, lookup: (k) => ({unit, verb})[k]};
  for (const rule of rules) {
    const r = rule(action, {user});
    if (r !== Result.NOT_HANDLED) return r;
  }
  return Result.NOT_HANDLED;
});
console.log(JSON.stringify(out));
""")
        r = run(node, harness, os.path.join(root, "usr/share/polkit-1/rules.d/50-vigil.rules"), units_file,
                json.dumps(cases))
        try:
            results = json.loads(r.stdout)
        except ValueError:
            results = None
        c.check("the polkit rule evaluates", results is not None and len(results) == len(cases), r.stdout + r.stderr)
        for case, got in zip(cases, results or []):
            user, action, unit_name, verb, want = case
            c.check(f"polkit: {user} {action.split('.')[-1]} {verb} {unit_name[:40]} -> {want}", got == want, got)
    else:
        print("note: node is not installed; the polkit rule was not evaluated")

    # A real install, remove and purge: only when asked, it changes this machine.
    if os.environ.get("VIGIL_TEST_DPKG_INSTALL") == "1":
        def exists(path):
            return os.path.lexists(path)

        def user_exists():
            return run("getent", "passwd", "vigil").returncode == 0

        def package_present():  # installed, or removed with its conffiles left
            status = run("dpkg-query", "-W", "-f=${Status}", "vigil").stdout
            return status.endswith(" installed") or "config-files" in status

        if package_present() or user_exists() or exists("/var/lib/vigil"):
            vt.skip("a vigil package, user or /var/lib/vigil already exists; not touching them")
        try:
            r = run("dpkg", "-i", deb, timeout=300)
            print(r.stdout + r.stderr)
            c.check("dpkg -i installs", r.returncode == 0, r.stdout + r.stderr)
            c.check("postinst created the system user vigil", user_exists())
            st = os.stat("/var/lib/vigil") if exists("/var/lib/vigil") else None
            c.check("/var/lib/vigil is vigil's, 0700",
                    st is not None and pwd.getpwuid(st.st_uid).pw_name == "vigil" and stat.S_IMODE(st.st_mode) == 0o700,
                    oct(st.st_mode) if st else "missing")
            st = os.stat("/etc/vigil/vigil.yml")
            c.check("/etc/vigil/vigil.yml is root:vigil 0640",
                    grp.getgrgid(st.st_gid).gr_name == "vigil" and stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode))
            r = run("/usr/bin/vigil", "check", "config", "/etc/vigil/vigil.yml")
            print(r.stdout + r.stderr)
            c.check("installed: vigil check config /etc/vigil/vigil.yml", r.returncode == 0, r.stdout + r.stderr)
            r = run("runuser", "-u", "vigil", "--", "/usr/bin/vigil", "check", "config", "/etc/vigil/vigil.yml")
            c.check("the vigil user can read its config", r.returncode == 0, r.stdout + r.stderr)
            c.check("enabled (multi-user.target.wants)", exists("/etc/systemd/system/multi-user.target.wants/vigil.service"))
            r = run("dpkg", "-i", deb, timeout=300)
            c.check("dpkg -i again (reinstall) succeeds", r.returncode == 0, r.stdout + r.stderr)
            with open("/var/lib/vigil/keep", "w") as f:
                f.write("data\n")
            r = run("dpkg", "-r", "vigil", timeout=300)
            print(r.stdout + r.stderr)
            c.check("dpkg -r removes", r.returncode == 0 and not exists("/usr/bin/vigil"), r.stdout + r.stderr)
            c.check("after -r: data, config and user are kept",
                    exists("/var/lib/vigil/keep") and exists("/etc/vigil/vigil.yml") and user_exists())
            r = run("dpkg", "-P", "vigil", timeout=300)
            print(r.stdout + r.stderr)
            c.check("dpkg -P purges", r.returncode == 0, r.stdout + r.stderr)
            c.check("after -P: no data, config, user or group",
                    not exists("/var/lib/vigil") and not exists("/etc/vigil") and not user_exists()
                    and run("getent", "group", "vigil").returncode != 0)
            c.check("after -P: no enablement symlink or statoverride",
                    not exists("/etc/systemd/system/multi-user.target.wants/vigil.service")
                    and "vigil.yml" not in run("dpkg-statoverride", "--list").stdout)
        finally:
            if package_present():
                run("dpkg", "-P", "vigil", timeout=300)
    else:
        print("note: set VIGIL_TEST_DPKG_INSTALL=1 to install, remove and purge it for real (changes this machine)")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

c.finish()
