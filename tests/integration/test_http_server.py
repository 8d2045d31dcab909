"""vigil's HTTP server under hostile and unusual clients: hundreds of idle
connections and clients holding partial requests must not delay /-/healthy or
/metrics; keep-alive, pipelining, HTTP/1.0, limits (413, 431, 400) and the
slowloris timeout behave; SIGTERM with every connection open exits promptly."""
import http.client
import json
import signal
import socket
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()

IDLE, PARTIAL = 500, 50
HEADER_TIMEOUT_S = 10  # the server's default


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, timeout=5.0, buf=b""):
    """One response from a raw socket: (status, headers, body, leftover bytes);
    `buf` is what the previous call left over (pipelining)."""
    s.settimeout(timeout)
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {buf[:200]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length].decode("latin-1"), rest[length:]


def timed_get(port, path, timeout=10.0):
    start = time.monotonic()
    s = connect(port)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        status, _, body, _ = read_response(s, timeout)
    finally:
        s.close()
    return status, time.monotonic() - start, body


def closed_by_server(s, timeout):
    """True when the server closes `s` (reads EOF) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True  # reset
    return False


v = vt.Vigil(a.vigil, "global:\n  scrape_interval: 1s\nhost:\n  interval: 1s\n")
held = []
with vt.running(lambda: v, lambda: [s.close() for s in held]):
    v.wait_ready()
    port = v.port

    # A slowloris: one header byte at a time keeps a per-byte timeout happy
    # forever; the server's timeout counts from the request's first byte.
    loris = connect(port)
    loris.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n")
    loris_start = time.monotonic()

    for _ in range(IDLE):
        held.append(connect(port))
    for i in range(PARTIAL):
        s = connect(port)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Partial: ")
        held.append(s)

    for path in ("/-/healthy", "/metrics"):
        try:
            status, took, _ = timed_get(port, path)
            c.check(f"{path} answers within 2 s with {IDLE} idle and {PARTIAL} partial clients open",
                    status == 200 and took < 2.0, f"status {status} after {took:.2f}s")
        except Exception as e:
            c.check(f"{path} answers with {IDLE} idle and {PARTIAL} partial clients open", False, repr(e))

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        bodies = []
        for _ in range(3):
            conn.request("GET", "/-/healthy")
            r = conn.getresponse()
            bodies.append(r.read().decode())
        sock_reused = conn.sock is not None
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        r = conn.getresponse()
        gz = r.read()
        c.check("keep-alive: three requests on one connection", bodies == ["vigil is Healthy.\n"] * 3 and sock_reused,
                bodies)
        c.check("/metrics is gzipped for Prometheus' Accept-Encoding: gzip",
                r.getheader("Content-Encoding") == "gzip" and gz[:2] == b"\x1f\x8b", r.getheaders())
        conn.close()
    except Exception as e:
        c.check("keep-alive", False, repr(e))

    try:
        s = connect(port)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /-/ready HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        got = []
        rest = b""
        for _ in range(3):
            status, _, body, rest = read_response(s, buf=rest)
            got.append((status, body))
        s.close()
        c.check("pipelined requests answered in order",
                [g[0] for g in got] == [200, 200, 404] and got[0][1] == "vigil is Healthy.\n", got)
    except Exception as e:
        c.check("pipelined requests", False, repr(e))

    try:
        s = connect(port)
        s.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        status, headers, body, _ = read_response(s)
        c.check("HTTP/1.0 answered and closed", status == 200 and closed_by_server(s, 3), headers)
        s.close()
    except Exception as e:
        c.check("HTTP/1.0", False, repr(e))

    def raw(request, what, want_status, want_text):
        try:
            s = connect(port)
            s.sendall(request)
            status, _, body, _ = read_response(s)
            s.close()
            c.check(f"{what}: {want_status} naming why", status == want_status and want_text in body,
                    f"{status} {body!r}")
        except Exception as e:
            c.check(what, False, repr(e))

    raw(b"POST /api/v1/query HTTP/1.1\r\nHost: t\r\nContent-Length: 9000000000\r\n\r\n", "oversized body",
        413, "request body too large")
    raw(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n", "huge headers",
        431, "request header fields too large")
    raw(b"NOT A REQUEST\r\n\r\n", "malformed request line", 400, "malformed request line")

    try:
        fams = vt.parse_exposition(v.metrics())
    except Exception as e:
        c.check("/metrics readable", False, repr(e))
        fams = {}
    rejected = fams.get("vigil_http_rejected_total", {}).get("samples", {})
    c.check("rejections counted by reason",
            rejected.get(frozenset({("reason", "body_too_large")})) == 1
            and rejected.get(frozenset({("reason", "header_too_large")})) == 1
            and rejected.get(frozenset({("reason", "bad_request")})) == 1, rejected)
    open_now = fams.get("vigil_http_connections_open", {}).get("samples", {}).get(frozenset())
    c.check("vigil_http_connections_open counts the held connections", open_now is not None
            and open_now >= IDLE + PARTIAL, open_now)
    c.check("vigil_http_requests_total by code",
            "vigil_http_requests_total" in fams and
            fams["vigil_http_requests_total"]["samples"].get(frozenset({("code", "200")}), 0) > 0)

    def stored_rejections():
        q = "/api/v1/query?query=vigil_http_rejected_total%7Breason%3D%22body_too_large%22%7D"
        result = json.loads(vt.get(v.url + q)[2])["data"]["result"]
        return result and result[0]["value"][1] == "1"
    try:
        c.check("the counters are stored by the self collector (queryable)",
                vt.wait_until(stored_rejections, timeout=5, what="vigil_http_rejected_total in the store"))
    except AssertionError as e:
        c.check("the counters are stored by the self collector (queryable)", False, str(e))

    # Keep dribbling until the server gives up on the slowloris.
    loris_closed = False
    loris_reply = b""
    try:
        for _ in range(int((HEADER_TIMEOUT_S + 5) / 0.5)):
            loris.sendall(b"X")
            loris.settimeout(0.5)
            try:
                chunk = loris.recv(65536)
                if not chunk:
                    loris_closed = True
                    break
                loris_reply += chunk
            except socket.timeout:
                pass
    except OSError:
        loris_closed = True
    took = time.monotonic() - loris_start
    c.check(f"slowloris answered 408 and closed after the {HEADER_TIMEOUT_S} s header timeout",
            loris_closed and b" 408 " in loris_reply and took < HEADER_TIMEOUT_S + 4,
            f"closed={loris_closed} after {took:.1f}s reply={loris_reply[:120]!r}")
    loris.close()

    try:
        status, took, _ = timed_get(port, "/-/healthy")
        c.check("still healthy after all of that", status == 200 and took < 2.0, f"{status} {took:.2f}s")
    except Exception as e:
        c.check("still healthy after all of that", False, repr(e))

    # The idle clients above have been closed by the header timeout by now;
    # open a fresh set for the shutdown check.
    for s in held:
        s.close()
    held.clear()
    for _ in range(200):
        held.append(connect(port))
    for _ in range(20):
        s = connect(port)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\n")
        held.append(s)
    time.sleep(0.2)
    start = time.monotonic()
    v.proc.send_signal(signal.SIGTERM)
    try:
        rc = v.proc.wait(timeout=5)
    except Exception:
        rc = None
    took = time.monotonic() - start
    c.check(f"SIGTERM with {len(held)} connections open exits 0 within 2 s", rc == 0 and took < 2.0,
            f"rc={rc} after {took:.2f}s")

c.finish()
