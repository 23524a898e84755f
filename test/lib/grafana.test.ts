/**
 * Grafana cannot run here (no package, no registry): its files are checked structurally. Each setting's
 * meaning was read in Grafana's configuration/provisioning docs and source (docs/observability.md).
 */
import { parse as parseYaml } from "yaml";
import {
  GRAFANA_AUDIT_DASHBOARD_UID,
  GRAFANA_DASHBOARD_UID,
  GRAFANA_DATASOURCE_UID,
  GRAFANA_LOKI_DATASOURCE_NAME,
  GRAFANA_LOKI_DATASOURCE_UID,
  VLLM_DASHBOARD_PANELS,
  renderAuditDashboard,
  renderGrafanaDashboardProvider,
  renderGrafanaDatasource,
  renderGrafanaIni,
  renderGrafanaLokiDatasource,
  renderVllmDashboard,
} from "../../lib/grafana";
import { AUDIT_IDENTITY_VARIABLE, AUDIT_LOGQL_QUERIES } from "../../lib/loki";
import { GRAFANA_USER_HEADER, IDENTITY_HEADER } from "../../lib/headers";

/** A minimal ini reader: `[section]` then `key = value`; `;` comments. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      if (out[section]) throw new Error(`section [${section}] twice`);
      out[section] = {};
      continue;
    }
    const kv = /^([a-z_]+) = (.*)$/.exec(line);
    if (!kv || section === "") throw new Error(`not an ini line: ${raw}`);
    if (kv[1] in out[section]) throw new Error(`${section}.${kv[1]} twice`);
    out[section][kv[1]] = kv[2];
  }
  return out;
}

const iniOptions = {
  provisioningDir: "/etc/grafana-provisioning",
  dataDir: "/var/lib/grafana",
  publicHostname: "grafana.example.internal",
  publicPort: 443,
  adminEmail: "devops@example.com",
  autoSignUp: true,
};

describe("grafana.ini", () => {
  const ini = parseIni(renderGrafanaIni(iniOptions));

  test("no anonymous access, no self sign-up, no login form or basic auth: the gate's identity only", () => {
    expect(ini["auth.anonymous"].enabled).toBe("false");
    expect(ini.users.allow_sign_up).toBe("false");
    expect(ini.users.allow_org_create).toBe("false");
    expect(ini.auth.disable_login_form).toBe("true");
    expect(ini["auth.basic"].enabled).toBe("false");
    expect(ini["auth.proxy"]).toMatchObject({
      enabled: "true",
      header_name: GRAFANA_USER_HEADER,
      header_property: "email",
      whitelist: "127.0.0.1, ::1",
      enable_login_token: "false",
    });
    // Not the edge's header: only the proxy in Grafana's namespace sets Grafana's.
    expect(GRAFANA_USER_HEADER).not.toBe(IDENTITY_HEADER);
    expect(ini.users.auto_assign_org_role).toBe("Viewer");
    expect(ini.security.admin_email).toBe("devops@example.com");
  });

  test("no phoning home and no plugin downloads", () => {
    expect(ini.analytics).toEqual({
      reporting_enabled: "false",
      check_for_updates: "false",
      check_for_plugin_updates: "false",
      feedback_links_enabled: "false",
    });
    expect(ini.plugins).toMatchObject({ plugin_admin_enabled: "false", preinstall_disabled: "true" });
    expect(ini.news.news_feed_enabled).toBe("false");
    expect(ini.snapshots.external_enabled).toBe("false");
  });

  test("listens on loopback only (the proxy in its namespace terminates TLS), secure cookies, the public URL of its edge site", () => {
    expect(ini.server).toMatchObject({
      protocol: "http",
      http_addr: "127.0.0.1",
      root_url: "https://grafana.example.internal/",
    });
    expect(ini.security).toMatchObject({ cookie_secure: "true", cookie_samesite: "strict", allow_embedding: "false" });
    expect(ini.paths).toMatchObject({ data: "/var/lib/grafana", provisioning: "/etc/grafana-provisioning" });
    expect(parseIni(renderGrafanaIni({ ...iniOptions, publicPort: 8443, autoSignUp: false })).server.root_url).toBe(
      "https://grafana.example.internal:8443/",
    );
    expect(parseIni(renderGrafanaIni({ ...iniOptions, autoSignUp: false }))["auth.proxy"].auto_sign_up).toBe("false");
  });

  test("holds no secret: the admin password comes from a file named by GF_SECURITY_ADMIN_PASSWORD__FILE", () => {
    expect(renderGrafanaIni(iniOptions)).not.toMatch(/admin_password|secret_key/);
  });
});

describe("datasource provisioning", () => {
  const text = renderGrafanaDatasource({
    url: "https://inference-prometheus:9090",
    serverName: "prometheus.zta.internal",
    basicAuthUser: "grafana",
    scrapeIntervalSeconds: 15,
    prometheusVersion: "3.5.0",
    quoted: {
      basicAuthPassword: JSON.stringify("pw"),
      caCertPem: JSON.stringify("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"),
      clientCertPem: JSON.stringify("CERT"),
      clientKeyPem: JSON.stringify("KEY"),
    },
  });

  test("TLS client auth against the internal CA plus basic auth, verification on, read-only in the UI", () => {
    const fields = Object.fromEntries(
      text
        .split("\n")
        .map((l) => /^\s+(?:- )?(\w+): (.+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], JSON.parse(m[2])]),
    );
    expect(fields).toMatchObject({
      uid: GRAFANA_DATASOURCE_UID,
      type: "prometheus",
      url: "https://inference-prometheus:9090",
      basicAuth: true,
      basicAuthUser: "grafana",
      tlsAuth: true,
      tlsAuthWithCACert: true,
      tlsSkipVerify: false,
      serverName: "prometheus.zta.internal",
      editable: false,
      basicAuthPassword: "pw",
      tlsClientKey: "KEY",
    });
    expect(fields.tlsCACert).toContain("BEGIN CERTIFICATE");
    expect(text).toMatch(/^apiVersion: 1$/m);
  });
});

describe("dashboard", () => {
  const dashboard = JSON.parse(renderVllmDashboard());

  test("one panel per signal: queue depth, time to first token, inter-token latency, KV cache, errors", () => {
    const exprs = (title: string): string =>
      dashboard.panels
        .find((p: { title: string }) => p.title === title)
        .targets.map((t: { expr: string }) => t.expr)
        .join("\n");
    expect(exprs("Queue depth")).toContain("vllm:num_requests_waiting");
    expect(exprs("Time to first token")).toContain("vllm:time_to_first_token_seconds_bucket");
    expect(exprs("Inter-token latency")).toContain("vllm:inter_token_latency_seconds_bucket");
    expect(exprs("KV cache usage")).toContain("vllm:kv_cache_usage_perc");
    expect(exprs("Errors")).toMatch(/finished_reason="abort"[\s\S]*status="5xx"/);
    expect(JSON.stringify(dashboard)).not.toMatch(/gpu_cache_usage_perc|time_per_output_token_seconds/);
  });

  test("every panel and query uses the provisioned datasource; ids and grid positions are distinct", () => {
    expect(dashboard.uid).toBe(GRAFANA_DASHBOARD_UID);
    expect(dashboard.panels).toHaveLength(VLLM_DASHBOARD_PANELS.length);
    for (const p of dashboard.panels) {
      expect(p.datasource.uid).toBe(GRAFANA_DATASOURCE_UID);
      for (const t of p.targets) expect(t.datasource.uid).toBe(GRAFANA_DATASOURCE_UID);
    }
    expect(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size).toBe(dashboard.panels.length);
    expect(new Set(dashboard.panels.map((p: { gridPos: object }) => JSON.stringify(p.gridPos))).size).toBe(
      dashboard.panels.length,
    );
  });

  test("the provider loads the dashboard directory read-only", () => {
    const text = renderGrafanaDashboardProvider("/etc/grafana-provisioning/dashboards");
    expect(text).toContain('path: "/etc/grafana-provisioning/dashboards"');
    expect(text).toContain("allowUiUpdates: false");
    expect(text).toContain("disableDeletion: true");
    expect(text).toContain('type: "file"');
  });
});

describe("the audit trail's Loki datasource", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  const text = renderGrafanaLokiDatasource({
    url: "https://zta-audit-loki:3100",
    serverName: "zta-audit-loki",
    quoted: {
      caCertPem: JSON.stringify(pem),
      clientCertPem: JSON.stringify("CERT"),
      clientKeyPem: JSON.stringify("KEY"),
    },
  });
  const doc = parseYaml(text);

  test("parses as one provisioned loki datasource: TLS client auth against the CA, verification on, read-only", () => {
    expect(doc.apiVersion).toBe(1);
    expect(doc.datasources).toHaveLength(1);
    const ds = doc.datasources[0];
    expect(ds).toEqual({
      name: GRAFANA_LOKI_DATASOURCE_NAME,
      uid: GRAFANA_LOKI_DATASOURCE_UID,
      type: "loki",
      access: "proxy",
      url: "https://zta-audit-loki:3100",
      isDefault: false,
      editable: false,
      jsonData: {
        tlsAuth: true,
        tlsAuthWithCACert: true,
        tlsSkipVerify: false,
        serverName: "zta-audit-loki",
        maxLines: 1000,
      },
      secureJsonData: { tlsCACert: pem, tlsClientCert: "CERT", tlsClientKey: "KEY" },
    });
    // No password and no tenant: the gateway decides by the certificate alone.
    expect(text).not.toMatch(/basicAuth|X-Scope-OrgID|httpHeader/);
  });

  test("a PEM with newlines stays one quoted scalar (the quoting is the caller's, as for Prometheus)", () => {
    expect(doc.datasources[0].secureJsonData.tlsCACert.split("\n")).toHaveLength(4);
  });
});

describe("audit dashboard", () => {
  const dashboard = JSON.parse(renderAuditDashboard());

  test("one logs panel per saved query, on the Loki datasource, newest first, over the last 24 h", () => {
    expect(dashboard.uid).toBe(GRAFANA_AUDIT_DASHBOARD_UID);
    expect(dashboard.editable).toBe(false);
    expect(dashboard.time).toEqual({ from: "now-24h", to: "now" });
    expect(dashboard.panels.map((p: { title: string }) => p.title)).toEqual(AUDIT_LOGQL_QUERIES.map((q) => q.title));
    for (const [i, p] of dashboard.panels.entries()) {
      expect(p.type).toBe("logs");
      expect(p.datasource).toEqual({ type: "loki", uid: GRAFANA_LOKI_DATASOURCE_UID });
      expect(p.targets).toEqual([
        { refId: "A", datasource: p.datasource, expr: AUDIT_LOGQL_QUERIES[i].expr, queryType: "range" },
      ]);
      expect(p.options.sortOrder).toBe("Descending");
    }
    expect(new Set(dashboard.panels.map((p: { gridPos: object }) => JSON.stringify(p.gridPos))).size).toBe(
      dashboard.panels.length,
    );
  });

  test("a textbox variable identity, empty by default, used by the identity panel", () => {
    expect(dashboard.templating.list).toEqual([
      expect.objectContaining({ name: AUDIT_IDENTITY_VARIABLE, type: "textbox", query: "" }),
    ]);
    const identity = dashboard.panels.find((p: { title: string }) => p.title === "Everything one identity did");
    expect(identity.targets[0].expr).toContain(`\`$${AUDIT_IDENTITY_VARIABLE}\``);
  });
});
