#!/usr/bin/python3
"""Stand-in for oauth2-proxy 7.x as our gate config uses it (no IdP is reachable here).

- Serves TLS on --https-address with --tls-cert-file/--tls-key-file (and fails to start without them);
  requests no client certificate, like the real proxy.
- Reads --config and requires client_secret and cookie_secret in it, like the real one does.
- /ping: 200 OK. /oauth2/auth: 202 with X-Auth-Request-User/-Email for `Authorization: Bearer valid-<user>`
  (stands in for an IdP-signed JWT with --skip-jwt-bearer-tokens), else 401. /oauth2/start|callback:
  a marker page. Anything else: 202 for a valid bearer (--upstream=static://202), else 401.
"""
import signal
import sys as _sys

signal.signal(signal.SIGTERM, lambda *_: _sys.exit(0))  # the real program stops on SIGTERM; PID 1 would ignore it

import re, ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

opts = {}
for a in sys.argv[1:]:
    if a.startswith("--") and "=" in a:
        k, v = a[2:].split("=", 1)
        opts[k] = v
addr = opts.get("https-address")
cert, key, cfg = opts.get("tls-cert-file"), opts.get("tls-key-file"), opts.get("config")
if not (addr and cert and key):
    sys.exit("oauth2-proxy-standin: needs --https-address, --tls-cert-file and --tls-key-file")
config = open(cfg).read() if cfg else ""
for required in ("client_secret", "cookie_secret"):
    if not re.search(r"^%s\s*=\s*\"[^\"]+\"" % required, config, re.M):
        sys.exit(f"oauth2-proxy-standin: {required} missing in {cfg}")
host, port = addr.rsplit(":", 1)
cookie = opts.get("cookie-name", "_oauth2_proxy")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("oauth2-proxy-standin: " + (fmt % a) + "\n")

    def user(self):
        m = re.match(r"^Bearer valid-([a-z0-9-]+)$", self.headers.get("Authorization", ""))
        if m:
            return m.group(1)
        for c in (self.headers.get("Cookie") or "").split(";"):
            m = re.match(r"^\s*([^=]+)=valid-([a-z0-9-]+)$", c)
            if m and m.group(1) == cookie:
                return m.group(2)
        return None

    def answer(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/ping":
            return self.answer(200, {"Content-Type": "text/plain"}, b"OK")
        if path in ("/oauth2/start", "/oauth2/callback", "/oauth2/sign_in"):
            return self.answer(200, {"Content-Type": "text/plain"}, b"oauth2-proxy-standin " + path.encode())
        u = self.user()
        if u:
            return self.answer(202, {"X-Auth-Request-User": u, "X-Auth-Request-Email": u + "@example.com"})
        return self.answer(401, {"Content-Type": "text/plain"}, b"Unauthorized")

    do_POST = do_GET
    do_HEAD = do_GET


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(f"oauth2-proxy-standin: https on {addr}", flush=True)
server.serve_forever()
