#!/usr/bin/python3
"""Stand-in for Open WebUI's server (`uvicorn open_webui.main:app --host H --port P`), as our ChatUi uses it.

- Listens on --host/--port only; /health answers {"status": true} (the healthcheck curls it).
- Writes its database file under DATA_DIR (/app/backend/data, a volume), as Open WebUI does at start.
- /api/models relays GET {OPENAI_API_BASE_URL}/models, /api/chat relays a streamed POST to
  {OPENAI_API_BASE_URL}/chat/completions: the path our chat proxy (nginx in its namespace) carries to vLLM.
"""
import signal
import sys as _sys

signal.signal(signal.SIGTERM, lambda *_: _sys.exit(0))  # the real program stops on SIGTERM; PID 1 would ignore it

import os, sys, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
host = args[args.index("--host") + 1] if "--host" in args else "0.0.0.0"
port = int(args[args.index("--port") + 1]) if "--port" in args else 8080
data_dir = os.environ.get("DATA_DIR", "/app/backend/data")
os.makedirs(data_dir, exist_ok=True)
with open(os.path.join(data_dir, "webui.db"), "a") as f:
    f.write("stand-in\n")
base = os.environ.get("OPENAI_API_BASE_URL", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("open-webui-standin: " + (fmt % a) + "\n")

    def answer(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def relay(self, method, path, body=None):
        req = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.answer(r.status, r.read(), r.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as e:
            self.answer(e.code, e.read())
        except Exception as e:  # the upstream is unreachable
            self.answer(502, str(e).encode(), "text/plain")

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, b'{"status":true}')
        if self.path == "/api/models":
            return self.relay("GET", "/models")
        self.answer(200, b"<!doctype html><title>Open WebUI stand-in</title>", "text/html")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        if self.path == "/api/chat":
            return self.relay("POST", "/chat/completions", body)
        self.answer(404, b"{}")


print(f"open-webui-standin on {host}:{port}", flush=True)
ThreadingHTTPServer((host, port), Handler).serve_forever()
