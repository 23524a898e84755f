import { Aspects, Testing } from "cdktf";
import { parse as parseYaml } from "yaml";
import {
  AuditLog,
  InternalCa,
  Observability,
  PolicyViolationError,
  SecureInference,
  SecurityPolicy,
  TrustGraph,
} from "../../index";
import { GRAFANA_LOKI_DATASOURCE_UID } from "../../lib/grafana";
import { stackViewOf } from "../../lib/policy/engine";
import { monitoringUnauthenticated } from "../../lib/policy/rules/ai-005-monitoring-unauthenticated";
import { OutcomeStatus } from "../../lib/policy/types";
import { DefaultInferenceStack } from "../../stacks/default-stack";
import { CONFIG_DIR, GRAFANA_SERVER_NAME, ServiceIdentities } from "../../lib/identities";
import { IMAGES } from "../../lib/images";
import {
  containerNamed,
  expectConfigError,
  hardeningGaps,
  inferenceProps,
  stackWithProviders,
  synth,
  uploaded,
} from "../helpers";

function build(
  overrides: Partial<ConstructorParameters<typeof Observability>[2]> = {},
  inference: Partial<Parameters<typeof inferenceProps>[1]> = {},
) {
  const stack = stackWithProviders();
  const ai = new SecureInference(
    stack,
    "inference",
    inferenceProps(stack, {
      metricsScraper: true,
      replicas: 2,
      vllm: { replicaGpus: ["device=0", "device=1"] },
      ...inference,
    }),
  );
  const obs = new Observability(stack, "obs", {
    inference: ai,
    grafanaHostname: "grafana.example.internal",
    retentionDays: 30,
    ...overrides,
  });
  return { stack, ai, obs, json: synth(stack) };
}

const PROM = "inference-obs-prometheus";
const GRAFANA = "inference-obs-grafana";

describe("Observability", () => {
  const { json, ai } = build();
  const prometheus = containerNamed(json, PROM);
  const grafana = containerNamed(json, GRAFANA);
  const proxy = containerNamed(json, `${GRAFANA}-proxy`);

  test("Prometheus, Grafana and Grafana's proxy are hardened, non-root, and publish no host port", () => {
    for (const c of [prometheus, grafana, proxy]) {
      expect({ name: c.name, gaps: hardeningGaps(c) }).toEqual({ name: c.name, gaps: [] });
      expect(c.ports).toBeUndefined();
      expect(c.user).toMatch(/^[1-9]\d*:\d+$/);
    }
    expect(prometheus.user).toBe(IMAGES.prometheus.user);
    expect(grafana.user).toBe(IMAGES.grafana.user);
    expect(prometheus.image).toContain("docker_image");
  });

  test("Prometheus: TSDB volume, retention by time and size, its API behind the web config, a credentialed healthcheck", () => {
    expect(prometheus.command).toEqual(
      expect.arrayContaining([
        `--web.config.file=${CONFIG_DIR}/web-config.yml`,
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=30d",
        "--storage.tsdb.retention.size=8192MB",
      ]),
    );
    expect(prometheus.volumes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ container_path: "/prometheus", read_only: false }),
        expect.objectContaining({ container_path: CONFIG_DIR, read_only: true }),
      ]),
    );
    expect(prometheus.healthcheck.test).toEqual(
      expect.arrayContaining([
        "/bin/promtool",
        "check",
        "healthy",
        `--http.config.file=${CONFIG_DIR}/healthcheck-http.yml`,
      ]),
    );
    const web = uploaded(json, `${PROM}-config-loader`, "web-config.yml");
    expect(web).toContain('client_auth_type: "RequireAndVerifyClientCert"');
    expect(web).toMatch(/grafana: "\$\{random_password\.[\w-]+\.bcrypt_hash\}"/);
  });

  test("scrapes every replica's sidecar with the scraper certificate and the sidecars' shared name", () => {
    const conf = uploaded(json, `${PROM}-config-loader`, "prometheus.yml");
    expect(conf).toContain('server_name: "sidecar.zta.internal"');
    for (const s of ai.sidecars) expect(conf).toContain(JSON.stringify(s.address));
    // The scraper identity's certificate (the same resource SecureInference issued for metricsScraper).
    expect(uploaded(json, `${PROM}-config-loader`, "client.crt")).toMatch(
      /^\$\{tls_locally_signed_cert\.inference_metrics-scraper_cert_\w+\.cert_pem\}$/,
    );
    // The rendered config and keys are different files: no key material in prometheus.yml.
    expect(conf).not.toMatch(/PRIVATE KEY|tls_private_key/);
  });

  test("alert rules include one expiry alert per certificate, computed by Terraform from validity_end_time", () => {
    const rules = uploaded(json, `${PROM}-config-loader`, "alert-rules.yml");
    const certs =
      Object.keys(json.resource.tls_locally_signed_cert).length +
      Object.keys(json.resource.tls_self_signed_cert).length;
    expect(rules.match(/alert: "CertificateExpirySoon"/g)).toHaveLength(certs);
    expect(rules).toMatch(
      /formatdate\("YYYYMMDDhhmm", timeadd\(tls_locally_signed_cert\.[\w-]+\.validity_end_time, "-168h"\)\)/,
    );
    expect(rules).toContain('certificate: "inference/edge/server-cert"');
  });

  test("Grafana: admin password from a file, no secret in its environment, provisioning mounted read-only", () => {
    expect(grafana.env).toContain(`GF_SECURITY_ADMIN_PASSWORD__FILE=${CONFIG_DIR}/admin-password`);
    for (const e of grafana.env as string[]) expect(e).not.toMatch(/random_password|PASSWORD=/);
    expect(uploaded(json, `${GRAFANA}-config-loader`, "admin-password")).toMatch(
      /^\$\{random_password\.[\w-]+\.result\}$/,
    );
    const mounts = (grafana.volumes as { container_path: string; read_only: boolean }[]).map(
      (v) => `${v.container_path}:${v.read_only}`,
    );
    expect(mounts.sort()).toEqual(
      [
        `${CONFIG_DIR}:true`,
        "/etc/grafana-provisioning/dashboards:true",
        "/etc/grafana-provisioning/datasources:true",
        "/var/lib/grafana:false",
      ].sort(),
    );
    const ds = uploaded(json, `${GRAFANA}-datasources-loader`, "prometheus.yaml");
    expect(ds).toContain(`url: "https://${PROM}:9090"`);
    expect(ds).toMatch(/tlsClientKey: \$\{jsonencode\(tls_private_key\.[\w-]+\.private_key_pem\)\}/);
  });

  test("Grafana's proxy shares Grafana's namespace and is the edge's upstream for its own site behind the gate", () => {
    expect(proxy.network_mode).toMatch(/^container:\$\{docker_container\.[\w-]+\.id\}$/);
    expect(ai.edge.caddyfile).toContain("https://grafana.example.internal:8443 {");
    expect(ai.edge.caddyfile).toContain(`reverse_proxy ${GRAFANA}:8443`);
    expect(ai.edge.caddyfile).toContain(`tls_server_name ${GRAFANA_SERVER_NAME}`);
    const site = ai.edge.caddyfile.slice(ai.edge.caddyfile.indexOf("https://grafana.example.internal:8443 {"));
    expect(site).toContain("forward_auth");
    expect(ai.gate!.args.join(" ")).toContain("grafana.example.internal");
  });
});

describe("Observability scrapes the edge's Caddy on a listener of its own", () => {
  const { json, ai, obs, stack } = build();
  const EDGE = "inference-edge";
  const edge = containerNamed(json, EDGE);
  const callers = (c: Record<string, any>) =>
    JSON.parse((c.labels as { label: string; value: string }[]).find((l) => l.label === "zta.callers")!.value);

  test("Prometheus has an `edge` job: TLS with the scraper certificate, the edge's name verified, our CA", () => {
    const conf = uploaded(json, `${PROM}-config-loader`, "prometheus.yml");
    const job = conf.slice(conf.indexOf('- job_name: "edge"'));
    expect(job).toContain('scheme: "https"');
    expect(job).toContain(`server_name: "${EDGE}"`);
    expect(job).toContain(`ca_file: "${CONFIG_DIR}/ca.crt"`);
    expect(job).toContain(`cert_file: "${CONFIG_DIR}/client.crt"`);
    expect(job).toContain("insecure_skip_verify: false");
    expect(job).toContain(`"${EDGE}:9180"`);
  });

  test("the abuse alerts are on: EdgeAuthFailureBurst and RateLimitBurst over job edge", () => {
    const rules = uploaded(json, `${PROM}-config-loader`, "alert-rules.yml");
    expect(rules).toContain('alert: "EdgeAuthFailureBurst"');
    expect(rules).toContain('alert: "RateLimitBurst"');
    expect(rules).toContain('caddy_http_request_duration_seconds_count{job=\\"edge\\",code=~\\"401|403\\"}');
  });

  test("the edge serves /metrics on 9180 to the scraper's subject alone, with a certificate for its Docker name", () => {
    const caddyfile = uploaded(json, `${EDGE}-config-loader`, "Caddyfile");
    expect(caddyfile).toContain("https://:9180 {");
    expect(caddyfile).toContain('== "CN=zta-metrics-scraper,OU=zta-services,O=cdktf-zero-trust-ai"');
    expect(uploaded(json, `${EDGE}-config-loader`, "metrics-server.crt")).toMatch(
      /^\$\{tls_locally_signed_cert\.[\w-]*metrics-server-cert[\w-]*\.cert_pem\}$/,
    );
    expect(uploaded(json, `${EDGE}-config-loader`, "metrics-server.key")).toMatch(
      /^\$\{tls_private_key\.[\w-]+\.private_key_pem\}$/,
    );
    const csr = Object.values(json.resource.tls_cert_request as Record<string, any>).find(
      (r) => r.subject?.[0]?.common_name === EDGE,
    );
    expect(csr?.dns_names).toEqual([EDGE]);
    // The API site's certificate keeps its hostnames only (no Docker name for public clients).
    expect(ai.edge.hostnames).not.toContain(EDGE);
    // Not published: the only host port is still the API's.
    expect(edge.ports).toHaveLength(1);
    expect(edge.ports[0].internal).toBe(8443);
  });

  test("the flow is on the trust graph: a network of this pair alone, and the edge's zta.callers lists it", () => {
    const net = `${PROM}-to-${EDGE}`;
    expect(callers(edge)).toContainEqual({
      caller: PROM,
      port: 9180,
      auth: "mtls",
      identity: "zta-metrics-scraper",
      network: net,
    });
    const networks = Object.values(json.resource.docker_network as Record<string, any>).map((n) => n.name);
    expect(networks).toContain(net);
    // Attached (by reference) to the edge, with the alias Prometheus dials, and to Prometheus; to nothing else.
    const ref = (c: Record<string, any>) =>
      ((c.networks_advanced ?? []) as { name: string; aliases?: string[] }[]).filter((n) =>
        n.name.includes(`_${net}_`),
      );
    expect(ref(edge)).toEqual([{ name: expect.any(String), aliases: [EDGE] }]);
    expect(ref(containerNamed(json, PROM))).toHaveLength(1);
    const others = Object.values(json.resource.docker_container as Record<string, any>).filter(
      (c) => c.name !== EDGE && c.name !== PROM && ref(c).length > 0,
    );
    expect(others).toEqual([]);
    expect(obs.prometheusName).toBe(PROM);
    expect(stack).toBeDefined();
  });

  test("without Observability the edge collects and serves no metrics", () => {
    const plain = stackWithProviders();
    const lone = new SecureInference(plain, "inference", inferenceProps(plain, { metricsScraper: true }));
    expect(lone.edge.caddyfile).not.toContain(":9180");
    expect(lone.edge.caddyfile).not.toMatch(/^\s*metrics$/m);
    expect(lone.edge.metricsTarget).toBeUndefined();
  });

  test("a second scraper, or the same one with another identity, is a ConfigError", () => {
    expectConfigError(
      () => {
        const { ai: inference, obs: o } = build();
        inference.edge.allowMetricsScraper(o.grafanaService);
        return inference;
      },
      "scraper",
      /scrapes this edge already/,
    );
    expectConfigError(
      () => {
        const { ai: inference, obs: o } = build();
        inference.edge.allowMetricsScraper(o.prometheusService, ServiceIdentities.custom("other"));
        return inference;
      },
      "identity",
      /one identity/,
    );
  });
});

describe("Observability refuses what it cannot secure", () => {
  test("a SecureInference without the scraper identity or without OIDC", () => {
    expectConfigError(() => build({}, { metricsScraper: false }), "inference", /metricsScraper: true/);
    expectConfigError(() => build({}, { oidc: undefined }), "inference", /oidc/);
  });

  test.each([
    ["grafanaHostname", { grafanaHostname: "https://grafana" }, /DNS name/],
    ["retentionDays", { retentionDays: 0 }, /whole number/],
    ["scrapeIntervalSeconds", { scrapeIntervalSeconds: 1 }, /5 to 300/],
    ["grafanaAdminEmail", { grafanaAdminEmail: "devops" }, /email/],
    ["prometheusImage", { prometheusImage: "prom/prometheus:latest" }, /digest/],
    ["alerts.kvCacheUsage", { alerts: { kvCacheUsage: 95 } }, /fraction/],
  ])("%s", (prop, overrides, fix) => {
    expectConfigError(() => build(overrides as never), prop, fix);
  });
});

describe("Observability under the production policy", () => {
  function defaultStack() {
    return new DefaultInferenceStack(Testing.app(), "zta", { observability: true });
  }

  test("the default stack with observability has Prometheus and Grafana compliant with ZTA-AI-005", () => {
    const stack = defaultStack();
    Testing.synth(stack);
    const policy = Aspects.of(stack).all.find((a): a is SecurityPolicy => a instanceof SecurityPolicy)!;
    const ai005 = policy.results[0].findings.filter((f) => f.ruleId === "ZTA-AI-005");
    expect(ai005).toEqual([]);
    const view = stackViewOf(JSON.parse(Testing.synth(stack)));
    const checked = view.resources
      .filter((r) => r.type === "docker_container")
      .map((r) => ({ path: r.path, outcome: monitoringUnauthenticated.check(r, view).status }))
      .filter((r) => r.outcome !== OutcomeStatus.NOT_APPLICABLE);
    expect(checked.map((c) => `${c.path} ${c.outcome}`).sort()).toEqual([
      expect.stringMatching(new RegExp(`^docker_container\\.observability_grafana_\\w+ ${OutcomeStatus.COMPLIANT}$`)),
      expect.stringMatching(
        new RegExp(`^docker_container\\.observability_prometheus_\\w+ ${OutcomeStatus.COMPLIANT}$`),
      ),
    ]);
  });

  test("a stack whose Prometheus runs without its web config, or whose Grafana allows anonymous access, fails the synth", () => {
    const stack = defaultStack();
    // The typed setters replace the lists (addOverride would append to them).
    stack.observability!.prometheus.command = ["--config.file=/etc/zta/prometheus.yml"];
    stack.observability!.grafana.env = [
      "GF_AUTH_ANONYMOUS_ENABLED=true",
      "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/zta/admin-password",
    ];
    const policy = Aspects.of(stack).all.find((a): a is SecurityPolicy => a instanceof SecurityPolicy)!;
    expect(() => Testing.synth(stack)).toThrow(PolicyViolationError);
    const open = policy.results[0].findings.filter((f) => !f.suppression).map((f) => `${f.ruleId} ${f.path}`);
    expect(open).toEqual(
      expect.arrayContaining([
        "ZTA-AI-005 zta/observability/prometheus/container",
        "ZTA-AI-005 zta/observability/grafana/container",
      ]),
    );
  });

  test("a Prometheus published on a host port fails too", () => {
    const stack = defaultStack();
    stack.observability!.prometheus.addOverride("ports", [{ internal: 9090, external: 9090, ip: "127.0.0.1" }]);
    expect(() => Testing.synth(stack)).toThrow(/ZTA-AI-005/);
  });
});

/** SecureInference, Observability and an AuditLog, the trail created before or after Observability. */
function withAuditLog(
  order: "audit-first" | "observability-first",
  audit: Partial<ConstructorParameters<typeof AuditLog>[2]> = {},
) {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, { metricsScraper: true }));
  const trail = () => new AuditLog(stack, "audit", { ca: ai.ca, ...audit });
  const observe = () => new Observability(stack, "obs", { inference: ai, grafanaHostname: "grafana.example.internal" });
  let log: AuditLog;
  let obs: Observability;
  if (order === "audit-first") {
    log = trail();
    obs = observe();
  } else {
    obs = observe();
    log = trail();
  }
  return { stack, ai, obs, log, json: synth(stack) };
}

/** File names the loader of a config volume uploads. */
function uploadedNames(json: ReturnType<typeof synth>, loader: string): string[] {
  return (containerNamed(json, loader).upload ?? []).map((u: { file: string }) => u.file.split("/").pop());
}

const GRAFANA_SUBJECT = ServiceIdentities.GRAFANA.subjectDn;

describe.each(["audit-first", "observability-first"] as const)(
  "Observability with an AuditLog with Loki (%s)",
  (order) => {
    const { json, stack, obs, log } = withAuditLog(order);

    test("Grafana gets exactly one Loki datasource and one audit dashboard beside its own", () => {
      expect(uploadedNames(json, `${GRAFANA}-datasources-loader`).sort()).toEqual(["loki.yaml", "prometheus.yaml"]);
      expect(uploadedNames(json, `${GRAFANA}-dashboards-loader`).sort()).toEqual([
        "audit.json",
        "provider.yaml",
        "vllm.json",
      ]);
      const ds = parseYaml(uploaded(json, `${GRAFANA}-datasources-loader`, "loki.yaml")).datasources[0];
      expect(ds).toMatchObject({ uid: GRAFANA_LOKI_DATASOURCE_UID, type: "loki", url: "https://zta-audit-loki:3100" });
      expect(ds.jsonData).toMatchObject({
        tlsAuth: true,
        tlsAuthWithCACert: true,
        tlsSkipVerify: false,
        serverName: "zta-audit-loki",
      });
      // Grafana's own client certificate (issued in Observability) and the CA, quoted by Terraform at apply time.
      expect(ds.secureJsonData.tlsClientCert).toMatch(
        /^\$\{jsonencode\(tls_locally_signed_cert\.obs_grafana-client-cert_[^.]+\.cert_pem\)\}$/,
      );
      expect(ds.secureJsonData.tlsClientKey).toMatch(
        /^\$\{jsonencode\(tls_private_key\.obs_grafana-client-cert_[^.]+\.private_key_pem\)\}$/,
      );
      const dashboard = JSON.parse(uploaded(json, `${GRAFANA}-dashboards-loader`, "audit.json"));
      expect(dashboard.panels.every((p: any) => p.datasource.uid === GRAFANA_LOKI_DATASOURCE_UID)).toBe(true);
    });

    test("the Loki gateway admits Grafana's subject as a reader, over a network of that pair", () => {
      const conf = uploaded(json, "zta-audit-loki-gateway-config-loader", "nginx.conf");
      expect(conf).toContain(`"${GRAFANA_SUBJECT}" reader;`);
      expect(conf.match(/ reader;/g)).toHaveLength(1);
      const flows = TrustGraph.of(stack).flows.filter((f) => f.callee === "zta-audit-loki");
      expect(flows.map((f) => [f.caller, f.identity?.subjectDn, f.port, f.authentication])).toEqual(
        expect.arrayContaining([[GRAFANA, GRAFANA_SUBJECT, 3100, "mtls"]]),
      );
      expect(flows.filter((f) => f.caller === GRAFANA)).toHaveLength(1);
      const network = Object.entries(json.resource.docker_network).find(
        ([, n]) => n.name === `${GRAFANA}-to-zta-audit-loki`,
      )!;
      expect(network[1].internal).toBe(true);
      const ref = { name: `\${docker_network.${network[0]}.name}` };
      expect(containerNamed(json, GRAFANA).networks_advanced).toContainEqual(ref);
      expect(containerNamed(json, "zta-audit-loki").networks_advanced).toContainEqual(expect.objectContaining(ref));
    });

    test("attaching again changes nothing", () => {
      obs.attachAuditTrail(log);
      const again = synth(stack);
      expect(uploadedNames(again, `${GRAFANA}-datasources-loader`).filter((n) => n === "loki.yaml")).toHaveLength(1);
      expect(uploaded(again, "zta-audit-loki-gateway-config-loader", "nginx.conf").match(/ reader;/g)).toHaveLength(1);
    });
  },
);

describe("Observability and the audit trail: when nothing is attached, or cannot be", () => {
  test.each(["audit-first", "observability-first"] as const)(
    "loki: false adds no datasource, dashboard or flow (%s)",
    (order) => {
      const { json, stack } = withAuditLog(order, { loki: false });
      expect(uploadedNames(json, `${GRAFANA}-datasources-loader`)).toEqual(["prometheus.yaml"]);
      expect(uploadedNames(json, `${GRAFANA}-dashboards-loader`).sort()).toEqual(["provider.yaml", "vllm.json"]);
      expect(
        TrustGraph.of(stack)
          .flows.filter((f) => f.caller === GRAFANA)
          .map((f) => f.callee),
      ).toEqual(["inference-obs-prometheus"]);
    },
  );

  test("without an AuditLog Grafana has its Prometheus datasource only", () => {
    const { json } = build();
    expect(uploadedNames(json, `${GRAFANA}-datasources-loader`)).toEqual(["prometheus.yaml"]);
    expect(uploadedNames(json, `${GRAFANA}-dashboards-loader`)).not.toContain("audit.json");
  });

  test("an AuditLog on another CA is a ConfigError naming its ca (the gateway would refuse Grafana's certificate)", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack, { metricsScraper: true }));
    new Observability(stack, "obs", { inference: ai, grafanaHostname: "grafana.example.internal" });
    const other = new InternalCa(stack, "other-ca", {});
    expectConfigError(() => new AuditLog(stack, "audit", { ca: other }), "ca", /inference service's CA/);
  });
});

describe("Observability: snapshot", () => {
  test("default props (a safety net; the assertions above are the tests)", () => {
    const { json, obs } = build();
    const own = (type: string) =>
      Object.fromEntries(Object.entries(json.resource[type] ?? {}).filter(([id]) => id.startsWith("obs_")));
    expect({
      containers: own("docker_container"),
      volumes: own("docker_volume"),
      prometheusConfig: obs.prometheusConfig,
    }).toMatchSnapshot();
  });
});
