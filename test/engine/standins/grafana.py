#!/usr/bin/python3
"""Stand-in for `grafana server` (grafana/grafana 12, Alpine, uid 472 gid 0), as the Observability
construct runs it: `grafana server --homepath=/usr/share/grafana --config=<ini> --packaging=docker`.

What it does as Grafana does (pkg/setting, pkg/services/provisioning, pkg/services/contexthandler):
- refuses to start without <homepath>/conf/defaults.ini, an unreadable --config, an unreadable
  `__FILE` value (GF_SECURITY_ADMIN_PASSWORD__FILE), a data directory it cannot write (its sqlite db),
  or a datasource provisioning file it cannot read or parse;
- GF_<SECTION>_<KEY> environment values override the ini (GF_PATHS_* included), `__FILE` reads a file;
- listens on [server] http_addr:http_port only;
- provisions the datasources and the dashboard providers' JSON files it is given;
- /api/health answers without sign-in; everything else needs a user: with [auth.proxy] enabled the
  header names the user (header_property email), accepted only from a `whitelist` address (else 407),
  auto_sign_up creates a Viewer, the admin account is [security] admin_email; anonymous and basic
  auth are off when the ini says so (a Basic header is then ignored) -> 401 for /api/*, 302 to /login;
- /api/datasources/proxy/uid/<uid>/<path> forwards to the datasource with its provisioned credentials
  (basic auth, TLS client certificate, CA, serverName), as Grafana's data source proxy does;
- /api/user, /api/dashboards/uid/<uid>, /api/search for the signed-in user.
"""
import base64
import configparser
import glob
import http.client
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import sys
import tempfile
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def log(msg, level="info"):
    print(f'logger=standin level={level} msg="{msg}"', flush=True)


def die(msg):
    log(msg, "error")
    print(f"Grafana-server Init Failed: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- YAML: the block mappings, sequences and scalars provisioning files use -----------------------
def scalar(v):
    v = v.strip()
    if v.startswith('"'):
        return json.loads(v)
    if v.startswith("'"):
        return v[1:-1].replace("''", "'")
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    return v


def parse_yaml(text):
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError("yaml: found character that cannot start any token (tab)")
        lines.append([len(raw) - len(raw.lstrip()), raw.strip()])
    pos = 0
    entry = re.compile(r"^[A-Za-z_][\w.-]*:(\s|$)")

    def block(indent):
        nonlocal pos
        if lines[pos][1].startswith("- "):
            out = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                rest = lines[pos][1][2:].strip()
                if entry.match(rest):
                    lines[pos] = [indent + 2, rest]
                    out.append(mapping(indent + 2))
                else:
                    out.append(scalar(rest))
                    pos += 1
            return out
        return mapping(indent)

    def mapping(indent):
        nonlocal pos
        out = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            if not entry.match(lines[pos][1]):
                raise ValueError(f"yaml: cannot parse {lines[pos][1][:40]!r}")
            key, _, value = lines[pos][1].partition(":")
            pos += 1
            if value.strip():
                out[key] = scalar(value)
            elif pos < len(lines) and (lines[pos][0] > indent or (lines[pos][0] == indent and lines[pos][1].startswith("- "))):
                out[key] = block(lines[pos][0])
            else:
                out[key] = None
        return out

    result = block(lines[0][0]) if lines else {}
    if pos != len(lines):
        raise ValueError(f"yaml: unexpected indentation at {lines[pos][1][:40]!r}")
    return result


# --- Configuration ---------------------------------------------------------------------------------
args = sys.argv[1:]
if not args or args[0] != "server":
    die(f"unknown command {args[:1]}: the stand-in runs `grafana server`")
flags = dict(a[2:].split("=", 1) for a in args[1:] if a.startswith("--") and "=" in a)
home = flags.get("homepath", os.environ.get("GF_PATHS_HOME", "/usr/share/grafana"))
if not os.path.isfile(os.path.join(home, "conf", "defaults.ini")):
    die("Could not find config defaults, make sure homepath command line parameter is set or working directory is homepath")
config_file = flags.get("config", os.environ.get("GF_PATHS_CONFIG", "/etc/grafana/grafana.ini"))
ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
ini.read_dict({"paths": {"data": "data", "logs": "data/log", "plugins": "data/plugins", "provisioning": "conf/provisioning"}})
try:
    with open(config_file) as f:
        ini.read_file(f)
except OSError as e:
    die(f"failed to parse {config_file}: {e}")


def setting(section, key, default=""):
    env = "GF_" + section.upper().replace(".", "_").replace("-", "_") + "_" + key.upper()
    if env + "__FILE" in os.environ:
        try:
            with open(os.environ[env + "__FILE"]) as f:
                return f.read().strip()
        except OSError as e:
            die(f"failed to read {env}__FILE: {e}")
    if env in os.environ:
        return os.environ[env]
    return ini.get(section, key, fallback=default)


def flag(section, key, default=False):
    return str(setting(section, key, str(default).lower())).strip().lower() == "true"


data_dir = setting("paths", "data")
for d in (data_dir, setting("paths", "logs"), setting("paths", "plugins")):
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        die(f"failed to create directory {d}: {e}")
try:
    with open(os.path.join(data_dir, "grafana.db"), "a") as f:
        f.write("stand-in\n")
except OSError as e:
    die(f"sqlite: unable to open database file {data_dir}/grafana.db: {e}")
admin_password = setting("security", "admin_password", "admin")
admin_email = setting("security", "admin_email", "admin@localhost")
admin_login = setting("security", "admin_user", "admin")
provisioning = setting("paths", "provisioning")

datasources = {}
for path in sorted(glob.glob(os.path.join(provisioning, "datasources", "*.y*ml"))):
    try:
        with open(path) as f:
            doc = parse_yaml(f.read())
    except (OSError, ValueError) as e:
        die(f"Datasource provisioning error: failed to load {path}: {e}")
    for ds in doc.get("datasources") or []:
        if not ds.get("name") or not ds.get("type"):
            die(f"Datasource provisioning error: {path}: datasource without name or type")
        datasources[ds.get("uid") or ds["name"]] = ds
        log(f"inserting datasource from configuration name={ds['name']} uid={ds.get('uid')}")

dashboards = {}
for path in sorted(glob.glob(os.path.join(provisioning, "dashboards", "*.y*ml"))):
    try:
        with open(path) as f:
            doc = parse_yaml(f.read())
    except (OSError, ValueError) as e:
        log(f"Failed to read dashboard provisioning file {path}: {e}", "error")
        continue
    for p in doc.get("providers") or []:
        for jf in sorted(glob.glob(os.path.join((p.get("options") or {}).get("path", ""), "*.json"))):
            try:
                with open(jf) as f:
                    dash = json.load(f)
                dashboards[dash["uid"]] = {"dashboard": dash, "folder": p.get("folder", ""), "provisioned": True}
                log(f"provisioned dashboard uid={dash['uid']} title={dash.get('title')}")
            except (OSError, ValueError, KeyError) as e:
                log(f"failed to load dashboard from {jf}: {e}", "error")

proxy_enabled = flag("auth.proxy", "enabled")
proxy_header = setting("auth.proxy", "header_name", "X-WEBAUTH-USER")
proxy_property = setting("auth.proxy", "header_property", "username")
auto_sign_up = flag("auth.proxy", "auto_sign_up", True)
whitelist = [ipaddress.ip_network(x.strip(), strict=False) for x in setting("auth.proxy", "whitelist").split(",") if x.strip()]
anonymous = flag("auth.anonymous", "enabled")
basic_enabled = flag("auth.basic", "enabled", True)
default_role = setting("users", "auto_assign_org_role", "Viewer")
users = {admin_email: {"login": admin_login, "email": admin_email, "isGrafanaAdmin": True, "orgRole": "Admin", "password": admin_password}}


def datasource_request(ds, method, path, query, body):
    """Grafana's data source proxy: the datasource's URL with its provisioned credentials."""
    u = urllib.parse.urlsplit(ds["url"])
    jd, secure = ds.get("jsonData") or {}, ds.get("secureJsonData") or {}
    headers = {"User-Agent": "Grafana/12.1.1-standin"}
    if ds.get("basicAuth"):
        token = base64.b64encode(f"{ds.get('basicAuthUser', '')}:{secure.get('basicAuthPassword', '')}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    sock = socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=10)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cadata=secure.get("tlsCACert") if jd.get("tlsAuthWithCACert") else None)
        if jd.get("tlsSkipVerify"):
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        if jd.get("tlsAuth"):
            # ssl loads a key pair from files only: a private temp file in the data dir, removed at once.
            fd, name = tempfile.mkstemp(dir=data_dir)
            try:
                os.write(fd, (secure.get("tlsClientCert", "") + "\n" + secure.get("tlsClientKey", "")).encode())
                os.close(fd)
                ctx.load_cert_chain(name)
            finally:
                os.unlink(name)
        sock = ctx.wrap_socket(sock, server_hostname=jd.get("serverName") or u.hostname)
    conn = http.client.HTTPConnection(u.hostname, timeout=10)
    conn.sock = sock
    conn.request(method, u.path.rstrip("/") + "/" + path + (f"?{query}" if query else ""), body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read(), r.headers.get("Content-Type", "application/json")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        print(f'logger=context level=info msg="{fmt % a}" remote_addr={self.client_address[0]}', flush=True)

    def answer(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def user(self):
        """(user, error status) for this request."""
        value = self.headers.get(proxy_header) if proxy_enabled else None
        if value:
            remote = ipaddress.ip_address(self.client_address[0])
            if whitelist and not any(remote in n for n in whitelist):
                return None, 407
            key = value if proxy_property == "email" else value
            if key not in users:
                if not auto_sign_up:
                    return None, 401
                users[key] = {"login": value, "email": value, "isGrafanaAdmin": False, "orgRole": default_role}
            return users[key], 0
        if anonymous:
            return {"login": "", "email": "", "isGrafanaAdmin": False, "orgRole": "Viewer"}, 0
        auth = self.headers.get("Authorization", "")
        if basic_enabled and auth.startswith("Basic "):
            login, _, password = base64.b64decode(auth[6:]).decode(errors="replace").partition(":")
            for u in users.values():
                if u["login"] == login and u.get("password") == password:
                    return u, 0
            return None, 401
        return None, 401

    def route(self, method):
        path, _, query = self.path.partition("?")
        if path == "/api/health":
            return self.answer(200, {"database": "ok", "version": "12.1.1-standin"})
        if path == "/login":
            return self.answer(200, b"<!doctype html><title>Grafana stand-in</title>", "text/html")
        user, status = self.user()
        if user is None:
            if status == 407:
                return self.answer(407, {"message": "Proxy authentication required"})
            if path.startswith("/api/"):
                return self.answer(401, {"message": "Unauthorized"})
            return self.answer(302, b"", "text/html", {"Location": "/login"})
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if path == "/api/user":
            return self.answer(200, {k: v for k, v in user.items() if k != "password"})
        if path == "/api/search":
            return self.answer(200, [{"uid": uid, "title": d["dashboard"].get("title"), "folderTitle": d["folder"]} for uid, d in dashboards.items()])
        m = re.fullmatch(r"/api/dashboards/uid/([^/]+)", path)
        if m:
            d = dashboards.get(m.group(1))
            return self.answer(200, {"dashboard": d["dashboard"], "meta": {"provisioned": True}}) if d else self.answer(404, {"message": "Dashboard not found"})
        m = re.fullmatch(r"/api/datasources/uid/([^/]+)", path)
        if m:
            if user["orgRole"] != "Admin":
                return self.answer(403, {"message": "You'll need additional permissions to perform this action."})
            ds = datasources.get(m.group(1))
            if not ds:
                return self.answer(404, {"message": "Data source not found"})
            public = {k: v for k, v in ds.items() if k != "secureJsonData"}
            public["secureJsonFields"] = {k: True for k in (ds.get("secureJsonData") or {})}
            return self.answer(200, public)
        m = re.fullmatch(r"/api/datasources/proxy/uid/([^/]+)/(.*)", path)
        if m:
            ds = datasources.get(m.group(1))
            if not ds:
                return self.answer(404, {"message": "Data source not found"})
            try:
                st, b, ct = datasource_request(ds, method, m.group(2), query, body)
            except Exception as e:  # TLS refused, unreachable: Grafana answers 502
                log(f"data source proxy error: {e}", "error")
                return self.answer(502, {"message": f"Bad Gateway: {e}"})
            return self.answer(st, b, ct)
        if path.startswith("/api/"):
            return self.answer(404, {"message": "Not found"})
        return self.answer(200, b"<!doctype html><title>Grafana stand-in</title>", "text/html")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")


addr = setting("server", "http_addr", "")
port = int(setting("server", "http_port", "3000"))
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
ThreadingHTTPServer.address_family = family
server = ThreadingHTTPServer((addr or "0.0.0.0", port), Handler)
log(f"HTTP Server Listen address={addr}:{port} protocol=http")
server.serve_forever()
