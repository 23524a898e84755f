#!/usr/bin/python3
"""Contract mock of the LiteLLM proxy (v1.83-stable), for what ApiGateway's config and reconcile job use.

Written from BerriAI/litellm's source and docs (read, not run: LiteLLM cannot be installed here):
- CLI `litellm --config <file> --host <h> --port <p> [--num_workers n]`; config.yaml with model_list,
  general_settings (master_key, database_url, forward_client_headers_to_llm_api) and litellm_settings
  (add_user_information_to_llm_headers, require_auth_for_metrics_endpoint).
- Management routes (master key only): POST /key/generate (caller-chosen `key`, unique `key_alias`,
  models, max_budget, budget_duration, rpm_limit, tpm_limit, duration, metadata), GET /key/info?key=,
  POST /key/update, POST /key/delete (keys | key_aliases), GET /key/list?return_full_object=true.
- Proxy routes: /v1/models, /v1/chat/completions (streaming passed through), /v1/completions,
  /v1/embeddings. Refusals with LiteLLM's codes and message shapes: 401 invalid key, 401 model not
  allowed for the key, 400 expired key, 400 budget exceeded, 429 rpm/tpm limit.
- Upstream request: the model's api_base + route, model name without the provider prefix, the client's
  `x-` headers (forward_client_headers_to_llm_api) and then `x-litellm-<field>` from the key
  (add_user_information_to_llm_headers), so the key's alias overrides a client copy.
- Keys stored hashed (sha256 hex, as litellm.proxy.utils.hash_token) in Postgres, through psql. The keys table
  is the mock's own (LiteLLM's real schema comes from its Prisma migrations). The spend log is LiteLLM's own
  table, "LiteLLM_SpendLogs", with the columns of its Prisma migration (schema.prisma, model LiteLLM_SpendLogs;
  the DDL is test/engine/standins/litellm-spend-logs.sql, the one copy the e2e suites read too), one row per
  successful call as get_logging_payload shapes it (spend_tracking_utils.py): request_id, call_type, api_key
  (the key's hash), spend, token counts, "startTime"/"endTime" in UTC, model (the upstream), model_group (the
  name the app used), metadata with user_api_key_alias, status. Written right after the answer (LiteLLM
  queues and writes in batches, which the exporter's settle lag allows for).
Stricter than LiteLLM on purpose: refuses to start without LITELLM_SALT_KEY or with a master key that
does not start with "sk-", so the construct's wiring of both is tested.
"""
import hashlib, http.client, http.server, json, os, socketserver, subprocess, sys, threading, time, urllib.parse, uuid
import signal

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the real proxy stops on SIGTERM; PID 1 would ignore it
from datetime import datetime, timedelta, timezone


def parse_yaml(text):
    """The subset lib/yaml.ts emits: block maps and lists, JSON-quoted strings, numbers, booleans, [] and {}."""
    lines = [l for l in text.split("\n") if l.strip() and not l.lstrip().startswith("#")]

    def scalar(v):
        v = v.strip()
        if v.startswith('"'):
            return json.loads(v)
        if v in ("true", "false"):
            return v == "true"
        if v == "[]":
            return []
        if v == "{}":
            return {}
        try:
            return int(v)
        except ValueError:
            return float(v)

    def block(i, indent):
        if lines[i].strip().startswith("- "):
            out = []
            while i < len(lines) and len(lines[i]) - len(lines[i].lstrip()) == indent and lines[i].strip().startswith("- "):
                rest = lines[i].strip()[2:]
                if ":" in rest and not rest.startswith('"'):
                    # A map whose first key sits on the dash line.
                    lines[i] = " " * (indent + 2) + rest
                    item, i = block(i, indent + 2)
                else:
                    item, i = scalar(rest), i + 1
                out.append(item)
            return out, i
        out = {}
        while i < len(lines) and len(lines[i]) - len(lines[i].lstrip()) == indent:
            key, _, value = lines[i].strip().partition(":")
            key = json.loads(key) if key.startswith('"') else key
            if value.strip():
                out[key], i = scalar(value), i + 1
            else:
                out[key], i = block(i + 1, len(lines[i + 1]) - len(lines[i + 1].lstrip()))
        return out, i

    return block(0, 0)[0]


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


CONFIG = parse_yaml(open(arg("--config")).read())
GENERAL = CONFIG.get("general_settings", {})
SETTINGS = CONFIG.get("litellm_settings", {})
MASTER = GENERAL.get("master_key")
DB_URL = GENERAL.get("database_url")
MODELS = {m["model_name"]: m["litellm_params"] for m in CONFIG.get("model_list", [])}
if not MASTER or not MASTER.startswith("sk-"):
    sys.exit("litellm mock: general_settings.master_key must start with sk-")
if not os.environ.get("LITELLM_SALT_KEY"):
    sys.exit("litellm mock: LITELLM_SALT_KEY is not set")
if not DB_URL:
    sys.exit("litellm mock: general_settings.database_url is required for virtual keys")
PSQL = os.environ.get("ZTA_PSQL", "psql")
LOCK = threading.Lock()
WINDOWS = {}  # token hash -> [minute, requests, tokens]


def sql_text(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def db(sql):
    """Runs SQL through psql (the real client against the real server); rows as lists of fields."""
    r = subprocess.run([PSQL, DB_URL, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\x1f", "-c", sql], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr.strip())
    return [line.split("\x1f") for line in r.stdout.split("\n") if line]


# The mock's own key table, then LiteLLM's spend log table from the one DDL file beside this script (on the
# host: test/engine/standins/; in the stand-in image: next to /app/.venv/bin/litellm).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "litellm-spend-logs.sql")) as _ddl:
    SCHEMA = "CREATE TABLE IF NOT EXISTS zta_mock_keys (token text PRIMARY KEY, key_alias text UNIQUE, data jsonb NOT NULL);\n" + _ddl.read()


def connect_db():
    for _ in range(60):
        try:
            db(SCHEMA)
            return
        except Exception as e:
            last = e
            time.sleep(1)
    sys.exit("litellm mock: database unreachable: %s" % last)


def hash_token(key):
    return hashlib.sha256(key.encode()).hexdigest()


def seconds(duration):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}
    for u in ("mo", "s", "m", "h", "d", "w"):
        if duration.endswith(u):
            return int(duration[: -len(u)]) * units[u]
    raise ValueError("bad duration " + duration)


def now():
    return datetime.now(timezone.utc)


def load(token):
    rows = db("SELECT data FROM zta_mock_keys WHERE token = %s" % sql_text(token))
    return json.loads(rows[0][0]) if rows else None


def save(data):
    db("INSERT INTO zta_mock_keys (token, key_alias, data) VALUES (%s, %s, %s) ON CONFLICT (token) DO UPDATE SET key_alias = EXCLUDED.key_alias, data = EXCLUDED.data"
       % (sql_text(data["token"]), sql_text(data.get("key_alias")), sql_text(json.dumps(data))))


def error(message, type_, code, param=None):
    return code, {"error": {"message": message, "type": type_, "param": param, "code": str(code)}}


FIELDS = ("key_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("litellm-mock %s\n" % (fmt % args))

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.raw_body or b"{}")

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        # Read the whole body first, whatever the answer: an unread body would corrupt the next request on the connection.
        self.raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urllib.parse.urlparse(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        try:
            if path == "/health/liveliness":
                return self.send_json(200, "I'm alive!")
            if path == "/health/readiness":
                db("SELECT 1")
                return self.send_json(200, {"status": "healthy", "db": "connected"})
            if path == "/metrics":
                if SETTINGS.get("require_auth_for_metrics_endpoint") and self.verified() is None:
                    return self.send_json(*error("Authentication Error, metrics require a key", "auth_error", 401))
                return self.send_json(200, {"metrics": "mock"})
            if path.startswith("/key/"):
                if self.bearer() != MASTER:
                    return self.send_json(*error("Authentication Error, only the master key may manage keys", "auth_error", 401))
                return self.send_json(*self.keys(method, path, query))
            if path in ("/v1/models", "/models"):
                key, refusal = self.authenticate()
                if refusal:
                    return self.send_json(*refusal)
                allowed = key["models"] or list(MODELS)
                return self.send_json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "openai"} for m in allowed if m in MODELS]})
            route = path[3:] if path.startswith("/v1/") else path
            if method == "POST" and route in ("/chat/completions", "/completions", "/embeddings"):
                return self.completion(route)
            return self.send_json(404, {"detail": "Not Found"})
        except Exception as e:  # a mock bug or a database failure: say so, LiteLLM answers 500 too
            return self.send_json(500, {"error": {"message": str(e), "type": "internal_server_error", "param": None, "code": "500"}})

    def keys(self, method, path, query):
        if path == "/key/generate" and method == "POST":
            b = self.body()
            key = b.get("key") or "sk-" + uuid.uuid4().hex
            if not key.startswith("sk-"):
                return error("LiteLLM Virtual Key must start with 'sk-'. Received=" + key[:6], "bad_request_error", 400, "key")
            alias = b.get("key_alias")
            if alias and db("SELECT 1 FROM zta_mock_keys WHERE key_alias = %s" % sql_text(alias)):
                return error("Unique key aliases across all keys are required. Key alias=%s already exists." % alias, "bad_request_error", 400, "key_alias")
            data = {f: b.get(f) for f in FIELDS}
            data.update(token=hash_token(key), spend=0.0, models=b.get("models") or [], metadata=b.get("metadata") or {},
                        expires=(now() + timedelta(seconds=seconds(b["duration"]))).isoformat() if b.get("duration") else None,
                        budget_reset_at=(now() + timedelta(seconds=seconds(b["budget_duration"]))).isoformat() if b.get("budget_duration") else None,
                        created_at=now().isoformat())
            save(data)
            return 200, dict(data, key=key)
        if path == "/key/info" and method == "GET":
            key = (query.get("key") or [""])[0]
            data = load(hash_token(key)) or load(key)
            if data is None:
                return error("Key not found", "not_found_error", 404, "key")
            return 200, {"key": data["token"], "info": data}
        if path == "/key/update" and method == "POST":
            b = self.body()
            data = load(hash_token(b.get("key", ""))) or load(b.get("key", ""))
            if data is None:
                return error("Key not found", "not_found_error", 404, "key")
            for f in FIELDS:
                if f in b:
                    data[f] = b[f]
            if "budget_duration" in b and b["budget_duration"] and not data.get("budget_reset_at"):
                data["budget_reset_at"] = (now() + timedelta(seconds=seconds(b["budget_duration"]))).isoformat()
            save(data)
            return 200, data
        if path == "/key/delete" and method == "POST":
            b = self.body()
            tokens = [hash_token(k) if k.startswith("sk-") else k for k in b.get("keys") or []]
            aliases = b.get("key_aliases") or []
            where = " OR ".join(["token = %s" % sql_text(t) for t in tokens] + ["key_alias = %s" % sql_text(a) for a in aliases]) or "false"
            deleted = db("DELETE FROM zta_mock_keys WHERE %s RETURNING token" % where)
            if not deleted:
                return error("Failed to delete all keys. Keys not found.", "not_found_error", 404, "keys")
            return 200, {"deleted_keys": [r[0] for r in deleted]}
        if path == "/key/list" and method == "GET":
            size = int((query.get("size") or ["10"])[0])
            page = int((query.get("page") or ["1"])[0])
            rows = [json.loads(r[0]) for r in db("SELECT data FROM zta_mock_keys ORDER BY token")]
            full = (query.get("return_full_object") or ["false"])[0] == "true"
            chunk = rows[(page - 1) * size : page * size]
            return 200, {"keys": chunk if full else [r["token"] for r in chunk], "total_count": len(rows), "current_page": page,
                         "total_pages": max(1, -(-len(rows) // size))}
        return 404, {"detail": "Not Found"}

    def verified(self):
        token = self.bearer()
        if token is None:
            return None
        if token == MASTER:
            return {"token": hash_token(token), "key_alias": None, "models": [], "master": True}
        return load(hash_token(token))

    def authenticate(self):
        key = self.verified()
        if key is None:
            return None, error("Authentication Error, Invalid proxy server token passed. Received API Key = %s, Key Hash (Token) =%s. Unable to find token in cache or `LiteLLM_VerificationTokenTable`"
                               % ((self.bearer() or "")[:6] + "...", hash_token(self.bearer() or "")), "auth_error", 401, "None")
        if key.get("expires") and datetime.fromisoformat(key["expires"]) < now():
            return None, error("Authentication Error - Expired Key. Key Expiry time %s and current time %s" % (key["expires"], now().isoformat()), "expired_key", 400, "None")
        if key.get("budget_reset_at") and datetime.fromisoformat(key["budget_reset_at"]) < now():
            key["spend"] = 0.0
            key["budget_reset_at"] = (now() + timedelta(seconds=seconds(key["budget_duration"]))).isoformat()
            save(key)
        return key, None

    def completion(self, route):
        started = now()
        key, refusal = self.authenticate()
        if refusal:
            return self.send_json(*refusal)
        body = self.body()
        model = body.get("model")
        if key["models"] and model not in key["models"]:
            return self.send_json(*error("key not allowed to access model. This key can only access models=%s. Tried to access %s" % (key["models"], model), "key_model_access_denied", 401, "model"))
        if model not in MODELS:
            return self.send_json(*error("Invalid model name passed in model=%s. Call `/v1/models` to view available models for your key." % model, "bad_request_error", 400, "model"))
        if key.get("max_budget") is not None and key["spend"] >= key["max_budget"]:
            return self.send_json(*error("Budget has been exceeded! Current cost: %s, Max budget: %s" % (key["spend"], key["max_budget"]), "budget_exceeded", 400, "None"))
        minute = int(time.time() // 60)
        with LOCK:
            w = WINDOWS.setdefault(key["token"], [minute, 0, 0])
            if w[0] != minute:
                w[:] = [minute, 0, 0]
            if (key.get("rpm_limit") is not None and w[1] >= key["rpm_limit"]) or (key.get("tpm_limit") is not None and w[2] >= key["tpm_limit"]):
                msg = "LiteLLM Rate Limit Handler for rate limit type = key. Crossed TPM / RPM / Max Parallel Request Limit. current rpm: %s, rpm limit: %s, current tpm: %s, tpm limit: %s" % (w[1], key.get("rpm_limit"), w[2], key.get("tpm_limit"))
                return self.send_json(*error(msg, "throttling_error", 429, "None"), headers={"retry-after": str(60 - int(time.time()) % 60)})
            w[1] += 1
        params = MODELS[model]
        upstream = urllib.parse.urlparse(params["api_base"].rstrip("/") + route)
        body["model"] = params["model"].split("/", 1)[1]
        headers = {"Content-Type": "application/json"}
        if GENERAL.get("forward_client_headers_to_llm_api"):
            for h, v in self.headers.items():
                if h.lower().startswith("x-") and not h.lower().startswith("x-stainless"):
                    headers[h.lower()] = v
            if SETTINGS.get("add_user_information_to_llm_headers"):
                info = {"user_api_key_hash": key["token"], "user_api_key_alias": key.get("key_alias"), "user_api_key_spend": key.get("spend"),
                        "user_api_key_max_budget": key.get("max_budget")}
                for k, v in info.items():
                    if v is not None:
                        headers["x-litellm-" + k] = str(v)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=float(params.get("timeout", 600)))
        conn.request("POST", upstream.path, json.dumps(body), headers)
        resp = conn.getresponse()
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        if body.get("stream"):
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.getheader("Content-Type", "text/event-stream"))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            buffer = b""
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                buffer += chunk
                usage["completion_tokens"] += chunk.count(b"data: {")
            self.wfile.write(b"0\r\n\r\n")
        else:
            data = resp.read()
            try:
                answer = json.loads(data)
                usage.update(answer.get("usage") or {})
                if not answer.get("usage"):
                    # No usage from the upstream: LiteLLM counts tokens itself (token_counter); the mock counts words.
                    text = " ".join((c.get("message") or {}).get("content") or c.get("text") or "" for c in answer.get("choices") or [])
                    usage["completion_tokens"] = len(text.split())
            except ValueError:
                pass
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        conn.close()
        if resp.status == 200:
            if not usage.get("prompt_tokens"):
                messages = body.get("messages") or [{"content": body.get("prompt") or body.get("input") or ""}]
                usage["prompt_tokens"] = sum(len(str(m.get("content") or "").split()) for m in messages)
            tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
            cost = int(usage.get("prompt_tokens") or 0) * float(params.get("input_cost_per_token") or 0) + int(usage.get("completion_tokens") or 0) * float(params.get("output_cost_per_token") or 0)
            with LOCK:
                WINDOWS[key["token"]][2] += tokens
            if not key.get("master"):
                db("UPDATE zta_mock_keys SET data = jsonb_set(data, '{spend}', to_jsonb((data->>'spend')::float + %s)) WHERE token = %s" % (cost, sql_text(key["token"])))
                prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
                ended = now()
                utc = lambda t: sql_text(t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
                metadata = {"user_api_key": key["token"], "user_api_key_alias": key.get("key_alias"), "user_api_key_team_id": None,
                            "user_api_key_user_id": None, "status": "success", "additional_usage_values": {}}
                db('INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", '
                   '"completionStartTime", model, model_group, custom_llm_provider, api_base, metadata, cache_hit, status) '
                   "VALUES (%s, %s, %s, %s, %d, %d, %d, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, 'False', 'success')"
                   % (sql_text("chatcmpl-" + str(uuid.uuid4())), sql_text("a" + ("text_completion" if route == "/completions" else "embedding" if route == "/embeddings" else "completion")),
                      sql_text(key["token"]), cost, prompt + completion, prompt, completion, utc(started), utc(ended), utc(ended),
                      sql_text(params["model"].split("/", 1)[1]), sql_text(model), sql_text(params["model"].split("/", 1)[0]), sql_text(params["api_base"]),
                      sql_text(json.dumps(metadata))))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    connect_db()
    server = Server((arg("--host", "0.0.0.0"), int(arg("--port", "4000"))), Handler)
    sys.stderr.write("litellm mock: listening on %s:%s\n" % server.server_address)
    sys.stderr.flush()
    server.serve_forever()
