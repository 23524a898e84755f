/**
 * Renders Grafana's files: grafana.ini, the Prometheus datasource, the audit trail's Loki datasource, the
 * dashboard provider, the vLLM and audit dashboards, and the nginx.conf of the proxy in Grafana's network
 * namespace. Pure functions.
 *
 * Grafana cannot run on this machine (no Debian package, no registry): its files are checked
 * structurally by test/lib/grafana.test.ts, and each setting below was checked by reading Grafana's
 * configuration and provisioning documentation and source (docs/observability.md lists which). The
 * proxy's nginx.conf runs in the real nginx in test/e2e/observability.e2e.test.ts.
 *
 * Sign-in: Grafana is a site of the edge behind the OIDC gate and trusts the identity the edge
 * passes on (`[auth.proxy]`). Why not Grafana's own OIDC: one sign-in for the whole stack, with the
 * gate's allowed domains and groups; Grafana needs no route to the identity provider and no second
 * client secret. What makes the header trustworthy, hop by hop:
 * - the edge deletes any client-sent copy of the identity headers before asking the gate;
 * - Grafana listens on 127.0.0.1 only, inside its own network namespace, and accepts the auth-proxy
 *   header from 127.0.0.1 alone (`whitelist`);
 * - the only way into that namespace is an nginx proxy that requires the edge's client certificate
 *   (mTLS, subject checked) and sets Grafana's header itself from the edge's email-shaped identity
 *   (a client's copy is overwritten or removed).
 * Self sign-up, the login form, basic auth and anonymous access are all off; the admin account gets
 * a generated password from a file (GF_SECURITY_ADMIN_PASSWORD__FILE), never admin/admin.
 */
import { CLIENT_CERT_HEADER, GRAFANA_USER_HEADER, IDENTITY_HEADER, nginxHeaderVar } from "./headers";
import { nginxHealthServer, nginxMtlsServer, nginxPreamble, nginxString } from "./nginx";
import { AUDIT_IDENTITY_VARIABLE, AUDIT_LOGQL_QUERIES } from "./loki";
import { toYaml } from "./yaml";

/** Grafana's HTTP port, on 127.0.0.1 inside its own network namespace (the proxy is its only client). */
export const GRAFANA_PORT = 3000;
/** The proxy's TLS port for the edge (client certificate required). */
export const GRAFANA_PROXY_PORT = 8443;
/** The proxy's loopback healthcheck port. */
export const GRAFANA_PROXY_HEALTH_PORT = 8081;
/** The datasource's uid; the dashboard refers to it. */
export const GRAFANA_DATASOURCE_UID = "zta-prometheus";
/** The dashboard's uid (its URL is /d/<uid>). */
export const GRAFANA_DASHBOARD_UID = "zta-vllm";
/** The audit trail's Loki datasource: its uid (the audit dashboard refers to it) and the name Explore lists. */
export const GRAFANA_LOKI_DATASOURCE_UID = "zta-audit-loki";
export const GRAFANA_LOKI_DATASOURCE_NAME = "Audit trail (Loki)";
/** The audit dashboard's uid. */
export const GRAFANA_AUDIT_DASHBOARD_UID = "zta-audit";

export interface GrafanaIniOptions {
  /** Directory with datasources/ and dashboards/ (each its own read-only volume). */
  readonly provisioningDir: string;
  /** The writable data volume (sqlite database, sessions). */
  readonly dataDir: string;
  /** The hostname users open (the edge's site). */
  readonly publicHostname: string;
  /** The edge's host port, for links Grafana renders (443 is left out). */
  readonly publicPort: number;
  /** The gate identity that is Grafana's admin (matched by email). */
  readonly adminEmail: string;
  /** Create a Viewer account for every identity the gate lets through on first visit. */
  readonly autoSignUp: boolean;
}

function ini(sections: [string, Record<string, string | number | boolean>][]): string {
  return sections
    .map(([name, values]) => [`[${name}]`, ...Object.entries(values).map(([k, v]) => `${k} = ${v}`)].join("\n"))
    .join("\n\n");
}

export function renderGrafanaIni(o: GrafanaIniOptions): string {
  const origin = `https://${o.publicHostname}${o.publicPort === 443 ? "" : `:${o.publicPort}`}`;
  const body = ini([
    [
      "paths",
      { data: o.dataDir, logs: `${o.dataDir}/log`, plugins: `${o.dataDir}/plugins`, provisioning: o.provisioningDir },
    ],
    [
      "server",
      {
        // Plain HTTP on loopback: TLS ends at the proxy in this namespace, which nothing bypasses.
        protocol: "http",
        http_addr: "127.0.0.1",
        http_port: GRAFANA_PORT,
        domain: o.publicHostname,
        root_url: `${origin}/`,
        enable_gzip: false,
        router_logging: false,
      },
    ],
    ["log", { mode: "console", level: "info" }],
    [
      "security",
      {
        admin_user: "admin",
        admin_email: o.adminEmail,
        cookie_secure: true,
        cookie_samesite: "strict",
        disable_gravatar: true,
        strict_transport_security: true,
        x_content_type_options: true,
        content_security_policy: true,
        allow_embedding: false,
      },
    ],
    ["users", { allow_sign_up: false, allow_org_create: false, auto_assign_org: true, auto_assign_org_role: "Viewer" }],
    ["auth", { disable_login_form: true, signout_redirect_url: `${origin}/oauth2/sign_out` }],
    ["auth.anonymous", { enabled: false }],
    ["auth.basic", { enabled: false }],
    [
      "auth.proxy",
      {
        enabled: true,
        header_name: GRAFANA_USER_HEADER,
        header_property: "email",
        auto_sign_up: o.autoSignUp,
        // Only the proxy in this namespace may assert a user.
        whitelist: "127.0.0.1, ::1",
        enable_login_token: false,
      },
    ],
    [
      "analytics",
      {
        reporting_enabled: false,
        check_for_updates: false,
        check_for_plugin_updates: false,
        feedback_links_enabled: false,
      },
    ],
    ["news", { news_feed_enabled: false }],
    ["snapshots", { external_enabled: false }],
    // No plugin is ever downloaded: neither the preinstalled set (Grafana 11.5+) nor from the UI.
    ["plugins", { plugin_admin_enabled: false, preinstall_disabled: true, public_key_retrieval_disabled: true }],
  ]);
  return `; Rendered by cdktf-zero-trust-ai (Observability). Do not edit: change the construct's props.\n${body}\n`;
}

export interface GrafanaDatasourceOptions {
  /** `https://host:port` of Prometheus. */
  readonly url: string;
  /** The SAN of Prometheus' certificate. */
  readonly serverName: string;
  readonly basicAuthUser: string;
  readonly scrapeIntervalSeconds: number;
  /** The Prometheus version of the image, for the query editor. */
  readonly prometheusVersion: string;
  /**
   * Secrets and certificates, each ALREADY a YAML/JSON-quoted scalar: `JSON.stringify(pem)` for a
   * literal, `Fn.jsonencode(ref)` for a Terraform reference (resolved and quoted at apply time).
   */
  readonly quoted: GrafanaQuotedClientTls & { readonly basicAuthPassword: string };
}

/** The CA and Grafana's client certificate and key, each ALREADY a YAML/JSON-quoted scalar (see GrafanaDatasourceOptions.quoted). */
export interface GrafanaQuotedClientTls {
  readonly caCertPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

/** A datasource's jsonData TLS keys: Grafana's client certificate, the CA, verification on, the server's name. */
function clientTlsJsonData(serverName: string): string {
  return `      tlsAuth: true
      tlsAuthWithCACert: true
      tlsSkipVerify: false
      serverName: ${JSON.stringify(serverName)}`;
}

/** ...and their secureJsonData values. */
function clientTlsSecureJsonData(quoted: GrafanaQuotedClientTls): string {
  return `      tlsCACert: ${quoted.caCertPem}
      tlsClientCert: ${quoted.clientCertPem}
      tlsClientKey: ${quoted.clientKeyPem}`;
}

/** The datasource provisioning file; it holds Grafana's Prometheus password and client key, so it is mode 0400 in its volume. */
export function renderGrafanaDatasource(o: GrafanaDatasourceOptions): string {
  // Written by hand: the secret values arrive already quoted (see `quoted`).
  return `# Rendered by cdktf-zero-trust-ai (Observability). Do not edit: change the construct's props.
apiVersion: 1
datasources:
  - name: "Prometheus"
    uid: ${JSON.stringify(GRAFANA_DATASOURCE_UID)}
    type: "prometheus"
    access: "proxy"
    url: ${JSON.stringify(o.url)}
    isDefault: true
    editable: false
    basicAuth: true
    basicAuthUser: ${JSON.stringify(o.basicAuthUser)}
    jsonData:
${clientTlsJsonData(o.serverName)}
      httpMethod: "POST"
      prometheusType: "Prometheus"
      prometheusVersion: ${JSON.stringify(o.prometheusVersion)}
      timeInterval: "${o.scrapeIntervalSeconds}s"
    secureJsonData:
      basicAuthPassword: ${o.quoted.basicAuthPassword}
${clientTlsSecureJsonData(o.quoted)}
`;
}

export interface GrafanaLokiDatasourceOptions {
  /** `https://host:port` of the trail's Loki gateway (AuditLog.lokiUrl). */
  readonly url: string;
  /** The SAN of the gateway's certificate (AuditLog.lokiServerName). */
  readonly serverName: string;
  /** Certificates and Grafana's client key, each ALREADY a YAML/JSON-quoted scalar (as for the Prometheus datasource). */
  readonly quoted: GrafanaQuotedClientTls;
}

/**
 * The audit trail's Loki datasource (when the stack has an AuditLog with Loki). Grafana dials the gateway with
 * its own client certificate, whose subject the gateway maps to the reader role; no basic auth, no tenant header
 * (one tenant). Keys as the Grafana plugin SDK reads them for type loki (tlsAuth, tlsAuthWithCACert,
 * tlsSkipVerify, serverName; maxLines is the Loki datasource's own), read not run. Its Test button is the
 * instant query `vector(1)+vector(1)` on GET /loki/api/v1/query, a read path the gateway admits.
 */
export function renderGrafanaLokiDatasource(o: GrafanaLokiDatasourceOptions): string {
  return `# Rendered by cdktf-zero-trust-ai (Observability). Do not edit: change the construct's props.
apiVersion: 1
datasources:
  - name: ${JSON.stringify(GRAFANA_LOKI_DATASOURCE_NAME)}
    uid: ${JSON.stringify(GRAFANA_LOKI_DATASOURCE_UID)}
    type: "loki"
    access: "proxy"
    url: ${JSON.stringify(o.url)}
    isDefault: false
    editable: false
    jsonData:
${clientTlsJsonData(o.serverName)}
      maxLines: 1000
    secureJsonData:
${clientTlsSecureJsonData(o.quoted)}
`;
}

/** The dashboard provider: load the dashboards in `dashboardsDir`, read-only in the UI. */
export function renderGrafanaDashboardProvider(dashboardsDir: string): string {
  return toYaml(
    {
      apiVersion: 1,
      providers: [
        {
          name: "zta",
          orgId: 1,
          folder: "Inference",
          type: "file",
          disableDeletion: true,
          allowUiUpdates: false,
          options: { path: dashboardsDir, foldersFromFilesStructure: false },
        },
      ],
    },
    ["Rendered by cdktf-zero-trust-ai (Observability). Do not edit: change the construct's props."],
  );
}

interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly targets: { expr: string; legend: string }[];
  readonly max?: number;
}

const DATASOURCE_REF = { type: "prometheus", uid: GRAFANA_DATASOURCE_UID };

/** The panels of the vLLM dashboard, in reading order. Exported so tests can check each metric is shown. */
export const VLLM_DASHBOARD_PANELS: PanelSpec[] = [
  {
    title: "Queue depth",
    unit: "short",
    targets: [
      { expr: 'sum by (instance) (vllm:num_requests_waiting{job="vllm"})', legend: "waiting {{instance}}" },
      { expr: 'sum by (instance) (vllm:num_requests_running{job="vllm"})', legend: "running {{instance}}" },
    ],
  },
  {
    title: "Time to first token",
    unit: "s",
    targets: [0.5, 0.95].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (instance, le) (rate(vllm:time_to_first_token_seconds_bucket{job="vllm"}[$__rate_interval])))`,
      legend: `p${q * 100} {{instance}}`,
    })),
  },
  {
    title: "Inter-token latency",
    unit: "s",
    targets: [0.5, 0.95].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (instance, le) (rate(vllm:inter_token_latency_seconds_bucket{job="vllm"}[$__rate_interval])))`,
      legend: `p${q * 100} {{instance}}`,
    })),
  },
  {
    title: "KV cache usage",
    unit: "percentunit",
    max: 1,
    targets: [{ expr: 'max by (instance) (vllm:kv_cache_usage_perc{job="vllm"})', legend: "{{instance}}" }],
  },
  {
    title: "Errors",
    unit: "reqps",
    targets: [
      {
        expr: 'sum by (instance) (rate(vllm:request_success_total{job="vllm",finished_reason="abort"}[$__rate_interval]))',
        legend: "aborted {{instance}}",
      },
      {
        expr: 'sum by (instance) (rate(http_requests_total{job="vllm",status="5xx"}[$__rate_interval]))',
        legend: "5xx {{instance}}",
      },
      { expr: 'count(up{job="vllm"} == 0) or vector(0)', legend: "replicas down" },
    ],
  },
  {
    title: "Tokens per second",
    unit: "short",
    targets: [
      {
        expr: 'sum by (instance) (rate(vllm:prompt_tokens_total{job="vllm"}[$__rate_interval]))',
        legend: "prompt {{instance}}",
      },
      {
        expr: 'sum by (instance) (rate(vllm:generation_tokens_total{job="vllm"}[$__rate_interval]))',
        legend: "generated {{instance}}",
      },
    ],
  },
];

/** The vLLM dashboard as Grafana's dashboard JSON model. */
export function renderVllmDashboard(): string {
  const panels = VLLM_DASHBOARD_PANELS.map((p, i) => ({
    id: i + 1,
    type: "timeseries",
    title: p.title,
    datasource: DATASOURCE_REF,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit, ...(p.max === undefined ? {} : { min: 0, max: p.max }) }, overrides: [] },
    options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
    targets: p.targets.map((t, j) => ({
      refId: String.fromCharCode(65 + j),
      datasource: DATASOURCE_REF,
      expr: t.expr,
      legendFormat: t.legend,
    })),
  }));
  const dashboard = {
    uid: GRAFANA_DASHBOARD_UID,
    title: "vLLM inference",
    tags: ["vllm", "cdktf-zero-trust-ai"],
    editable: false,
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: [] },
    annotations: { list: [] },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

const LOKI_DATASOURCE_REF = { type: "loki", uid: GRAFANA_LOKI_DATASOURCE_UID };

/**
 * The audit dashboard: one logs panel per saved query (AUDIT_LOGQL_QUERIES), newest line first, over the last
 * 24 h, with a textbox `identity` for the first panel. Each panel's description is the question it answers.
 */
export function renderAuditDashboard(): string {
  const panels = AUDIT_LOGQL_QUERIES.map((q, i) => ({
    id: i + 1,
    type: "logs",
    title: q.title,
    description: q.question,
    datasource: LOKI_DATASOURCE_REF,
    gridPos: { h: 10, w: 24, x: 0, y: i * 10 },
    options: {
      showTime: true,
      wrapLogMessage: true,
      prettifyLogMessage: false,
      enableLogDetails: true,
      dedupStrategy: "none",
      sortOrder: "Descending",
    },
    targets: [{ refId: "A", datasource: LOKI_DATASOURCE_REF, expr: q.expr, queryType: "range" }],
  }));
  const dashboard = {
    uid: GRAFANA_AUDIT_DASHBOARD_UID,
    title: "Audit trail",
    tags: ["audit", "cdktf-zero-trust-ai"],
    editable: false,
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    time: { from: "now-24h", to: "now" },
    templating: {
      list: [
        {
          name: AUDIT_IDENTITY_VARIABLE,
          label: "Identity (e-mail, app or certificate CN)",
          type: "textbox",
          query: "",
          current: { text: "", value: "" },
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

export interface GrafanaProxyNginxOptions {
  /** TLS port for the edge. */
  readonly listenPort: number;
  readonly healthPort: number;
  /** Grafana's loopback address, `127.0.0.1:3000`. */
  readonly grafanaUpstream: string;
  /** Subjects (RFC 2253, as `$ssl_client_s_dn` prints them) allowed to connect: the edge's. */
  readonly edgeSubjects: string[];
  /** Directory holding ca.crt, server.crt, server.key. */
  readonly configDir: string;
  readonly runDir: string;
  readonly accessLog: string;
  readonly errorLog: string;
}

const IDENTITY_VAR = nginxHeaderVar(IDENTITY_HEADER);

/** The proxy in Grafana's network namespace: mTLS from the edge only, Grafana's user header set here alone. */
export function renderGrafanaProxyNginxConfig(o: GrafanaProxyNginxOptions): string {
  if (o.edgeSubjects.length === 0) throw new Error("renderGrafanaProxyNginxConfig: no edge subjects");
  const edgeMap = o.edgeSubjects.map((s) => `        ${nginxString(s)} 1;`).join("\n");
  return `${nginxPreamble("Observability", "1", o)}
    gzip off;

    log_format zta_grafana escape=json '{"time":"$time_iso8601","client_cert":"$ssl_client_s_dn",'
        '"user":"$zta_grafana_user","method":"$request_method","uri":"$uri","status":$status,'
        '"request_bytes":$request_length,"response_bytes":$bytes_sent,"request_time":$request_time}';
    access_log ${o.accessLog} zta_grafana;

    map $http_upgrade $zta_connection_upgrade {
        default upgrade;
        "" "";
    }

    # Only an email-shaped identity from the edge signs a user in (a certificate subject is not an email).
    map ${IDENTITY_VAR} $zta_grafana_user {
        default "";
        "~^[^@\\s,;=]+@[^@\\s,;=]+$" ${IDENTITY_VAR};
    }
    map $ssl_client_s_dn $zta_edge_caller {
        default 0;
${edgeMap}
    }

    upstream zta_grafana {
        server ${o.grafanaUpstream};
        keepalive 8;
    }

    # The edge (Caddy) -> here: mTLS, the edge's certificate subject only.
    server {
        listen ${o.listenPort} ssl;
${nginxMtlsServer(o.configDir)}
        client_max_body_size 8m;

        if ($zta_edge_caller = 0) {
            return 403;
        }

        location / {
            proxy_pass http://zta_grafana;
            proxy_http_version 1.1;
            # Grafana Live runs over a websocket.
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $zta_connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto https;
            # The only source of the user Grafana trusts; a client copy is overwritten (or removed when empty).
            proxy_set_header ${GRAFANA_USER_HEADER} $zta_grafana_user;
            proxy_set_header ${IDENTITY_HEADER} "";
            proxy_set_header ${CLIENT_CERT_HEADER} "";
            proxy_read_timeout 300s;
        }
    }

${nginxHealthServer(o.healthPort)}
}
`;
}
