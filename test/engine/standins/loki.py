#!/usr/bin/python3
"""Stand-in for `/usr/bin/loki` (grafana/loki 3.7: distroless, USER 10001), as AuditLog runs it:
`loki -config.file=<yaml>`, and its healthcheck `loki -health -health.url=<url>`.

What it does as Loki does (cmd/loki/main.go, cmd/loki/health.go, pkg/loki, read):
- `-health`: GET the URL (default http://localhost:3100/ready), exit 0 on 200, 1 otherwise;
- refuses to start when the config file is unreadable, or when it cannot create its directories under
  common.path_prefix (chunks, rules, compactor: a volume its user cannot write);
- listens on server.http_listen_address:http_listen_port only;
- /ready: 200; POST /loki/api/v1/push: a JSON push body (streams of labels and [ns, line] values), 204, or
  400 for a malformed one; entries are appended to <path_prefix>/standin-entries.jsonl (the test reads the
  volume); GET /loki/api/v1/query_range and /query with a stream selector of `label="value"` matchers:
  the matching entries as Loki's streams result; /loki/api/v1/labels: the label names.
"""
import json
import os
import re
import signal
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def log(msg, level="info"):
    print(f'level={level} caller=standin msg="{msg}"', flush=True)


def flag(name, default=None):
    for a in sys.argv[1:]:
        if a == f"-{name}":
            return "true"
        if a.startswith(f"-{name}="):
            return a.split("=", 1)[1]
    return default


if flag("health"):
    url = flag("health.url", "http://localhost:3100/ready")
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            sys.exit(0 if r.status == 200 else 1)
    except Exception:
        sys.exit(1)

path = flag("config.file", "/etc/loki/local-config.yaml")
try:
    text = open(path).read()
except OSError as e:
    log(f"error loading config file {path}: {e}", "error")
    sys.exit(1)


def value(section, key):
    """A scalar of a two-level block mapping, the way lib/yaml.ts writes it."""
    m = re.search(rf"^{section}:\n((?:  .*\n)*)", text, re.M)
    if not m:
        return None
    v = re.search(rf"^  {key}: (.*)$", m.group(1), re.M)
    return json.loads(v.group(1)) if v else None


address = value("server", "http_listen_address") or ""
port = int(value("server", "http_listen_port") or 3100)
prefix = value("common", "path_prefix") or "/loki"
for d in ("chunks", "rules", "compactor"):
    try:
        os.makedirs(os.path.join(prefix, d), exist_ok=True)
    except OSError as e:
        log(f"error initialising module: {e}", "error")
        sys.exit(1)
store = os.path.join(prefix, "standin-entries.jsonl")


def entries():
    if not os.path.exists(store):
        return []
    with open(store) as f:
        return [json.loads(line) for line in f if line.strip()]


def selector(query):
    m = re.fullmatch(r"\s*\{(.*)\}\s*", query or "")
    if not m:
        return None
    pairs = re.findall(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?', m.group(1))
    return {k: json.loads(f'"{v}"') for k, v in pairs}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/ready":
            return self.answer(200, b"ready\n", "text/plain")
        if u.path in ("/loki/api/v1/query_range", "/loki/api/v1/query"):
            match = selector(parse_qs(u.query).get("query", [""])[0])
            if match is None:
                return self.answer(400, b"parse error: only a stream selector in the stand-in\n", "text/plain")
            streams = {}
            for e in entries():
                if all(e["labels"].get(k) == v for k, v in match.items()):
                    key = json.dumps(e["labels"], sort_keys=True)
                    streams.setdefault(key, {"stream": e["labels"], "values": []})["values"].append([e["ns"], e["line"]])
            body = {"status": "success", "data": {"resultType": "streams", "result": list(streams.values())}}
            return self.answer(200, json.dumps(body).encode())
        if u.path == "/loki/api/v1/labels":
            names = sorted({k for e in entries() for k in e["labels"]})
            return self.answer(200, json.dumps({"status": "success", "data": names}).encode())
        return self.answer(404, b"404 page not found\n", "text/plain")

    def do_POST(self):
        if urlparse(self.path).path != "/loki/api/v1/push":
            return self.answer(404, b"404 page not found\n", "text/plain")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            push = json.loads(body)
            got = []
            for s in push["streams"]:
                labels = s["stream"]
                assert isinstance(labels, dict) and labels and all(isinstance(v, str) for v in labels.values())
                for ns, line in s["values"]:
                    assert isinstance(ns, str) and ns.isdigit() and isinstance(line, str)
                    got.append({"labels": labels, "ns": ns, "line": line})
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            return self.answer(400, f"loghttp.ParsePushRequest: {e}\n".encode(), "text/plain")
        with open(store, "a") as f:
            for g in got:
                f.write(json.dumps(g) + "\n")
        return self.answer(204)


log(f"Loki stand-in listening on {address}:{port}")
ThreadingHTTPServer((address, port), Handler).serve_forever()
