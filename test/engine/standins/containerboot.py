#!/usr/bin/python3
"""Stand-in for tailscale's containerboot, only what TailscaleExposure relies on (no tailnet here).

- TS_AUTHKEY=file:<path>: the key file must exist and be non-empty (the real one reads it the same way).
- TS_STATE_DIR must be writable (it keeps node state there); TS_SERVE_CONFIG must be valid JSON.
- TS_ENABLE_HEALTH_CHECK + TS_LOCAL_ADDR_PORT: /healthz on that address only.
- Userspace networking, as TS_USERSPACE=true: nothing listens on the container's own interfaces.
"""
import signal
import sys as _sys

signal.signal(signal.SIGTERM, lambda *_: _sys.exit(0))  # the real program stops on SIGTERM; PID 1 would ignore it

import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

key = os.environ.get("TS_AUTHKEY", "")
if key.startswith("file:"):
    key = open(key[5:]).read().strip()
if not key:
    sys.exit("containerboot-standin: no auth key")
state = os.environ.get("TS_STATE_DIR", "/var/lib/tailscale")
with open(os.path.join(state, "tailscaled.state"), "w") as f:
    f.write(json.dumps({"hostname": os.environ.get("TS_HOSTNAME", "")}))
serve = os.environ.get("TS_SERVE_CONFIG")
if serve:
    json.load(open(serve))
addr = os.environ.get("TS_LOCAL_ADDR_PORT", "[::]:9002")
host, port = addr.rsplit(":", 1)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def do_GET(self):
        ok = self.path == "/healthz"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if ok else b"no")


print(f"containerboot-standin: health on {addr}", flush=True)
ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), Handler).serve_forever()
