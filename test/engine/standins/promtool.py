#!/usr/bin/python3
"""/bin/promtool of the Prometheus stand-in: Prometheus 3.5's `check healthy` / `check ready`, which
Debian's promtool 2.42 lacks; every other command runs the real promtool 2.42.

What 3.5 does (cmd/promtool/main.go, CheckServerStatus), and so this wrapper:
- `--url` (default http://localhost:9090) and `--http.config.file` (an existing file) are flags of the
  subcommand; the file is loaded strictly (an unknown field fails: "Failed to load HTTP config file");
- GET <url>/-/healthy (or /-/ready) with that client config, 10 s timeout: basic_auth (password_file,
  trimmed), tls_config (ca_file, cert_file, key_file, server_name used for SNI and verification,
  insecure_skip_verify);
- status 200: "  SUCCESS:  <body>" on stderr, exit 0; anything else: "  FAILED: <error>", exit 1.
Only the subset of the HTTP client config the construct renders is implemented; any other field fails
loudly here rather than being ignored.
"""
import base64
import socket
import os
import ssl
import sys
import urllib.parse
import http.client

REAL = "/usr/lib/zta-standin/promtool-2.42"

ALLOWED = {
    "basic_auth": {"username", "password", "password_file", "username_file"},
    "tls_config": {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "min_version"},
    "follow_redirects": None,
    "enable_http2": None,
}


def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)


def scalar(v):
    v = v.strip()
    if v.startswith('"') and v.endswith('"'):
        import json
        return json.loads(v)
    if v.startswith("'") and v.endswith("'"):
        return v[1:-1].replace("''", "'")
    if v in ("true", "false"):
        return v == "true"
    return v


def load_http_config(path):
    """A two-level YAML mapping (what the construct renders), checked against the fields 3.5 knows."""
    conf, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(":")
            if indent == 0:
                if key not in ALLOWED:
                    raise ValueError(f"yaml: unmarshal errors:\n  line ?: field {key} not found in type config.HTTPClientConfig")
                if value.strip():
                    conf[key] = scalar(value)
                    section = None
                else:
                    conf[key], section = {}, key
            else:
                if section is None or key not in (ALLOWED[section] or set()):
                    raise ValueError(f"yaml: unmarshal errors:\n  line ?: field {key} not found in {section}")
                conf[section][key] = scalar(value)
    return conf


def check(endpoint, args):
    url, http_config = "http://localhost:9090", None
    i = 0
    while i < len(args):
        a = args[i]
        for flag in ("--url", "--http.config.file"):
            if a == flag:
                i += 1
                value = args[i]
            elif a.startswith(flag + "="):
                value = a[len(flag) + 1:]
            else:
                continue
            if flag == "--url":
                url = value
            else:
                http_config = value
            break
        else:
            fail(f"promtool: error: unknown long flag '{a}', try --help")
        i += 1
    conf = {}
    if http_config is not None:
        if not os.path.isfile(http_config):
            fail(f"promtool: error: path '{http_config}' does not exist, try --help")
        try:
            conf = load_http_config(http_config)
        except (OSError, ValueError) as e:
            fail(f"promtool: error: Failed to load HTTP config file: {e}")
    u = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    headers = {"User-Agent": "promtool/3.5.0-standin"}
    ba = conf.get("basic_auth")
    if ba:
        password = ba.get("password", "")
        if "password_file" in ba:
            with open(ba["password_file"]) as f:
                password = f.read().strip()
        token = base64.b64encode(f"{ba.get('username', '')}:{password}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    try:
        if u.scheme == "https":
            tls = conf.get("tls_config", {})
            ctx = ssl.create_default_context(cafile=tls.get("ca_file"))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if tls.get("cert_file"):
                ctx.load_cert_chain(tls["cert_file"], tls.get("key_file"))
            server_name = tls.get("server_name") or u.hostname
            if tls.get("insecure_skip_verify"):
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            # Go's tls.Config.ServerName: SNI and the name verified, independent of the dialed address.
            conn = http.client.HTTPConnection(u.hostname, u.port or 443, timeout=10)
            conn.sock = ctx.wrap_socket(socket.create_connection((u.hostname, u.port or 443), timeout=10), server_hostname=server_name)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
        conn.request("GET", (u.path.rstrip("/") or "") + endpoint, headers=headers)
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
    except Exception as e:  # connection refused, TLS failure, timeout
        fail(f"  FAILED: Get \"{url}{endpoint}\": {e}")
    if r.status != 200:
        fail(f"  FAILED: check failed: URL={url}, status={r.status}")
    sys.stderr.write(f"  SUCCESS:  {body}\n")
    sys.exit(0)


args = sys.argv[1:]
if len(args) >= 2 and args[0] == "check" and args[1] in ("healthy", "ready"):
    check("/-/healthy" if args[1] == "healthy" else "/-/ready", args[2:])
os.execv(REAL, [REAL, *args])
