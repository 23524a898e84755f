/**
 * Stand-in images, built locally (no registry is reachable): one per image of lib/images.ts, each a
 * root filesystem assembled from this host's Debian binaries plus their `ldd` libraries, imported with
 * the Engine API's `images/create?fromSrc=-` (what `docker import` does) and the Dockerfile changes
 * (USER, ENV, VOLUME, WORKDIR, ENTRYPOINT, CMD) that mimic the real image. docs/engine.md has the table
 * property -> real image -> stand-in. Real caddy, nginx, prometheus and restic run in theirs; vLLM,
 * oauth2-proxy, Open WebUI, Grafana, tailscale, cloudflared and LiteLLM are small Python mocks (test/engine/standins/*.py)
 * of what our configs use; Postgres is Debian's real PostgreSQL 15 behind a stand-in of the official entrypoint.
 *
 * Builds are cached by a hash of their inputs (the spec, the mock files, the host binaries' size and
 * mtime): an image whose tag carries that hash is not built again.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGES } from "../../lib/images";
import { call, request } from "./docker-api";

const MOCKS = path.join(__dirname, "standins");
const BUSYBOX = "/bin/busybox";

export type CatalogKey = keyof typeof IMAGES | "tool";

interface Spec {
  /** Host binaries: host path -> path in the image. */
  binaries: Record<string, string>;
  /** Mock scripts from test/engine/standins: file -> path in the image (mode 0755). */
  mocks?: Record<string, string>;
  /** Busybox applets linked into /bin (sh, cat, ...). @default none */
  busybox?: string[];
  python?: boolean;
  /** Extra files: path -> content. */
  files?: Record<string, string>;
  /** Directories: path -> [uid, gid, mode]. */
  dirs?: Record<string, [number, number, number]>;
  /** Symlinks: path -> target. */
  links?: Record<string, string>;
  /** Host directory trees copied whole (regular files and symlinks): host path -> path in the image. */
  trees?: Record<string, string>;
  /** File capabilities to set with setcap: path in image -> capability text. */
  caps?: Record<string, string>;
  passwd: string[];
  group: string[];
  /** Dockerfile instructions `docker import --change` accepts. */
  changes: string[];
}

const SHELL_APPLETS = ["sh", "cat", "ls", "id", "sleep", "timeout", "test", "mkdir", "rm", "stat", "echo", "env", "nc", "touch", "head", "grep"];
/** Every applet of busybox-static (an Alpine image has them all). */
const BUSYBOX_ALL = fs.existsSync(BUSYBOX)
  ? execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox" && !a.includes("["))
  : SHELL_APPLETS;
/** Debian's syslog-ng-core plugin directory (scripts/docker-engine.sh installs the package). */
const SYSLOG_NG_MODULES = "/usr/lib/syslog-ng/3.38";
const ROOT_PASSWD = ["root:x:0:0:root:/root:/bin/sh"];
/** Debian's PostgreSQL 15 (scripts/install-test-deps.sh installs postgresql-15). */
const PG_BIN = "/usr/lib/postgresql/15/bin";
const PG_LIB = "/usr/lib/postgresql/15/lib";
const PG_SHARE = "/usr/share/postgresql/15";
const PG_TOOLS = ["postgres", "initdb", "pg_ctl", "pg_isready", "psql"];
/** The server's loadable modules initdb and the server use (plpgsql, the snowball dictionaries, encoding conversions); not the LLVM JIT. */
const PG_MODULES = fs.existsSync(PG_LIB) ? fs.readdirSync(PG_LIB).filter((f) => f.endsWith(".so") && !f.startsWith("llvmjit")) : [];
const ROOT_GROUP = ["root:x:0:"];

/**
 * What each stand-in contains; comments name the real image's property it mimics. A catalog image
 * without a stand-in fails the applier with "no stand-in".
 */
export const SPECS: Partial<Record<CatalogKey, Spec>> = {
  // vllm/vllm-openai: Ubuntu base with python3, runs as root, ENTRYPOINT ["vllm", "serve"].
  vllm: {
    binaries: {},
    mocks: { "vllm.py": "/usr/local/bin/vllm", "huggingface_hub.py": "/usr/local/lib/python3.11/dist-packages/huggingface_hub.py" },
    busybox: SHELL_APPLETS,
    python: true,
    dirs: { "/vllm-workspace": [0, 0, 0o755] },
    passwd: ROOT_PASSWD,
    group: ROOT_GROUP,
    changes: ["WORKDIR /vllm-workspace", 'ENTRYPOINT ["vllm", "serve"]'],
  },
  // caddy:2.10-alpine: /usr/bin/caddy with cap_net_bind_service=+ep, /config and /data root-owned,
  // XDG_CONFIG_HOME=/config, XDG_DATA_HOME=/data, WORKDIR /srv, busybox wget, runs as root.
  // (The caddy-docker Dockerfile declares no VOLUME in 2.10; the Docker Hub image inherits none.)
  caddy: {
    binaries: { "/usr/bin/caddy": "/usr/bin/caddy" },
    busybox: [...SHELL_APPLETS, "wget"],
    dirs: {
      "/config/caddy": [0, 0, 0o755],
      "/data/caddy": [0, 0, 0o755],
      "/etc/caddy": [0, 0, 0o755],
      "/usr/share/caddy": [0, 0, 0o755],
      "/srv": [0, 0, 0o755],
    },
    files: { "/etc/caddy/Caddyfile": ":80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n", "/usr/share/caddy/index.html": "caddy stand-in\n" },
    caps: { "/usr/bin/caddy": "cap_net_bind_service=+ep" },
    passwd: ROOT_PASSWD,
    group: ROOT_GROUP,
    changes: [
      "ENV XDG_CONFIG_HOME=/config",
      "ENV XDG_DATA_HOME=/data",
      "EXPOSE 80 443 2019",
      "WORKDIR /srv",
      'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
    ],
  },
  // nginxinc/nginx-unprivileged:alpine: USER 101 (nginx), pid and *_temp_path under /tmp, logs linked to
  // stdout/stderr, ENTRYPOINT /docker-entrypoint.sh, CMD nginx -g 'daemon off;', busybox wget (and date and
  // cut, which SandboxRunner's record job runs with it, and tail, ChatUi's audit relay).
  nginx: {
    binaries: { "/usr/sbin/nginx": "/usr/sbin/nginx" },
    busybox: [...SHELL_APPLETS, "wget", "date", "cut", "printf", "tail"],
    files: {
      "/etc/nginx/nginx.conf": "pid /tmp/nginx.pid;\nevents {}\nhttp { server { listen 8080; } }\n",
      "/etc/nginx/mime.types": fs.existsSync("/etc/nginx/mime.types") ? fs.readFileSync("/etc/nginx/mime.types", "utf8") : "types {}\n",
      "/docker-entrypoint.sh": '#!/bin/sh\nexec "$@"\n',
    },
    dirs: { "/var/cache/nginx": [101, 101, 0o755], "/var/log/nginx": [0, 0, 0o755] },
    // Debian's nginx has its temp paths compiled in under /var/lib/nginx; the real image's are /tmp/*.
    links: { "/var/lib/nginx": "/tmp", "/var/log/nginx/access.log": "/dev/stdout", "/var/log/nginx/error.log": "/dev/stderr" },
    passwd: [...ROOT_PASSWD, "nginx:x:101:101:nginx:/nonexistent:/sbin/nologin"],
    group: [...ROOT_GROUP, "nginx:x:101:nginx"],
    changes: ["USER 101", "EXPOSE 8080", 'ENTRYPOINT ["/docker-entrypoint.sh"]', 'CMD ["nginx", "-g", "daemon off;"]'],
  },
  // quay.io/oauth2-proxy/oauth2-proxy:*-alpine: /bin/oauth2-proxy as ENTRYPOINT, USER 65532:65532; its
  // wget does HTTPS (Alpine's busybox uses ssl_client), so the stand-in carries GNU wget for the healthcheck.
  oauth2Proxy: {
    binaries: { "/usr/bin/wget": "/usr/bin/wget" },
    mocks: { "oauth2_proxy.py": "/bin/oauth2-proxy" },
    busybox: SHELL_APPLETS,
    python: true,
    passwd: [...ROOT_PASSWD, "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"],
    group: [...ROOT_GROUP, "nonroot:x:65532:"],
    changes: ["USER 65532:65532", 'ENTRYPOINT ["/bin/oauth2-proxy"]'],
  },
  // tailscale/tailscale: Alpine, binaries in /usr/local/bin, CMD containerboot, root, busybox wget.
  tailscale: {
    binaries: {},
    mocks: { "containerboot.py": "/usr/local/bin/containerboot" },
    busybox: [...SHELL_APPLETS, "wget"],
    python: true,
    dirs: { "/var/lib/tailscale": [0, 0, 0o755] },
    passwd: ROOT_PASSWD,
    group: ROOT_GROUP,
    changes: ['CMD ["/usr/local/bin/containerboot"]'],
  },
  // cloudflare/cloudflared: distroless nonroot (USER 65532), no shell, ENTRYPOINT cloudflared --no-autoupdate.
  // The stand-in has no shell either, but a Python interpreter to run the mock.
  cloudflared: {
    binaries: {},
    mocks: { "cloudflared.py": "/usr/local/bin/cloudflared" },
    python: true,
    passwd: [...ROOT_PASSWD, "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"],
    group: [...ROOT_GROUP, "nonroot:x:65532:"],
    changes: ["USER 65532", 'ENTRYPOINT ["cloudflared", "--no-autoupdate"]', 'CMD ["version"]'],
  },
  // ghcr.io/open-webui/open-webui: python:3.11-slim, root, WORKDIR /app/backend, curl, DATA_DIR data volume.
  openWebui: {
    binaries: { "/usr/bin/curl": "/usr/bin/curl" },
    mocks: { "open_webui.py": "/usr/local/bin/uvicorn" },
    busybox: SHELL_APPLETS,
    python: true,
    dirs: { "/app/backend/data": [0, 0, 0o755], "/root": [0, 0, 0o700] },
    passwd: ROOT_PASSWD,
    group: ROOT_GROUP,
    changes: ["ENV ENV=prod", "ENV PORT=8080", "ENV HOME=/root", "WORKDIR /app/backend", 'VOLUME ["/app/backend/data"]', 'CMD ["bash", "start.sh"]'],
  },
  // prom/prometheus:v3.5.0 (Dockerfile: FROM quay.io/prometheus/busybox-linux-amd64, glibc busybox): /bin/prometheus
  // and /bin/promtool, /etc/prometheus/prometheus.yml, `chown -R nobody:nobody /etc/prometheus /prometheus`,
  // USER nobody, EXPOSE 9090, VOLUME ["/prometheus"], WORKDIR /prometheus, ENTRYPOINT ["/bin/prometheus"],
  // CMD --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus. The stand-in runs
  // Debian's real prometheus 2.42; its /bin/promtool is a wrapper implementing 3.5's `check healthy`
  // (standins/promtool.py; docs/engine.md) and running the real promtool 2.42 for everything else.
  prometheus: {
    binaries: { "/usr/bin/prometheus": "/bin/prometheus", "/usr/bin/promtool": "/usr/lib/zta-standin/promtool-2.42" },
    mocks: { "promtool.py": "/bin/promtool" },
    busybox: [...SHELL_APPLETS, "wget"],
    python: true,
    dirs: { "/prometheus": [65534, 65534, 0o755], "/etc/prometheus": [65534, 65534, 0o755] },
    files: { "/etc/prometheus/prometheus.yml": "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [\"localhost:9090\"]\n" },
    passwd: [...ROOT_PASSWD, "nobody:x:65534:65534:nobody:/home:/bin/false"],
    group: [...ROOT_GROUP, "nogroup:x:65534:"],
    changes: [
      "USER nobody",
      "EXPOSE 9090",
      'VOLUME ["/prometheus"]',
      "WORKDIR /prometheus",
      'ENTRYPOINT ["/bin/prometheus"]',
      'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
    ],
  },
  // grafana/grafana:12.1.1 (Dockerfile: Alpine + bash, curl; GF_UID 472, GF_GID 0): ENV PATH with
  // /usr/share/grafana/bin and GF_PATHS_*; WORKDIR /usr/share/grafana; /var/lib/grafana, /var/log/grafana,
  // /var/lib/grafana/plugins, /etc/grafana/provisioning/* owned 472:0 mode 0777; USER 472; ENTRYPOINT /run.sh.
  // No VOLUME instruction: a named volume at /var/lib/grafana still gets the directory's owner and mode
  // (Docker copies an image directory into a new empty volume). Grafana itself is a Python mock (standins/grafana.py).
  grafana: {
    binaries: { "/usr/bin/curl": "/usr/bin/curl" },
    mocks: { "grafana.py": "/usr/share/grafana/bin/grafana" },
    busybox: [...SHELL_APPLETS, "wget"],
    python: true,
    dirs: {
      "/var/lib/grafana": [472, 0, 0o777],
      "/var/lib/grafana/plugins": [472, 0, 0o777],
      "/var/log/grafana": [472, 0, 0o777],
      "/etc/grafana/provisioning/datasources": [472, 0, 0o777],
      "/etc/grafana/provisioning/dashboards": [472, 0, 0o777],
      "/usr/share/grafana/.aws": [472, 0, 0o777],
    },
    files: {
      "/usr/share/grafana/conf/defaults.ini": "; stand-in: Grafana refuses to start without conf/defaults.ini under its homepath\n",
      "/etc/grafana/grafana.ini": "; sample.ini\n",
      "/run.sh": '#!/bin/sh\nexec grafana server --homepath="$GF_PATHS_HOME" --config="$GF_PATHS_CONFIG" --packaging=docker "$@"\n',
    },
    passwd: [...ROOT_PASSWD, "grafana:x:472:0::/home/grafana:/sbin/nologin"],
    group: ROOT_GROUP,
    changes: [
      "ENV PATH=/usr/share/grafana/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV GF_PATHS_CONFIG=/etc/grafana/grafana.ini",
      "ENV GF_PATHS_DATA=/var/lib/grafana",
      "ENV GF_PATHS_HOME=/usr/share/grafana",
      "ENV GF_PATHS_LOGS=/var/log/grafana",
      "ENV GF_PATHS_PLUGINS=/var/lib/grafana/plugins",
      "ENV GF_PATHS_PROVISIONING=/etc/grafana/provisioning",
      "WORKDIR /usr/share/grafana",
      "EXPOSE 3000",
      'USER 472',
      'ENTRYPOINT ["/run.sh"]',
    ],
  },
  // restic/restic:0.18.1 (docker/Dockerfile.release: FROM alpine, `apk add ca-certificates fuse openssh-client
  // tzdata jq`, /usr/bin/restic, ENTRYPOINT ["/usr/bin/restic"]): no USER (root), no VOLUME, no directories of
  // its own; Alpine's busybox provides sh, sha256sum, find, xargs, awk, sed, cmp. The stand-in: Debian's real
  // restic 0.14 and every applet of busybox-static.
  restic: {
    binaries: { "/usr/bin/restic": "/usr/bin/restic" },
    busybox: BUSYBOX_ALL,
    passwd: [...ROOT_PASSWD, "nobody:x:65534:65534:nobody:/:/sbin/nologin"],
    group: [...ROOT_GROUP, "nobody:x:65534:"],
    changes: ['ENTRYPOINT ["/usr/bin/restic"]'],
  },
  // balabit/syslog-ng: Debian, syslog-ng in /usr/sbin, its modules in the package's plugin dir, runs as root,
  // ENTRYPOINT ["/usr/sbin/syslog-ng", "-F"]. The stand-in carries Debian's 3.38 (the config is written for both)
  // with the modules the audit collector loads, and the shell tools the retention pruner uses (sh, date, tr, basename).
  syslogNg: {
    binaries: {
      "/usr/sbin/syslog-ng": "/usr/sbin/syslog-ng",
      "/usr/sbin/syslog-ng-ctl": "/usr/sbin/syslog-ng-ctl",
      ...Object.fromEntries(
        // http: the collector's push to Loki (Debian's syslog-ng-mod-http).
        ["afsocket", "affile", "json-plugin", "syslogformat", "basicfuncs", "http"].map((m) => [`${SYSLOG_NG_MODULES}/lib${m}.so`, `${SYSLOG_NG_MODULES}/lib${m}.so`]),
      ),
    },
    busybox: [...SHELL_APPLETS, "date", "tr", "basename"],
    dirs: { "/var/lib/syslog-ng": [0, 0, 0o755], "/etc/syslog-ng": [0, 0, 0o755] },
    passwd: ROOT_PASSWD,
    group: ROOT_GROUP,
    changes: ['ENTRYPOINT ["/usr/sbin/syslog-ng", "-F"]'],
  },
  // grafana/loki:3.7 (cmd/loki/Dockerfile: distroless static:nonroot, no shell): /usr/bin/loki as ENTRYPOINT,
  // CMD -config.file=/etc/loki/local-config.yaml, USER 10001, /loki owned by 10001, EXPOSE 3100, no VOLUME.
  // Loki itself is a Python mock of its push, query and -health contract (standins/loki.py).
  loki: {
    binaries: {},
    mocks: { "loki.py": "/usr/bin/loki" },
    python: true,
    dirs: { "/loki": [10001, 10001, 0o755], "/loki/rules": [10001, 10001, 0o755], "/etc/loki": [0, 0, 0o755] },
    files: { "/etc/loki/local-config.yaml": "# stand-in: the image's sample config\n" },
    passwd: [...ROOT_PASSWD, "loki:x:10001:10001:loki:/loki:/sbin/nologin"],
    group: [...ROOT_GROUP, "loki:x:10001:"],
    changes: ["USER 10001", "EXPOSE 3100", 'ENTRYPOINT ["/usr/bin/loki"]', 'CMD ["-config.file=/etc/loki/local-config.yaml"]'],
  },
  // ghcr.io/berriai/litellm (docker/Dockerfile, v1.83): Wolfi base with python3 and bash, the venv at /app/.venv
  // (ENV PATH="/app/.venv/bin:$PATH"), WORKDIR /app, no USER (root), EXPOSE 4000, ENTRYPOINT
  // ["docker/prod_entrypoint.sh"] (which execs litellm), CMD ["--port", "4000"]; no curl or wget. ApiGateway
  // replaces the entrypoint with `/bin/sh -c '... exec litellm ...'`, its healthcheck and the reconcile job run
  // `python`. LiteLLM itself is the contract mock (standins/litellm.py); it keeps its keys in Postgres through
  // psql (the real one uses Prisma), so this stand-in alone carries Debian's psql 15.
  litellm: {
    binaries: { [`${PG_BIN}/psql`]: `${PG_BIN}/psql` },
    mocks: { "litellm.py": "/app/.venv/bin/litellm", "litellm-spend-logs.sql": "/app/.venv/bin/litellm-spend-logs.sql" },
    busybox: SHELL_APPLETS,
    python: true,
    dirs: { "/app": [0, 0, 0o755], "/app/docker": [0, 0, 0o755] },
    files: { "/app/docker/prod_entrypoint.sh": '#!/bin/sh\nexec litellm "$@"\n' },
    links: { "/app/.venv/bin/python": "/usr/bin/python3.11", "/app/.venv/bin/python3": "/usr/bin/python3.11", "/usr/bin/psql": `${PG_BIN}/psql` },
    passwd: [...ROOT_PASSWD, "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin"],
    group: [...ROOT_GROUP, "nogroup:x:65534:"],
    changes: [
      "ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "WORKDIR /app",
      "EXPOSE 4000/tcp",
      'ENTRYPOINT ["docker/prod_entrypoint.sh"]',
      'CMD ["--port", "4000"]',
    ],
  },
  // postgres:15-alpine (docker-library/postgres 15/alpine3.21/Dockerfile): user postgres is uid 70 / gid 70 with
  // home /var/lib/postgresql (mode 1777); no USER (the entrypoint steps down from root with gosu; it also runs
  // as a given --user, which is how ApiGateway runs it: 70:70),
  // binaries in /usr/local/bin, ENV PGDATA=/var/lib/postgresql/data and LANG en_US.utf8,
  // `install --directory --owner postgres --group postgres --mode 1777 "$PGDATA"`, /var/run/postgresql mode 3777,
  // listen_addresses = '*' in postgresql.conf.sample, VOLUME /var/lib/postgresql/data, ENTRYPOINT
  // ["docker-entrypoint.sh"], STOPSIGNAL SIGINT, EXPOSE 5432, CMD ["postgres"]. The stand-in: Debian's real
  // PostgreSQL 15 (server, initdb, pg_ctl, pg_isready, psql) with its modules, share files, the system tzdata it
  // is built against, glibc's C.UTF-8 (en_US is not on this host), and standins/postgres-entrypoint.sh. No
  // STOPSIGNAL: `docker import` refuses it, so the stand-in stops on SIGTERM (a smart shutdown, not a fast one).
  postgres: {
    binaries: Object.fromEntries([
      ...PG_TOOLS.map((b) => [`${PG_BIN}/${b}`, `${PG_BIN}/${b}`]),
      ...PG_MODULES.map((m) => [`${PG_LIB}/${m}`, `${PG_LIB}/${m}`]),
    ]),
    // The part of the official docker-entrypoint.sh ApiGateway relies on.
    mocks: { "postgres-entrypoint.sh": "/usr/local/bin/docker-entrypoint.sh" },
    // date and mv: the gateway's spend exporter (an Alpine image has every applet).
    busybox: [...SHELL_APPLETS, "chmod", "mktemp", "printf", "date", "mv"],
    trees: { [PG_SHARE]: PG_SHARE, "/usr/share/zoneinfo": "/usr/share/zoneinfo", "/usr/lib/locale/C.utf8": "/usr/lib/locale/C.utf8" },
    dirs: {
      "/var/lib/postgresql": [70, 70, 0o1777],
      "/var/lib/postgresql/data": [70, 70, 0o1777],
      "/var/run/postgresql": [70, 70, 0o3777],
      "/docker-entrypoint-initdb.d": [0, 0, 0o755],
    },
    files: {
      // As the image's Dockerfile does: sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" on the sample.
      [`${PG_SHARE}/postgresql.conf.sample`]: fs.existsSync(`${PG_SHARE}/postgresql.conf.sample`)
        ? fs.readFileSync(`${PG_SHARE}/postgresql.conf.sample`, "utf8").replace(/^#?(listen_addresses)\s*=\s*\S+.*$/m, "$1 = '*'")
        : "",
    },
    links: Object.fromEntries(PG_TOOLS.map((b) => [`/usr/local/bin/${b}`, `${PG_BIN}/${b}`])),
    passwd: [...ROOT_PASSWD, "postgres:x:70:70:PostgreSQL user:/var/lib/postgresql:/bin/sh"],
    group: [...ROOT_GROUP, "postgres:x:70:postgres"],
    changes: [
      "ENV LANG=C.UTF-8",
      "ENV PGDATA=/var/lib/postgresql/data",
      'VOLUME ["/var/lib/postgresql/data"]',
      "EXPOSE 5432",
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["postgres"]',
    ],
  },
  // The suite's own probe: busybox (nc, wget) and curl for TLS with client certificates.
  tool: {
    binaries: { "/usr/bin/curl": "/usr/bin/curl" },
    busybox: [...SHELL_APPLETS, "wget", "nc", "ip", "cut", "sed", "wc", "tr", "seq", "sha256sum"],
    passwd: [...ROOT_PASSWD, "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin"],
    group: [...ROOT_GROUP, "nogroup:x:65534:"],
    changes: ['CMD ["sh"]'],
  },
};

const PYTHON = "/usr/bin/python3.11";
const PYTHON_LIB = "/usr/lib/python3.11";
const PYTHON_SKIP = new Set(["test", "tkinter", "idlelib", "ensurepip", "lib2to3", "turtledemo", "pydoc_data", "__pycache__", "unittest", "distutils"]);

function requireFile(p: string, why: string): void {
  if (!fs.existsSync(p)) throw new Error(`stand-in images need ${p} (${why}); scripts/docker-engine.sh installs it`);
}

/** The shared libraries `ldd` lists for a binary (including the loader). */
function libraries(binary: string): string[] {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s+(\/\S+)\s+\(/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function copyFile(from: string, root: string, to: string, mode?: number): void {
  const dest = path.join(root, to);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(fs.realpathSync(from), dest);
  fs.chmodSync(dest, mode ?? fs.statSync(fs.realpathSync(from)).mode & 0o7777);
}

function copyWithLibraries(from: string, root: string, to: string): void {
  copyFile(from, root, to);
  for (const lib of libraries(from)) {
    if (!fs.existsSync(path.join(root, lib))) copyFile(lib, root, lib);
  }
}

function copyPythonLib(src: string, root: string): void {
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    if (PYTHON_SKIP.has(entry.name)) continue;
    const from = path.join(src, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "dist-packages" || entry.name === "site-packages") continue;
      copyPythonLib(from, root);
    } else if (entry.isFile()) {
      copyFile(from, root, from);
      if (entry.name.endsWith(".so")) {
        for (const lib of libraries(from)) if (!fs.existsSync(path.join(root, lib))) copyFile(lib, root, lib);
      }
    }
  }
}

function hostInputs(spec: Spec): string[] {
  const files = [...Object.keys(spec.binaries), ...(spec.busybox ? [BUSYBOX] : []), ...(spec.python ? [PYTHON] : [])];
  return files.map((f) => {
    const s = fs.statSync(f);
    return `${f}:${s.size}:${s.mtimeMs}`;
  });
}

function specOf(key: CatalogKey): Spec {
  const spec = SPECS[key];
  if (!spec) throw new Error(`no stand-in image for catalog image ${key}: add one to SPECS in test/engine/standins.ts`);
  return spec;
}

/** The tag of a stand-in: its catalog key and the hash of everything that goes into it. */
export function standinTag(key: CatalogKey): string {
  const spec = specOf(key);
  const h = createHash("sha256");
  h.update(JSON.stringify(spec));
  h.update(JSON.stringify(hostInputs(spec)));
  for (const mock of Object.keys(spec.mocks ?? {})) h.update(fs.readFileSync(path.join(MOCKS, mock)));
  return `zta-standin/${key.toLowerCase()}:${h.digest("hex").slice(0, 16)}`;
}

function assemble(spec: Spec, root: string): void {
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "usr/bin", "usr/local/bin"]) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.chmodSync(path.join(root, "tmp"), 0o1777);
  for (const [from, to] of Object.entries(spec.binaries)) {
    requireFile(from, "a binary of a stand-in");
    copyWithLibraries(from, root, to);
  }
  if (spec.busybox) {
    requireFile(BUSYBOX, "busybox-static");
    copyFile(BUSYBOX, root, "/bin/busybox");
    for (const applet of spec.busybox) {
      const link = path.join(root, "bin", applet);
      if (!fs.existsSync(link) && !fs.existsSync(path.join(root, "usr/bin", applet))) fs.symlinkSync("busybox", link);
    }
  }
  if (spec.python) {
    requireFile(PYTHON, "python3.11 for the mocks");
    copyWithLibraries(PYTHON, root, PYTHON);
    fs.symlinkSync("python3.11", path.join(root, "usr/bin/python3"));
    copyPythonLib(PYTHON_LIB, root);
  }
  for (const [from, to] of Object.entries(spec.trees ?? {})) {
    requireFile(from, "a directory tree of a stand-in");
    // cp -a keeps the tree's symlinks (zoneinfo has many) and modes.
    fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
    execFileSync("cp", ["-a", from, path.join(root, to)]);
  }
  for (const [mock, to] of Object.entries(spec.mocks ?? {})) copyFile(path.join(MOCKS, mock), root, to, to.endsWith(".py") ? 0o644 : 0o755);
  for (const [dir, [uid, gid, mode]] of Object.entries(spec.dirs ?? {})) {
    const p = path.join(root, dir);
    fs.mkdirSync(p, { recursive: true });
    fs.chownSync(p, uid, gid);
    fs.chmodSync(p, mode);
  }
  for (const [file, content] of Object.entries(spec.files ?? {})) {
    const p = path.join(root, file);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content, { mode: file.endsWith(".sh") ? 0o755 : 0o644 });
  }
  for (const [link, target] of Object.entries(spec.links ?? {})) {
    fs.mkdirSync(path.dirname(path.join(root, link)), { recursive: true });
    fs.symlinkSync(target, path.join(root, link));
  }
  fs.writeFileSync(path.join(root, "etc/passwd"), spec.passwd.join("\n") + "\n");
  fs.writeFileSync(path.join(root, "etc/group"), spec.group.join("\n") + "\n");
  for (const [file, cap] of Object.entries(spec.caps ?? {})) {
    execFileSync("setcap", [cap, path.join(root, file)]);
  }
}

async function imageExists(tag: string): Promise<boolean> {
  return (await request("GET", `/images/${encodeURIComponent(tag)}/json`)).status === 200;
}

/** Builds one stand-in unless an image with its tag exists; returns the tag. */
export async function buildStandin(key: CatalogKey): Promise<string> {
  const tag = standinTag(key);
  if (await imageExists(tag)) return tag;
  const spec = specOf(key);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `zta-standin-${key}-`));
  try {
    assemble(spec, root);
    // --xattrs keeps security.capability (caddy's cap_net_bind_service); the engine applies it on import.
    const tar = execFileSync("tar", ["--xattrs", "--xattrs-include=security.capability", "--numeric-owner", "-C", root, "-cf", "-", "."], {
      maxBuffer: 1 << 30,
    });
    const [repo, version] = tag.split(":");
    const changes = spec.changes.map((c) => `&changes=${encodeURIComponent(c)}`).join("");
    const res = await call("POST", `/images/create?fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${version}${changes}`, tar);
    if (/"error"/.test(res.body.toString())) throw new Error(`import of ${tag} failed: ${res.body.toString()}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (!(await imageExists(tag))) throw new Error(`stand-in ${tag} was not created`);
  return tag;
}

/** Builds every stand-in (sequentially: the machine has 2 cores) and maps catalog references to tags. */
export async function buildAllStandins(): Promise<Map<string, string>> {
  const byReference = new Map<string, string>();
  for (const key of Object.keys(SPECS) as CatalogKey[]) {
    const tag = await buildStandin(key);
    if (key !== "tool") byReference.set(IMAGES[key].reference, tag);
  }
  return byReference;
}

export function toolImage(): string {
  return standinTag("tool");
}
