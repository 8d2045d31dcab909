#!/usr/bin/python3
"""A local SMTP server (Debian's python3-aiosmtpd) for the email receiver:
STARTTLS offered and, with --require-starttls, required before MAIL (530
otherwise); AUTH PLAIN/LOGIN accepted for --user/--password when given.
Each accepted message is appended to --out as one JSON line {mail_from,
rcpt_tos, tls, data}. The first stdout line is "PORT <n>".

Runs under the system python (/usr/bin/python3), where Debian installs aiosmtpd.
"""
import argparse
import json
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        with open(self.out, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "tls": session.ssl is not None,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kwargs = {}
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        kwargs.update(tls_context=ctx, require_starttls=a.require_starttls)
    if a.user:
        def auth(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == a.user and \
                data.password.decode() == a.password
            return AuthResult(success=ok)
        kwargs.update(authenticator=auth, auth_require_tls=bool(a.cert))
    c = Controller(Handler(a.out), hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    print(f"PORT {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
