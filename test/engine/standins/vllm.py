#!/usr/bin/python3
"""Stand-in for `vllm serve` (vLLM 0.11's OpenAI server), only the behaviour our configs rely on.

- `vllm serve MODEL --host H --port P --served-model-name N ...`: listens on H:P only.
- VLLM_API_KEY guards the /v1 routes (as vLLM's API-key middleware does: only paths under /v1); the
  administrative routes (/tokenize, /detokenize, /pause, /update_weights, ...) stay open, /health and
  /metrics too, as in the real server.
- chat/completions and completions stream SSE `data:` events, one token per event, 20 ms apart.
"""
import signal
import sys as _sys

signal.signal(signal.SIGTERM, lambda *_: _sys.exit(0))  # the real program stops on SIGTERM; PID 1 would ignore it

import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
if not args or args[0] != "serve":
    print("usage: vllm serve MODEL [--host H] [--port P] [--served-model-name N]", file=sys.stderr)
    sys.exit(2)
model = args[1]
opts = {}
i = 2
while i < len(args):
    if args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
        opts[args[i][2:]] = args[i + 1]
        i += 2
    else:
        opts[args[i][2:]] = "true"
        i += 1
host, port = opts.get("host", "0.0.0.0"), int(opts.get("port", "8000"))
served = opts.get("served-model-name", model)
api_key = os.environ.get("VLLM_API_KEY", "")
OPEN_ADMIN = ("/tokenize", "/detokenize", "/pause", "/resume", "/update_weights", "/load", "/pooling",
              "/score", "/rerank", "/invocations", "/ping", "/version", "/is_sleeping", "/collective_rpc")
TOKENS = ["Hello", ",", " from", " the", " stand", "-in", " v", "LLM", "!", " Done", "."]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("vllm-standin: " + (fmt % a) + "\n")

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def authorized(self):
        return not api_key or self.headers.get("Authorization") == "Bearer " + api_key

    def route(self, method):
        path = self.path.split("?")[0]
        data = self.body() if method == "POST" else {}
        if path == "/health":
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers(); return
        if path == "/metrics":
            text = b"# stand-in\nvllm:num_requests_running{model_name=\"%s\"} 0\n" % served.encode()
            self.send_response(200); self.send_header("Content-Type", "text/plain"); self.send_header("Content-Length", str(len(text))); self.end_headers(); self.wfile.write(text); return
        if path.startswith(OPEN_ADMIN):
            self.send_json(200, {"route": path, "open": True, "tokens": [1, 2, 3]}); return
        if path.startswith("/v1"):
            if not self.authorized():
                self.send_json(401, {"error": "Unauthorized"}); return
            if path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": served, "object": "model", "owned_by": "vllm"}]}); return
            if path in ("/v1/chat/completions", "/v1/completions") and method == "POST":
                if data.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for n, tok in enumerate(TOKENS):
                        if n:
                            time.sleep(0.02)
                        delta = {"delta": {"content": tok}} if path.endswith("chat/completions") else {"text": tok}
                        self.chunk(b"data: " + json.dumps({"model": served, "choices": [{"index": 0, **delta}]}).encode() + b"\n\n")
                    self.chunk(b"data: [DONE]\n\n")
                    self.chunk(b"")
                    return
                self.send_json(200, {"model": served, "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(TOKENS)}}]}); return
            if path in ("/v1/rerank", "/v1/score") and method == "POST":
                self.send_json(200, {"results": [{"index": 0, "relevance_score": 0.5}]}); return
            if path == "/v1/embeddings" and method == "POST":
                self.send_json(200, {"data": [{"embedding": [0.1, 0.2], "index": 0}]}); return
        self.send_json(404, {"error": "Not Found", "path": path})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")


print(f"vllm-standin: serving {served} on {host}:{port}", flush=True)
ThreadingHTTPServer((host, port), Handler).serve_forever()
