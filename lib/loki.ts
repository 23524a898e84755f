/**
 * Renderers of the audit trail's query store (AuditLog): Loki's config and the nginx gateway in Loki's
 * network namespace that decides, by client certificate, who may write and who may read.
 *
 * Loki has no per-identity authorization of its own (with `auth_enabled: false` every caller is the one
 * tenant), so it listens on 127.0.0.1 only and the gateway is the only way in:
 * - the collector's identity may POST `/loki/api/v1/push`, nothing else;
 * - reader identities (Grafana's) may use the read API Grafana's Loki datasource calls, nothing else;
 * - any other certificate of the internal CA gets 403; no certificate, or another CA's, no handshake.
 * Nobody can reach the delete API, the config or the compactor's endpoints.
 *
 * Loki cannot run here (Debian's `loki` is an unrelated program): the config is checked structurally and
 * against Loki 3.5's documented keys, read not run; docs/audit.md has the `-verify-config` command.
 */
import { nginxHealthServer, nginxMtlsServer, nginxPreamble, nginxString } from "./nginx";
import { toYaml } from "./yaml";

/** The gateway's TLS port (collector and Grafana dial it on their pair networks). */
export const LOKI_GATEWAY_PORT = 3100;
/** The gateway's loopback healthcheck port. */
export const LOKI_GATEWAY_HEALTH_PORT = 8081;
/** Loki's own HTTP and gRPC ports, on 127.0.0.1 of the shared namespace only. */
export const LOKI_HTTP_PORT = 3101;
export const LOKI_GRPC_PORT = 9095;
/** Loki's data volume (chunks, TSDB index, compactor state): the image's /loki, owned by its user 10001. */
export const LOKI_DATA_DIR = "/loki";
/** Loki's push path: the only one the collector may call. */
export const LOKI_PUSH_PATH = "/loki/api/v1/push";
/** The stream label every audit line carries in Loki (`{job="zta-audit"}`). */
export const LOKI_JOB = "zta-audit";
/**
 * The read API a reader may call: what Grafana's Loki datasource uses for Explore, dashboards, the label
 * browser and its health check (Grafana 12, read). Anything else (delete requests, /config, /flush, rules)
 * is refused. Only [a-z_/] path characters: the path the gateway checks is the one it passes on.
 */
export const LOKI_READ_PATHS = [
  "/loki/api/v1/query",
  "/loki/api/v1/query_range",
  "/loki/api/v1/labels",
  "/loki/api/v1/label/<name>/values",
  "/loki/api/v1/series",
  "/loki/api/v1/index/stats",
  "/loki/api/v1/index/volume",
  "/loki/api/v1/index/volume_range",
  "/loki/api/v1/detected_fields",
  "/loki/api/v1/detected_labels",
  "/loki/api/v1/patterns",
  "/loki/api/v1/format_query",
  "/loki/api/v1/status/buildinfo",
  "/loki/api/v1/tail",
] as const;

/**
 * Loki's healthcheck: its own `-health` client (3.6.5+; the image has no shell or wget) asking /ready on the
 * loopback listener (cmd/loki/health.go, read).
 */
export const LOKI_HEALTHCHECK = ["/usr/bin/loki", "-health", `-health.url=http://127.0.0.1:${LOKI_HTTP_PORT}/ready`];

export interface LokiConfigOptions {
  readonly retentionDays: number;
  /** The first day of the v13 schema (YYYY-MM-DD): any day not after the first write. */
  readonly schemaFrom: string;
}

/**
 * loki.yaml for a single-binary Loki 3.x with filesystem storage on its volume.
 * - `auth_enabled: false`: one tenant; who may do what is the gateway's decision.
 * - Listens on 127.0.0.1 only (HTTP and gRPC); `instance_addr` 127.0.0.1 so the in-memory ring names the
 *   loopback address rather than the first private interface.
 * - TSDB index, schema v13 (what Loki 3.x requires for structured metadata), a 24 h index period.
 * - Retention by the compactor: `retention_enabled`, `delete_request_store` (required with retention in 3.x),
 *   `limits_config.retention_period` = the trail's days. Deletes happen `retention_delete_delay` after a
 *   chunk is marked.
 * - No usage reports to grafana.com (`analytics.reporting_enabled: false`): the stack makes no outbound calls.
 */
export function renderLokiConfig(o: LokiConfigOptions): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(o.schemaFrom))
    throw new Error(`renderLokiConfig: schemaFrom must be YYYY-MM-DD: ${o.schemaFrom}`);
  const config = {
    auth_enabled: false,
    server: {
      http_listen_address: "127.0.0.1",
      http_listen_port: LOKI_HTTP_PORT,
      grpc_listen_address: "127.0.0.1",
      grpc_listen_port: LOKI_GRPC_PORT,
      log_level: "info",
    },
    common: {
      instance_addr: "127.0.0.1",
      path_prefix: LOKI_DATA_DIR,
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
      storage: {
        filesystem: { chunks_directory: `${LOKI_DATA_DIR}/chunks`, rules_directory: `${LOKI_DATA_DIR}/rules` },
      },
    },
    schema_config: {
      configs: [
        {
          from: o.schemaFrom,
          store: "tsdb",
          object_store: "filesystem",
          schema: "v13",
          index: { prefix: "index_", period: "24h" },
        },
      ],
    },
    compactor: {
      working_directory: `${LOKI_DATA_DIR}/compactor`,
      compaction_interval: "10m",
      retention_enabled: true,
      retention_delete_delay: "2h",
      delete_request_store: "filesystem",
    },
    limits_config: {
      retention_period: `${o.retentionDays * 24}h`,
      // The collector stamps each line with its receive time: nothing older arrives.
      reject_old_samples: true,
      reject_old_samples_max_age: "168h",
    },
    analytics: { reporting_enabled: false },
  };
  return toYaml(config, ["Rendered by cdktf-zero-trust-ai (AuditLog). Do not edit: change the construct's props."]);
}

export interface LokiGatewayOptions {
  readonly listenPort: number;
  readonly healthPort: number;
  /** Loki's loopback address, `127.0.0.1:3101`. */
  readonly lokiUpstream: string;
  /** Subjects (RFC 2253, as `$ssl_client_s_dn` prints them) that may push: the collector's. */
  readonly writerSubjects: string[];
  /** Subjects that may query: Grafana's, and any operator identity given. */
  readonly readerSubjects: string[];
  /** Directory holding ca.crt, server.crt, server.key. */
  readonly configDir: string;
  readonly runDir: string;
  readonly accessLog: string;
  readonly errorLog: string;
}

/** The read paths as one nginx regex (a label name in `/label/<name>/values` is `[A-Za-z_][A-Za-z0-9_]*`). */
function readPathRegex(): string {
  const alternatives = LOKI_READ_PATHS.map((p) =>
    p.slice("/loki/api/v1/".length).replace("<name>", "[A-Za-z_][A-Za-z0-9_]*"),
  );
  return `/loki/api/v1/(${alternatives.join("|")})`;
}

/**
 * The gateway in Loki's namespace. The decision is one map over "role method path": the role comes from the
 * verified certificate subject, the path is nginx's normalized `$uri`, and exactly that path is what goes
 * to Loki (`proxy_pass` with `$uri`), so an encoded or dotted path cannot be checked as one thing and
 * served as another. Every request is logged; the push calls are not (each would be one more line to push).
 */
export function renderLokiGatewayNginxConfig(o: LokiGatewayOptions): string {
  if (o.writerSubjects.length === 0) throw new Error("renderLokiGatewayNginxConfig: no writer subjects");
  const overlap = o.writerSubjects.filter((s) => o.readerSubjects.includes(s));
  if (overlap.length > 0)
    throw new Error(`renderLokiGatewayNginxConfig: a subject may not both write and read: ${overlap.join("; ")}`);
  const roles = [
    ...o.writerSubjects.map((s) => `        ${nginxString(s)} writer;`),
    ...o.readerSubjects.map((s) => `        ${nginxString(s)} reader;`),
  ].join("\n");
  return `${nginxPreamble("AuditLog", "1", o)}
    gzip off;

    # Who the verified client certificate is.
    map $ssl_client_s_dn $zta_loki_role {
        default "";
${roles}
    }

    # What that role may do: writers push, readers query; nothing else reaches Loki.
    map "$zta_loki_role $request_method $uri" $zta_loki_allowed {
        default 0;
        "writer POST ${LOKI_PUSH_PATH}" 1;
        "~^reader (GET|POST) ${readPathRegex()}$" 1;
    }

    # Reads and refusals are logged (who looked at the audit trail); accepted pushes are not.
    map "$zta_loki_role $status" $zta_loki_log {
        "~^writer 20[04]$" 0;
        default 1;
    }

    map $http_upgrade $zta_connection_upgrade {
        default upgrade;
        "" "";
    }

    log_format zta_loki escape=json '{"time":"$time_iso8601","request_id":"$request_id","gateway":"loki",'
        '"role":"$zta_loki_role","client_cert":"$ssl_client_s_dn","method":"$request_method","route":"$uri",'
        '"query":"$arg_query","status":$status,"request_bytes":$request_length,"response_bytes":$bytes_sent,'
        '"request_time":$request_time}';
    access_log ${o.accessLog} zta_loki if=$zta_loki_log;

    upstream zta_loki {
        server ${o.lokiUpstream};
        keepalive 8;
    }

    server {
        listen ${o.listenPort} ssl;
${nginxMtlsServer(o.configDir)}
        # A push batch of the collector; queries are small.
        client_max_body_size 16m;
        client_body_buffer_size 1m;

        if ($zta_loki_allowed = 0) {
            return 403;
        }

        location / {
            proxy_pass http://zta_loki$uri$is_args$args;
            proxy_http_version 1.1;
            # /loki/api/v1/tail is a websocket.
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $zta_connection_upgrade;
            proxy_set_header Host $host;
            # One tenant: a client's tenant header means nothing here.
            proxy_set_header X-Scope-OrgID "";
            proxy_read_timeout 300s;
        }
    }

${nginxHealthServer(o.healthPort)}
}
`;
}

/** One saved incident query over the trail in Loki: a panel of the audit dashboard and a runbook line. */
export interface AuditLogqlQuery {
  /** Stable key (runbooks pick queries by it). */
  readonly id: string;
  /** The panel's title. */
  readonly title: string;
  /** The question it answers, in a sentence. */
  readonly question: string;
  /** LogQL; `$identity` is the dashboard's textbox variable (AUDIT_IDENTITY_VARIABLE). */
  readonly expr: string;
}

/** The audit dashboard's textbox variable: an e-mail, an app name or a certificate CN. */
export const AUDIT_IDENTITY_VARIABLE = "identity";

const TRAIL = `{job="${LOKI_JOB}"}`;
/** A label filter that holds only when `label` is present and equals the identity (an empty box matches nothing). */
const isIdentity = (label: string): string => `(${label}!="" and ${label}=\`$${AUDIT_IDENTITY_VARIABLE}\`)`;

/**
 * The saved queries (the audit dashboard's panels; the runbooks quote them for Grafana's Explore). Every line in
 * Loki is the container's original JSON line, so `| json` turns its keys into labels, nested ones joined by `_`
 * (Caddy's `request.tls.client_common_name` is `request_tls_client_common_name`, Open WebUI's `user.email`
 * `user_email`); a line that is not JSON gets no labels and an `__error__` label, and so no filter below
 * matches it. Written against Loki 3.x's LogQL reference, verified by reading, not run (Loki cannot run here):
 * - label filters chained with `and`/`or` are evaluated right to left unless parenthesized, so every group is;
 * - a missing label reads as "": an equality with the identity is guarded by `!=""`, so an empty box finds nothing;
 * - statuses are compared as strings (`=~"40[13]"`): the gate's are words, and a numeric comparison on a word
 *   would keep the line with an `__error__` label instead of dropping it;
 * - a regex in backticks needs no doubled backslashes, and label regexes are anchored at both ends;
 * - the line filter before `| json` (`|= ...`) only narrows what is parsed; the label filters decide.
 * test/lib/loki.test.ts runs them in a small evaluator of that LogQL subset over schema-valid sample lines.
 */
export const AUDIT_LOGQL_QUERIES: readonly AuditLogqlQuery[] = [
  {
    id: "identity",
    title: "Everything one identity did",
    question:
      "Everything the identity in the box did (set the range to the last 24 h): its calls through the sidecars, its sign-ins at the gate, its requests at the edge by certificate CN, its API gateway calls and its chat UI changes.",
    expr:
      `${TRAIL} |= \`$${AUDIT_IDENTITY_VARIABLE}\` | json | ` +
      `(${["identity", "user", "user_email", "request_tls_client_common_name", "app"].map(isIdentity).join(" or ")})`,
  },
  {
    id: "refused",
    title: "Failed sign-ins and refused attempts",
    question:
      "Every failed or erroring sign-in at the gate, every request the edge answered 401 or 403, and every refused request to the audit trail itself.",
    expr:
      `${TRAIL} | json | ((gate="auth" and status=~"AuthFailure|AuthError") or ` +
      `(logger=~\`http\\.log\\.access(\\..*)?\` and status=~"40[13]") or (gateway="loki" and status="403"))`,
  },
  {
    id: "tool-failures",
    title: "Tool runs that did not exit 0",
    question:
      "Every sandboxed tool run whose exit code was not 0 (compared as a string: a run with no recorded exit code is shown too).",
    expr: `${TRAIL} |= \`"tool.run"\` | json | event="tool.run" and exit_code!="0"`,
  },
  {
    id: "config-changes",
    title: "Configuration changes",
    question:
      "Every configuration Terraform applied (config.deployed: image and config hash per container) and every state-changing call in the chat UI (Open WebUI's audit lines: admin settings, users and roles).",
    expr: `${TRAIL} | json | (event="config.deployed" or (audit_level!="" and verb!=""))`,
  },
  {
    id: "trail-reads",
    title: "Who read the audit trail",
    question:
      "Every query of the trail through the Loki gateway, and every refused request to it: the certificate subject, its role and the LogQL query as sent.",
    expr: `${TRAIL} |= \`"gateway":"loki"\` | json | gateway="loki"`,
  },
];

/** One saved query by id, with `$identity` replaced by `identity` when given (Explore has no dashboard variables). */
export function auditLogql(id: string, identity?: string): string {
  const q = AUDIT_LOGQL_QUERIES.find((x) => x.id === id);
  if (!q) throw new Error(`auditLogql: no saved query ${id}`);
  return identity === undefined ? q.expr : q.expr.split(`$${AUDIT_IDENTITY_VARIABLE}`).join(identity);
}
