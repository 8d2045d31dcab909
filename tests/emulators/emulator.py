"""Shared parts of the emulated peers (bitcoind, titan, the validator): a
threaded HTTP server on loopback, a scenario switch and failure modes.

Control (never authenticated, never subject to failure modes):
  POST /_scenario  {"mode": "ok"|"slow"|"http_500"|"garbage"|"truncated"|
                    "wrong_auth"|"rpc_error"|<peer scenario>, ...fields}
                   replaces the scenario; extra fields (delay, code, message,
                   height, ...) tune it.
  GET  /_requests  the methods/paths received so far, as a JSON list.
  GET  /_events    what a receiver emulator accepted (record_event), in order.

Start with --port 0 to get a free port: the first stdout line is "PORT <n>".
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMON_MODES = {"ok", "slow", "http_500", "garbage", "truncated", "wrong_auth", "rpc_error"}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.scenario = {"mode": "ok"}
        self.requests = []
        self.events = []

    def get(self):
        with self.lock:
            return dict(self.scenario)

    def record(self, what):
        with self.lock:
            self.requests.append(what)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()

    def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
        pass

    def send(self, status, body, content_type="application/json", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def control(self):
        """Handles /_scenario and /_requests; True when it did."""
        if self.path == "/_scenario" and self.command == "POST":
            scenario = json.loads(self.read_body() or b"{}")
            with self.state.lock:
                self.state.scenario = scenario
            self.send(200, json.dumps({"ok": True}))
            return True
        if self.path == "/_requests":
            with self.state.lock:
                self.send(200, json.dumps(self.state.requests))
            return True
        if self.path == "/_events" and self.command == "GET":
            with self.state.lock:
                self.send(200, json.dumps(self.state.events))
            return True
        return False

    def do_GET(self):
        if not self.control():
            self.send(404, "{}")

    def record_event(self, **fields):
        """Records an accepted request for GET /_events; returns how many there are."""
        with self.state.lock:
            self.state.events.append({"time": time.time(), **fields})
            return len(self.state.events)

    def failure(self, sc, normal_body, rpc_id=None, rpc_version=None):
        """Applies a common failure mode; True when the response was sent."""
        mode = sc.get("mode", "ok")
        if mode == "slow":
            time.sleep(float(sc.get("delay", 5)))
            return False  # then answer normally, too late for the probe
        if mode == "http_500":
            self.send(500, "Internal Server Error", "text/plain")
            return True
        if mode == "garbage":
            self.send(200, "<html>this is not json</html>\x00\xff", "application/json")
            return True
        if mode == "truncated":
            self.send(200, normal_body[: max(1, len(normal_body) // 2)])
            return True
        if mode == "wrong_auth":
            self.send(401, "", "text/plain", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return True
        if mode == "rpc_error" and rpc_version is not None:
            err = {"code": int(sc.get("code", -32601)), "message": sc.get("message", "Method not found")}
            body = {"result": None, "error": err, "id": rpc_id}
            if rpc_version == "2.0":
                body = {"jsonrpc": "2.0", "error": err, "id": rpc_id}
            self.send(int(sc.get("http_status", 500)), json.dumps(body))
            return True
        return False


def serve(handler_class, description, extra_args=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0)
    for a in extra_args or []:
        p.add_argument(*a[0], **a[1])
    args = p.parse_args()
    handler_class.state = State()
    handler_class.args = args
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_class)
    server.daemon_threads = True
    if hasattr(handler_class, "setup_peer"):
        handler_class.setup_peer(args)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def jsonrpc_request(handler):
    """(id, method, params, version) of a JSON-RPC request, or None when unparseable."""
    try:
        req = json.loads(handler.read_body())
        return req.get("id"), req.get("method"), req.get("params", []), req.get("jsonrpc", "1.0")
    except (ValueError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit("run bitcoind.py, titan.py or validator.py")
