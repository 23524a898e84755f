#!/usr/bin/python3
"""Stand-in for cloudflared as CloudflareTunnel runs it (no Cloudflare edge is reachable here).

- `cloudflared --no-autoupdate tunnel --metrics ADDR run --token-file F`: F must exist and be non-empty;
  serves /ready (200) and /metrics on ADDR only.
- `cloudflared tunnel --metrics ADDR ready`: exit 0 when ADDR/ready answers 200 (the healthcheck).
"""
import signal
import sys as _sys

signal.signal(signal.SIGTERM, lambda *_: _sys.exit(0))  # the real program stops on SIGTERM; PID 1 would ignore it

import sys, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = [a for a in sys.argv[1:] if a != "--no-autoupdate"]
metrics = args[args.index("--metrics") + 1] if "--metrics" in args else "127.0.0.1:2000"
if "ready" in args:
    try:
        sys.exit(0 if urllib.request.urlopen(f"http://{metrics}/ready", timeout=4).status == 200 else 1)
    except Exception:
        sys.exit(1)
if "run" not in args:
    print("cloudflared-standin 2025.11.1")
    sys.exit(0)
token_file = args[args.index("--token-file") + 1]
if not open(token_file).read().strip():
    sys.exit("cloudflared-standin: empty token")
host, port = metrics.rsplit(":", 1)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def do_GET(self):
        self.send_response(200 if self.path in ("/ready", "/metrics") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()


print(f"cloudflared-standin: metrics on {metrics}", flush=True)
ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
