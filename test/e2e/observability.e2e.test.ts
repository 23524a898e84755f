/**
 * The observability files against the real Prometheus 2.42 and promtool from Debian's `prometheus`
 * package: `promtool check config/web-config/rules`, `promtool test rules` for every alert (fires at
 * its time, not before its `for:`), and a real scrape of the real nginx sidecar (the e2e chain) over
 * mTLS: the scraper identity gets the target up; another identity gets 404 and the target down.
 * Prometheus' own API refuses requests without both a CA-issued client certificate and the password.
 */
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { ALERTS, DEFAULT_ALERT_THRESHOLDS, renderAlertRules, ResolvedAlertThresholds } from "../../lib/alert-rules";
import { GRAFANA_PORT, GRAFANA_PROXY_HEALTH_PORT, GRAFANA_PROXY_PORT, VLLM_DASHBOARD_PANELS } from "../../lib/grafana";
import { CONFIG_DIR, GRAFANA_SERVER_NAME } from "../../lib/identities";
import { GRAFANA_USER_HEADER, IDENTITY_HEADER } from "../../lib/headers";
import { Observability } from "../../constructs/observability";
import { SecureInference } from "../../constructs/secure-inference";
import { PROMETHEUS_FILES, PROMETHEUS_SELF_USER } from "../../lib/prometheus";
import { inferenceProps, stackWithProviders, synth, uploaded } from "../helpers";
import { toYaml } from "../../lib/yaml";
import { Chain, RunningEdge, startChain, startEdge, tlsFiles, writeConfigVolume } from "../support/chain";
import { check, send } from "../support/client";
import { MockVllm, StubGate } from "../support/mocks";
import { CertificateFiles, TestPki, createPki, issueWithOpenssl, serviceSubject } from "../support/pki";
import {
  ManagedProcess,
  freePorts,
  makeTempDir,
  nginxStarted,
  nginxTest,
  requireBinary,
  startNginx,
} from "../support/processes";
import {
  E2E_DOMAIN,
  E2E_OPERATOR,
  RenderedChain,
  localize,
  renderedChainOf,
  uploadedFileNames,
} from "../support/render";
import {
  ObservabilityPki,
  RunningPrometheus,
  bcryptHash,
  createObservabilityPki,
  grafanaCredentials,
  promtool,
  run,
  startPrometheus,
  writePrometheusFiles,
} from "./observability-harness";

const GRAFANA_PASSWORD = "grafana-e2e-password";
const SELF_PASSWORD = "self-e2e-password";
const CERT_WARN_SOON = "197001010030"; // 00:30 on the first day of the rule tests' clock
const CERT_WARN_LATER = "197001020000";

let dir: string;
let pki: TestPki;
let obsPki: ObservabilityPki;

beforeAll(() => {
  for (const b of ["prometheus", "promtool", "caddy", "openssl", "nginx"]) requireBinary(b);
  dir = makeTempDir("zta-e2e-obs-");
  pki = createPki(path.join(dir, "pki"), {
    domain: E2E_DOMAIN,
    sidecarHostname: "inference-vllm-0",
    gateHostname: "inference-gate",
    operatorName: E2E_OPERATOR.name,
    operatorEmail: E2E_OPERATOR.email,
  });
  obsPki = createObservabilityPki(pki);
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function rules(thresholds: ResolvedAlertThresholds = DEFAULT_ALERT_THRESHOLDS): string {
  return renderAlertRules({
    thresholds,
    certificates: [
      { name: "inference/edge/server-cert", warnAt: CERT_WARN_SOON },
      { name: "inference/sidecar-0/server-cert", warnAt: CERT_WARN_LATER },
    ],
    edgeMetrics: true,
  });
}

function filesDir(name: string, overrides: Partial<Parameters<typeof writePrometheusFiles>[0]> = {}): string {
  const d = path.join(dir, name);
  writePrometheusFiles({
    dir: d,
    pki,
    obsPki,
    sidecarTargets: ["inference-vllm-0:8443", "inference-vllm-1:8443"],
    selfTarget: "127.0.0.1:9090",
    scrapeIntervalSeconds: 15,
    grafanaPassword: GRAFANA_PASSWORD,
    selfPassword: SELF_PASSWORD,
    rules: rules(),
    ...overrides,
  });
  return d;
}

describe("promtool 2.42 accepts the rendered files, and refuses broken ones", () => {
  test("check config: prometheus.yml with its rule file and TLS files", () => {
    const d = filesDir("check-config");
    const out = promtool(["check", "config", path.join(d, PROMETHEUS_FILES.config)]);
    expect(out).toMatch(/SUCCESS/);
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  test("check config fails when the scraper key file is missing (the files are really checked)", () => {
    const d = filesDir("check-config-missing-key");
    fs.rmSync(path.join(d, PROMETHEUS_FILES.clientKey));
    const r = run("promtool", ["check", "config", path.join(d, PROMETHEUS_FILES.config)]);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/client\.key/);
  });

  test("check web-config: TLS with required client certificates and bcrypt basic auth", () => {
    const d = filesDir("check-web");
    expect(promtool(["check", "web-config", path.join(d, PROMETHEUS_FILES.webConfig)])).toMatch(/SUCCESS/);
    fs.writeFileSync(
      path.join(d, "bad-web.yml"),
      fs
        .readFileSync(path.join(d, PROMETHEUS_FILES.webConfig), "utf8")
        .replace("RequireAndVerifyClientCert", "RequireAndVerifyClientCertificate"),
    );
    const bad = run("promtool", ["check", "web-config", path.join(d, "bad-web.yml")]);
    expect(bad.status).not.toBe(0);
  });

  test("check rules: every rule parses", () => {
    const d = filesDir("check-rules");
    expect(promtool(["check", "rules", path.join(d, PROMETHEUS_FILES.rules)])).toMatch(/SUCCESS: \d+ rules found/);
  });

  test("check rules: every query of the Grafana dashboard is valid PromQL (as recording rules)", () => {
    const d = path.join(dir, "check-dashboard");
    fs.mkdirSync(d, { recursive: true });
    const exprs = VLLM_DASHBOARD_PANELS.flatMap((p) =>
      p.targets.map((t) => t.expr.replace(/\$__rate_interval/g, "5m")),
    );
    const file = toYaml({
      groups: [{ name: "dashboard", rules: exprs.map((expr, i) => ({ record: `zta:dashboard_query_${i}`, expr })) }],
    });
    fs.writeFileSync(path.join(d, "dashboard-queries.yml"), file);
    expect(promtool(["check", "rules", path.join(d, "dashboard-queries.yml")])).toMatch(
      new RegExp(`SUCCESS: ${exprs.length} rules found`),
    );
  });

  test("check config: the healthcheck's HTTP client config is a valid http config (via a scrape job that uses its credentials)", () => {
    // promtool 2.42 has no `check healthy`; the real image's promtool reads this file with
    // --http.config.file. Its fields are the common HTTP client config that scrape jobs use,
    // so a job built from it must pass `check config`.
    const d = filesDir("check-healthcheck");
    const httpConfig = fs.readFileSync(path.join(d, PROMETHEUS_FILES.healthcheckHttpConfig), "utf8");
    const job = httpConfig
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => `    ${l}`)
      .join("\n");
    const conf = `scrape_configs:\n  - job_name: "healthcheck"\n    scheme: "https"\n${job}\n    static_configs:\n      - targets: ["127.0.0.1:9090"]\n`;
    fs.writeFileSync(path.join(d, "healthcheck-as-job.yml"), conf);
    expect(promtool(["check", "config", path.join(d, "healthcheck-as-job.yml")])).toMatch(/SUCCESS/);
  });
});

describe("promtool 2.42 on the files the Observability construct itself uploads", () => {
  test("check config and check web-config, with Terraform's expressions replaced by values it would compute", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(
      stack,
      "inference",
      inferenceProps(stack, { metricsScraper: true, replicas: 2, vllm: { replicaGpus: ["device=0", "device=1"] } }),
    );
    new Observability(stack, "obs", { inference: ai, grafanaHostname: "grafana.example.internal" });
    const json = synth(stack);
    const loader = "inference-obs-prometheus-config-loader";
    const d = path.join(dir, "construct-files");
    fs.mkdirSync(d, { recursive: true });
    const local = (text: string): string => text.split(`${CONFIG_DIR}/`).join(`${d}/`);
    const rules = uploaded(json, loader, PROMETHEUS_FILES.rules);
    const expressions = rules.match(/\$\{formatdate\([^\n]*?\)\)\}/g) ?? [];
    expect(expressions.length).toBeGreaterThan(5);
    fs.writeFileSync(path.join(d, PROMETHEUS_FILES.config), local(uploaded(json, loader, PROMETHEUS_FILES.config)));
    fs.writeFileSync(
      path.join(d, PROMETHEUS_FILES.rules),
      expressions.reduce((t, e) => t.split(e).join("202701010000"), rules),
    );
    const web = uploaded(json, loader, PROMETHEUS_FILES.webConfig).replace(
      /\$\{random_password\.[\w-]+\.bcrypt_hash\}/g,
      bcryptHash(GRAFANA_PASSWORD),
    );
    fs.writeFileSync(path.join(d, PROMETHEUS_FILES.webConfig), local(web));
    for (const [name, content] of [
      [PROMETHEUS_FILES.caCert, pki.ca.certPem],
      [PROMETHEUS_FILES.serverCert, obsPki.prometheusServer.certPem],
      [PROMETHEUS_FILES.serverKey, obsPki.prometheusServer.keyPem],
      [PROMETHEUS_FILES.clientCert, pki.metricsScraper.certPem],
      [PROMETHEUS_FILES.clientKey, pki.metricsScraper.keyPem],
      [PROMETHEUS_FILES.selfPassword, SELF_PASSWORD],
    ]) {
      fs.writeFileSync(path.join(d, name), content);
    }
    const out = promtool(["check", "config", path.join(d, PROMETHEUS_FILES.config)]);
    // 7 vLLM alerts, the edge's 2 abuse alerts (its metrics are scraped: job "edge" is in this config), one expiry per certificate.
    expect(uploaded(json, loader, PROMETHEUS_FILES.config)).toContain('job_name: "edge"');
    expect(out).toMatch(new RegExp(`SUCCESS: ${9 + expressions.length} rules found`));
    expect(promtool(["check", "web-config", path.join(d, PROMETHEUS_FILES.webConfig)])).toMatch(/SUCCESS/);
  });
});

// ---------------------------------------------------------------------------------------------
// promtool test rules: one scenario per alert
// ---------------------------------------------------------------------------------------------

interface AlertScenario {
  readonly alert: string;
  readonly series: { series: string; values: string }[];
  /** Last evaluation at which the alert must not fire yet (inside its `for:`). */
  readonly notYetAt: string;
  /** Evaluation at which it must fire. */
  readonly firingAt: string;
  /** Labels of the firing alert(s). */
  readonly firing: Record<string, string>[];
}

const HIST_LE = ["0.01", "0.05", "0.1", "0.5", "1", "2.5", "5", "+Inf"];

/** Histogram buckets for one instance: `perMinute` observations a minute, all of them in the bucket `le` (and above). */
function histogram(
  metric: string,
  instance: string,
  le: string,
  perMinute: number,
): { series: string; values: string }[] {
  const from = HIST_LE.indexOf(le);
  return HIST_LE.map((b, i) => ({
    series: `${metric}_bucket{job="vllm",instance="${instance}",le="${b}"}`,
    values: i >= from ? `0+${perMinute}x30` : "0x30",
  }));
}

const A = "inference-vllm-0:8443";
const B = "inference-vllm-1:8443";

/** Scenarios at the default thresholds; in each, instance A is unhealthy and B healthy (B must never fire). */
const SCENARIOS: AlertScenario[] = [
  {
    alert: ALERTS.replicaDown, // for: 2m
    series: [
      { series: `up{job="vllm",instance="${A}"}`, values: "0x10" },
      { series: `up{job="vllm",instance="${B}"}`, values: "1x10" },
    ],
    notYetAt: "1m",
    firingAt: "2m",
    firing: [{ severity: "critical", job: "vllm", instance: A }],
  },
  {
    alert: ALERTS.queueBacklog, // > 10 for 5m
    series: [
      { series: `vllm:num_requests_waiting{job="vllm",instance="${A}"}`, values: "25x10" },
      { series: `vllm:num_requests_waiting{job="vllm",instance="${B}"}`, values: "10x10" },
    ],
    notYetAt: "4m",
    firingAt: "5m",
    firing: [{ severity: "warning", instance: A }],
  },
  {
    alert: ALERTS.kvCacheSaturated, // > 0.9 for 10m
    series: [
      { series: `vllm:kv_cache_usage_perc{job="vllm",instance="${A}"}`, values: "0.97x15" },
      { series: `vllm:kv_cache_usage_perc{job="vllm",instance="${B}"}`, values: "0.9x15" },
    ],
    notYetAt: "9m",
    firingAt: "10m",
    firing: [{ severity: "warning", instance: A }],
  },
  {
    // p95 > 2s for 10m; a rate needs two samples, so the condition holds from 1m and fires at 11m.
    alert: ALERTS.timeToFirstTokenHigh,
    series: [
      ...histogram("vllm:time_to_first_token_seconds", A, "5", 60),
      ...histogram("vllm:time_to_first_token_seconds", B, "0.5", 60),
    ],
    notYetAt: "10m",
    firingAt: "11m",
    firing: [{ severity: "warning", instance: A }],
  },
  {
    alert: ALERTS.interTokenLatencyHigh, // p95 > 0.2s for 10m
    series: [
      ...histogram("vllm:inter_token_latency_seconds", A, "0.5", 600),
      ...histogram("vllm:inter_token_latency_seconds", B, "0.05", 600),
    ],
    notYetAt: "10m",
    firingAt: "11m",
    firing: [{ severity: "warning", instance: A }],
  },
  {
    alert: ALERTS.abortRatioHigh, // > 5% for 10m; A aborts 10%, B 4%
    series: [
      { series: `vllm:request_success_total{job="vllm",instance="${A}",finished_reason="abort"}`, values: "0+10x30" },
      { series: `vllm:request_success_total{job="vllm",instance="${A}",finished_reason="stop"}`, values: "0+90x30" },
      { series: `vllm:request_success_total{job="vllm",instance="${B}",finished_reason="abort"}`, values: "0+4x30" },
      { series: `vllm:request_success_total{job="vllm",instance="${B}",finished_reason="length"}`, values: "0+96x30" },
    ],
    notYetAt: "10m",
    firingAt: "11m",
    firing: [{ severity: "warning", instance: A }],
  },
  {
    alert: ALERTS.serverErrorRatioHigh, // > 2% for 10m; A 10%, B 1%
    series: [
      {
        series: `http_requests_total{job="vllm",instance="${A}",handler="/v1/chat/completions",method="POST",status="5xx"}`,
        values: "0+10x30",
      },
      {
        series: `http_requests_total{job="vllm",instance="${A}",handler="/v1/chat/completions",method="POST",status="2xx"}`,
        values: "0+90x30",
      },
      {
        series: `http_requests_total{job="vllm",instance="${B}",handler="/v1/chat/completions",method="POST",status="5xx"}`,
        values: "0+1x30",
      },
      {
        series: `http_requests_total{job="vllm",instance="${B}",handler="/v1/chat/completions",method="POST",status="2xx"}`,
        values: "0+99x30",
      },
    ],
    notYetAt: "10m",
    firingAt: "11m",
    firing: [{ severity: "critical", instance: A }],
  },
  {
    // > 30/min for 5m: 160 401s + 80 403s a minute (high enough that the 5m rate window is over the
    // threshold from the second sample on, so the `for:` starts at 1m); 200s do not count.
    // The labels Caddy 2.6 emits, measured below ("The edge's metrics listener"): handler "subroute" (a
    // site's one top-level handler), the API site on srv1, a 403 to another identity on the metrics listener (srv2).
    alert: ALERTS.authFailureBurst,
    series: [
      {
        series: `caddy_http_request_duration_seconds_count{job="edge",code="401",handler="subroute",method="POST",server="srv1"}`,
        values: "0+160x30",
      },
      {
        series: `caddy_http_request_duration_seconds_count{job="edge",code="403",handler="subroute",method="GET",server="srv2"}`,
        values: "0+80x30",
      },
      {
        series: `caddy_http_request_duration_seconds_count{job="edge",code="200",handler="subroute",method="POST",server="srv1"}`,
        values: "0+1000x30",
      },
    ],
    notYetAt: "5m",
    firingAt: "6m",
    firing: [{ severity: "warning" }],
  },
  {
    alert: ALERTS.rateLimitBurst, // > 60/min for 5m; 400 a minute is over it from 1m on
    series: [
      {
        series: `caddy_http_request_duration_seconds_count{job="edge",code="429",handler="subroute",method="POST",server="srv1"}`,
        values: "0+400x30",
      },
      {
        series: `caddy_http_request_duration_seconds_count{job="edge",code="401",handler="subroute",method="POST",server="srv1"}`,
        values: "0+1000x30",
      },
    ],
    notYetAt: "5m",
    firingAt: "6m",
    firing: [{ severity: "warning" }],
  },
  {
    // No for: it fires at the first evaluation on or after the warning time, and only for that certificate.
    alert: ALERTS.certificateExpiry,
    series: [{ series: `up{job="prometheus",instance="127.0.0.1:9090"}`, values: "1x60" }],
    notYetAt: "29m",
    firingAt: "30m",
    firing: [{ severity: "warning", certificate: "inference/edge/server-cert" }],
  },
];

/** The annotations Prometheus renders for an alert with these labels (only `$labels` templates are used). */
function expectedAnnotations(ruleText: string, alert: string, labels: Record<string, string>): Record<string, string> {
  // The alert's annotations, read back from the rendered rules (JSON-quoted scalars).
  const lines = ruleText.split("\n");
  const found: Record<string, string>[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== `- alert: ${JSON.stringify(alert)}`) continue;
    const annotations: Record<string, string> = {};
    let certificate: string | undefined;
    for (
      let j = i + 1;
      j < lines.length && !lines[j].trimStart().startsWith("- alert:") && !/^\s*- name:/.test(lines[j]);
      j++
    ) {
      const m = /^\s+(summary|description|certificate): (".*")$/.exec(lines[j]);
      if (m && m[1] === "certificate") certificate = JSON.parse(m[2]);
      else if (m) annotations[m[1]] = JSON.parse(m[2]);
    }
    if (certificate === undefined || certificate === labels.certificate) found.push(annotations);
  }
  if (found.length !== 1)
    throw new Error(`expected one rule for ${alert} with ${JSON.stringify(labels)}, found ${found.length}`);
  return Object.fromEntries(
    Object.entries(found[0]).map(([k, v]) => [
      k,
      v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? ""),
    ]),
  );
}

function ruleTestFile(ruleFile: string, ruleText: string, scenarios: AlertScenario[]): string {
  return toYaml({
    rule_files: [ruleFile],
    evaluation_interval: "1m",
    tests: scenarios.map((s) => ({
      interval: "1m",
      input_series: s.series,
      alert_rule_test: [
        { eval_time: s.notYetAt, alertname: s.alert, exp_alerts: [] },
        {
          eval_time: s.firingAt,
          alertname: s.alert,
          exp_alerts: s.firing.map((labels) => ({
            exp_labels: labels,
            exp_annotations: expectedAnnotations(ruleText, s.alert, labels),
          })),
        },
      ],
    })),
  });
}

describe("promtool test rules: every alert fires at its time and not before its for:", () => {
  test("there is a scenario for every alert the rules define", () => {
    const defined = new Set([...rules().matchAll(/- alert: "(\w+)"/g)].map((m) => m[1]));
    expect(new Set(SCENARIOS.map((s) => s.alert))).toEqual(defined);
    expect(defined).toEqual(new Set(Object.values(ALERTS)));
  });

  test.each(SCENARIOS.map((s) => [s.alert, s] as const))("%s", (_name, scenario) => {
    const d = path.join(dir, `rules-${scenario.alert}`);
    fs.mkdirSync(d, { recursive: true });
    const text = rules();
    fs.writeFileSync(path.join(d, "alert-rules.yml"), text);
    fs.writeFileSync(path.join(d, "test.yml"), ruleTestFile("alert-rules.yml", text, [scenario]));
    expect(promtool(["test", "rules", "test.yml"], d)).toMatch(/SUCCESS/);
  });

  test("the scenarios can fail: expecting an alert one evaluation earlier is refused by promtool", () => {
    // Shift every firing expectation onto the not-yet time: each must then fail (alert still pending or
    // condition not met), or the scenario above would prove nothing about the `for:`.
    for (const s of SCENARIOS) {
      const d = path.join(dir, `rules-early-${s.alert}`);
      fs.mkdirSync(d, { recursive: true });
      const text = rules();
      fs.writeFileSync(path.join(d, "alert-rules.yml"), text);
      fs.writeFileSync(
        path.join(d, "test.yml"),
        ruleTestFile("alert-rules.yml", text, [{ ...s, firingAt: s.notYetAt, notYetAt: "0m" }]),
      );
      const r = run("promtool", ["test", "rules", "test.yml"], d);
      expect({ alert: s.alert, status: r.status }).toEqual({ alert: s.alert, status: 1 });
    }
  });

  test("thresholds are props: a higher queue threshold keeps the backlog alert quiet", () => {
    const d = path.join(dir, "rules-threshold");
    fs.mkdirSync(d, { recursive: true });
    const text = rules({ ...DEFAULT_ALERT_THRESHOLDS, queueWaitingRequests: 30 });
    fs.writeFileSync(path.join(d, "alert-rules.yml"), text);
    const backlog = SCENARIOS.find((s) => s.alert === ALERTS.queueBacklog)!;
    fs.writeFileSync(path.join(d, "test.yml"), ruleTestFile("alert-rules.yml", text, [{ ...backlog, firing: [] }]));
    expect(promtool(["test", "rules", "test.yml"], d)).toMatch(/SUCCESS/);
  });
});

// ---------------------------------------------------------------------------------------------
// A real scrape of the real sidecar, and Prometheus' own API
// ---------------------------------------------------------------------------------------------

interface UpSample {
  readonly job: string;
  readonly value: string;
}

async function upSamples(prom: RunningPrometheus): Promise<UpSample[]> {
  const ex = await prom.api("/api/v1/query?query=up", grafanaCredentials(obsPki, GRAFANA_PASSWORD));
  if (ex.status !== 200) throw new Error(`query failed: ${ex.status} ${ex.body}`);
  const body = JSON.parse(ex.body) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result.map((r) => ({ job: r.metric.job, value: r.value[1] }));
}

async function targetError(prom: RunningPrometheus, job: string): Promise<string> {
  const ex = await prom.api("/api/v1/targets", grafanaCredentials(obsPki, GRAFANA_PASSWORD));
  const body = JSON.parse(ex.body) as {
    data: { activeTargets: { labels: Record<string, string>; lastError: string }[] };
  };
  return body.data.activeTargets.find((t) => t.labels.job === job)?.lastError ?? "";
}

describe("Prometheus 2.42 scraping the real nginx sidecar over mTLS", () => {
  let mock: MockVllm;
  let chain: Chain;

  beforeAll(async () => {
    mock = new MockVllm();
    await mock.start();
    chain = await startChain({ pki, mock, apiKey: "obs-e2e-key", oidc: false });
  });

  afterAll(async () => {
    await chain?.stop();
    await mock?.stop();
  });

  async function scrapeWith(name: string, identity: TestPki["metricsScraper"]): Promise<RunningPrometheus> {
    const [port] = await freePorts(1);
    const d = filesDir(name, {
      scrapeIdentity: identity,
      sidecarTargets: [`127.0.0.1:${chain.ports.sidecar}`],
      selfTarget: `127.0.0.1:${port}`,
      scrapeIntervalSeconds: 1,
    });
    return startPrometheus(d, port);
  }

  test("with the scraper certificate the sidecar target is up; its own API needs certificate AND password", async () => {
    const prom = await scrapeWith("scrape-ok", pki.metricsScraper);
    try {
      let samples: UpSample[] = [];
      // Bounded wait until both targets are up: under load a first scrape can time out (the first
      // bcrypt check of the self user's password costs about a second at caddy's cost 14).
      const upOf = (job: string) => samples.find((s) => s.job === job)?.value;
      for (let i = 0; i < 80; i++) {
        samples = await upSamples(prom);
        if (upOf("vllm") === "1" && upOf("prometheus") === "1") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(samples.find((s) => s.job === "vllm")?.value).toBe("1");
      // The self-scrape passes its own web config with the self user's certificate and password.
      expect(samples.find((s) => s.job === "prometheus")?.value).toBe("1");
      const metricsLines = chain.auditLog().filter((l) => l.route === "/metrics");
      expect(metricsLines.length).toBeGreaterThan(0);
      expect(metricsLines.every((l) => l.status === 200 && l.caller === "metrics")).toBe(true);
      const stored = await prom.api(
        "/api/v1/query?query=vllm:num_requests_running",
        grafanaCredentials(obsPki, GRAFANA_PASSWORD),
      );
      expect(JSON.parse(stored.body).data.result.length).toBe(1);

      // No client certificate: the TLS handshake is refused before HTTP.
      await expect(
        prom.api("/api/v1/query?query=up", { user: "grafana", password: GRAFANA_PASSWORD }),
      ).rejects.toThrow();
      // A certificate from another CA: refused as well.
      await expect(
        prom.api("/api/v1/query?query=up", {
          clientCert: pki.foreignClient,
          user: "grafana",
          password: GRAFANA_PASSWORD,
        }),
      ).rejects.toThrow();
      // A CA-issued certificate (an operator's laptop) without a password, or with a wrong one: 401.
      const noPassword = await prom.api("/api/v1/query?query=up", { clientCert: pki.operator });
      expect(noPassword.status).toBe(401);
      const wrong = await prom.api("/api/v1/query?query=up", {
        clientCert: pki.operator,
        user: "grafana",
        password: "guess",
      });
      expect(wrong.status).toBe(401);
      // The UI and the health endpoint are behind the same gate.
      expect((await prom.api("/-/healthy", { clientCert: pki.operator })).status).toBe(401);
      // Both: 200 — for Grafana and for the self user.
      const ok = await prom.api("/api/v1/query?query=up", grafanaCredentials(obsPki, GRAFANA_PASSWORD));
      expect(ok.status).toBe(200);
      const self = await prom.api("/-/healthy", {
        clientCert: pki.metricsScraper,
        user: PROMETHEUS_SELF_USER,
        password: SELF_PASSWORD,
      });
      expect(self.status).toBe(200);
    } finally {
      await prom.stop();
    }
  });

  test("with another identity (the edge's certificate) the sidecar answers 404 and the target is down", async () => {
    const before = chain.auditLog().length;
    const prom = await scrapeWith("scrape-refused", pki.edgeClient);
    try {
      let samples: UpSample[] = [];
      // Several scrapes (1 s apart), every one of them down.
      const values: string[] = [];
      for (let i = 0; i < 80 && values.length < 4; i++) {
        samples = await upSamples(prom);
        const v = samples.find((s) => s.job === "vllm")?.value;
        if (v !== undefined) values.push(v);
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(values).toEqual(["0", "0", "0", "0"]);
      expect(await targetError(prom, "vllm")).toMatch(/404/);
      const metricsLines = chain
        .auditLog()
        .slice(before)
        .filter((l) => l.route === "/metrics");
      expect(metricsLines.length).toBeGreaterThan(0);
      expect(metricsLines.every((l) => l.status === 404 && l.caller === "edge")).toBe(true);
    } finally {
      await prom.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Grafana's site: browser -> real Caddy edge (+ stub gate) -> real nginx proxy -> stub Grafana
// ---------------------------------------------------------------------------------------------

const GRAFANA_HOST = "grafana.example.internal";

/** SecureInference + Observability, as a stack file builds them; what the edge and Grafana's proxy render. */
function renderObservabilityStack(): {
  chain: RenderedChain;
  proxyConfig: string;
  proxyFiles: readonly string[];
  grafanaName: string;
} {
  const stack = stackWithProviders();
  const ai = new SecureInference(
    stack,
    "inference",
    inferenceProps(stack, { metricsScraper: true, domain: E2E_DOMAIN, operators: [E2E_OPERATOR] }),
  );
  const obs = new Observability(stack, "obs", { inference: ai, grafanaHostname: GRAFANA_HOST });
  return {
    chain: renderedChainOf(ai),
    proxyConfig: obs.grafanaProxyNginxConfig,
    proxyFiles: uploadedFileNames(obs.grafanaProxyService),
    grafanaName: obs.grafanaName,
  };
}

describe("Grafana's site: the edge's OIDC gate, then the proxy that admits the edge alone and sets Grafana's user header", () => {
  const rendered = renderObservabilityStack();
  let base: string;
  let gpki: TestPki;
  let stub: http.Server;
  const seen: http.IncomingHttpHeaders[] = [];
  let gate: StubGate;
  let nginx: ManagedProcess;
  let edge: RunningEdge;
  let proxyPort: number;

  beforeAll(async () => {
    base = makeTempDir("zta-e2e-grafana-");
    gpki = createPki(path.join(base, "pki"), rendered.chain.pkiNames);
    stub = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("stub grafana");
    });
    await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", () => resolve()));
    const stubPort = (stub.address() as { port: number }).port;

    // Grafana's proxy: the construct's nginx.conf, localized for loopback.
    const proxyDir = path.join(base, "grafana-proxy");
    const runDir = path.join(base, "grafana-proxy-run");
    fs.mkdirSync(runDir, { mode: 0o755 });
    const server = issueWithOpenssl(
      gpki.dir,
      "grafana-server",
      "server",
      serviceSubject(rendered.grafanaName),
      [GRAFANA_SERVER_NAME, rendered.grafanaName],
      gpki.ca,
    );
    const [listen, health] = await freePorts(2);
    proxyPort = listen;
    const errorLog = path.join(runDir, "error.log");
    const conf = localize(
      rendered.proxyConfig,
      [
        { from: `${CONFIG_DIR}/`, to: `${proxyDir}/`, why: "config volume mount point" },
        {
          from: `listen ${GRAFANA_PROXY_PORT} ssl;`,
          to: `listen 127.0.0.1:${listen} ssl;`,
          why: "proxy listen port (all interfaces of Grafana's namespace)",
        },
        {
          from: `listen 127.0.0.1:${GRAFANA_PROXY_HEALTH_PORT};`,
          to: `listen 127.0.0.1:${health};`,
          why: "health port",
        },
        {
          from: `server 127.0.0.1:${GRAFANA_PORT};`,
          to: `server 127.0.0.1:${stubPort};`,
          why: "Grafana's loopback port",
        },
        { from: "access_log /dev/stdout ", to: `access_log ${runDir}/access.log `, why: "container stdout" },
        { from: "error_log /dev/stderr ", to: `error_log ${errorLog} `, why: "container stderr" },
        { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${runDir}/`, why: "run dir (tmpfs /tmp)" },
      ],
      "grafana proxy nginx.conf",
    );
    writeConfigVolume(proxyDir, rendered.proxyFiles, { "nginx.conf": conf, ...tlsFiles(gpki.ca, { server }) });
    const confPath = path.join(proxyDir, "nginx.conf");
    nginxTest(confPath, runDir, errorLog);
    nginx = startNginx(confPath, runDir, errorLog);
    await nginx.waitForPort(listen, nginxStarted(nginx, runDir));

    // The edge with the Grafana site, as EdgeProxy renders it; its certificate names both sites.
    gate = new StubGate(gpki, rendered.chain.sessionCookieName!);
    await gate.start();
    edge = await startEdge(base, "edge", {
      rendered: rendered.chain,
      pki: gpki,
      sidecarPort: health, // the API site is not exercised here; its upstream only has to parse
      gatePort: gate.port,
      serverCert: issueWithOpenssl(
        gpki.dir,
        "edge-both",
        "server",
        serviceSubject(E2E_DOMAIN),
        [E2E_DOMAIN, GRAFANA_HOST],
        gpki.ca,
      ),
      sites: [{ hostname: GRAFANA_HOST, upstream: `${rendered.grafanaName}:${GRAFANA_PROXY_PORT}`, port: listen }],
    });
  });

  afterAll(async () => {
    await Promise.all([edge?.process.stop(), nginx?.stop()]);
    await gate?.stop();
    await new Promise((resolve) => stub?.close(resolve));
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  const logs = (): string => `${edge?.process.logs() ?? ""}\n${nginx?.logs() ?? ""}`;
  const viaEdge = (headers: Record<string, string>, clientCert?: CertificateFiles) =>
    send({ port: edge.port, path: "/d/zta-vllm", ca: gpki.ca.certPem, servername: GRAFANA_HOST, clientCert, headers });
  const direct = (clientCert: CertificateFiles | undefined, headers: Record<string, string>) =>
    send({
      port: proxyPort,
      path: "/d/zta-vllm",
      ca: gpki.ca.certPem,
      servername: GRAFANA_SERVER_NAME,
      clientCert,
      headers,
    });

  test("through the edge: a browser without a session is sent to sign in and Grafana sees nothing", async () => {
    const before = seen.length;
    const ex = await viaEdge({ [GRAFANA_USER_HEADER]: "admin@evil.example" });
    check(
      ex.status === 302 && String(ex.headers.location).includes("/oauth2/start"),
      "a redirect to sign in",
      ex,
      logs,
    );
    expect(seen.length).toBe(before);
  });

  test("through the edge with a session: the gate's email becomes Grafana's user; spoofed identity headers never arrive", async () => {
    const ex = await viaEdge({
      Cookie: `${rendered.chain.sessionCookieName}=valid-alice`,
      [GRAFANA_USER_HEADER]: "admin@evil.example",
      [IDENTITY_HEADER]: "admin@evil.example",
      "X-Auth-Request-Email": "admin@evil.example",
    });
    check(ex.status === 200 && ex.body === "stub grafana", "Grafana's answer", ex, logs);
    const got = seen[seen.length - 1];
    expect(got[GRAFANA_USER_HEADER.toLowerCase()]).toBe("alice@example.com");
    expect(got[IDENTITY_HEADER.toLowerCase()]).toBeUndefined();
    expect(got["x-auth-request-email"]).toBe("alice@example.com"); // the gate's answer, copied by forward_auth
  });

  test("a signed-in machine identity without an email claim signs nobody in at Grafana", async () => {
    const ex = await viaEdge({
      Cookie: `${rendered.chain.sessionCookieName}=valid-noemail-bot`,
      [GRAFANA_USER_HEADER]: "admin@evil.example",
    });
    check(ex.status === 200, "Grafana's answer (it then shows its own 'not signed in' page)", ex, logs);
    expect(seen[seen.length - 1][GRAFANA_USER_HEADER.toLowerCase()]).toBeUndefined();
  });

  test("straight to the proxy: the edge's certificate works, any other CA-issued identity gets 403, none or a foreign one is refused", async () => {
    const ok = await direct(gpki.edgeClient, {
      [IDENTITY_HEADER]: "devops@example.com",
      [GRAFANA_USER_HEADER]: "admin@evil.example",
    });
    expect(ok.status).toBe(200);
    expect(seen[seen.length - 1][GRAFANA_USER_HEADER.toLowerCase()]).toBe("devops@example.com");
    const before = seen.length;
    for (const cert of [gpki.operator, gpki.metricsScraper]) {
      const refused = await direct(cert, { [GRAFANA_USER_HEADER]: "admin@evil.example" });
      check(refused.status === 403, "403 for a CA-issued identity that is not the edge", refused, logs);
    }
    for (const cert of [undefined, gpki.foreignClient]) {
      const refused = await direct(cert, {});
      check(refused.status === 400, "400 (no or a foreign client certificate)", refused, logs);
    }
    expect(seen.length).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// The edge's metrics listener: the real Caddy 2.6 with the edge config EdgeProxy renders for
// SecureInference + Observability, and the real Prometheus 2.42 scraping it
// ---------------------------------------------------------------------------------------------

/** One sample line of Caddy's exposition: its labels and value. */
function caddySamples(exposition: string, metric: string): { labels: Record<string, string>; value: number }[] {
  return exposition
    .split("\n")
    .filter((l) => l.startsWith(`${metric}{`))
    .map((l) => {
      const m = /^[^{]+\{([^}]*)\} (\S+)$/.exec(l)!;
      const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      return { labels, value: Number(m[2]) };
    });
}

describe("The edge's metrics listener: real Caddy 2.6 serves /metrics to the scraper alone; Prometheus 2.42 scrapes it", () => {
  const rendered = renderObservabilityStack();
  let base: string;
  let epki: TestPki;
  let gate: StubGate;
  let upstream: https.Server;
  let edge: RunningEdge;
  let eobs: ObservabilityPki;
  const API_PATH = "/v1/chat/completions";

  beforeAll(async () => {
    base = makeTempDir("zta-e2e-edge-metrics-");
    epki = createPki(path.join(base, "pki"), rendered.chain.pkiNames);
    eobs = createObservabilityPki(epki);
    // A sidecar stand-in that rate-limits every request (its health check passes): the 429 the edge passes on.
    upstream = https.createServer(
      { cert: epki.sidecarServer.certPem, key: epki.sidecarServer.keyPem, ca: epki.ca.certPem, requestCert: true },
      (req, res) => {
        res.writeHead(req.url === "/health" ? 200 : 429, { "Content-Type": "text/plain" });
        res.end(req.url === "/health" ? "ok" : "rate limited");
      },
    );
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", () => resolve()));
    gate = new StubGate(epki, rendered.chain.sessionCookieName!);
    await gate.start();
    const upstreamPort = (upstream.address() as { port: number }).port;
    edge = await startEdge(base, "edge", {
      rendered: rendered.chain,
      pki: epki,
      sidecarPort: upstreamPort,
      gatePort: gate.port,
      // Grafana's site is not exercised here; its upstream only has to parse.
      sites: [
        { hostname: GRAFANA_HOST, upstream: `${rendered.grafanaName}:${GRAFANA_PROXY_PORT}`, port: upstreamPort },
      ],
    });
  });

  afterAll(async () => {
    await edge?.process.stop();
    await gate?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  const logs = (): string => edge?.process.logs() ?? "";
  const scrape = (clientCert: CertificateFiles | undefined, urlPath = "/metrics") =>
    send({
      port: edge.metricsPort!,
      path: urlPath,
      ca: epki.ca.certPem,
      servername: rendered.chain.edgeName,
      clientCert,
    });
  const api = (headers: Record<string, string> = {}) =>
    send({
      port: edge.port,
      path: API_PATH,
      method: "POST",
      ca: epki.ca.certPem,
      servername: E2E_DOMAIN,
      clientCert: epki.operator,
      headers: { "Content-Type": "application/json", ...headers },
      body: "{}",
    });

  test("the rendering has the listener, and the edge uploads its certificate", () => {
    expect(edge.metricsPort).toBeDefined();
    expect(rendered.chain.edgeFiles).toEqual(expect.arrayContaining(["metrics-server.crt", "metrics-server.key"]));
  });

  test("the scraper gets 200 and Caddy's HTTP metrics: 401 and 429 each counted once per request, labels as the alerts select", async () => {
    // Three requests without a session (the gate's 401) and two with one (the stand-in's 429).
    for (let i = 0; i < 3; i++) check((await api()).status === 401, "401 from the gate", undefined, logs);
    for (let i = 0; i < 2; i++) {
      const ex = await api({ Cookie: `${rendered.chain.sessionCookieName}=valid-alice` });
      check(ex.status === 429, "the upstream's 429, passed on", ex, logs);
    }
    // A scrape is counted after its answer: scrape twice, read the second.
    check((await scrape(epki.metricsScraper)).status === 200, "200 for the scraper", undefined, logs);
    const ex = await scrape(epki.metricsScraper);
    check(ex.status === 200, "200 for the scraper", ex, logs);
    expect(ex.body).toContain("caddy_http_request_duration_seconds");
    const counts = caddySamples(ex.body, "caddy_http_request_duration_seconds_count");
    const of = (code: string) => counts.filter((s) => s.labels.code === code && s.labels.method === "POST");
    // Measured on Caddy 2.6.2: only each server's top-level handler is instrumented, and a Caddyfile site
    // is one "subroute" handler, so one series per server/code/method and each request counted once.
    expect(of("401").map((s) => [s.labels.handler, s.value])).toEqual([["subroute", 3]]);
    // Every series, the metrics listener's own included, is a site's one top-level handler: sum() counts
    // each request once. (A site-wide directive in the hostless metrics site added a second, "headers".)
    expect(new Set(counts.map((s) => s.labels.handler))).toEqual(new Set(["subroute"]));
    expect(of("429").map((s) => [s.labels.handler, s.value])).toEqual([["subroute", 2]]);
    expect(Object.keys(of("401")[0].labels).sort()).toEqual(["code", "handler", "method", "server"]);
    // The API site's server is not the metrics listener's: the two share no server label.
    const metricsServer = counts.find((s) => s.labels.method === "GET" && s.labels.code === "200")?.labels.server;
    expect({ metricsServer, counts }).toEqual({ metricsServer: expect.any(String), counts });
    expect(of("401")[0].labels.server).not.toBe(metricsServer);
    expect(ex.body).toMatch(/^caddy_http_requests_total\{handler="subroute",server="\w+"\} \d+$/m);
  });

  test("no client certificate, or one from another CA: the handshake is refused", async () => {
    await expect(scrape(undefined)).rejects.toThrow();
    await expect(scrape(epki.foreignClient)).rejects.toThrow();
  });

  test("every other identity of the CA (an operator, the edge itself): 403; other paths: 404, even for the scraper", async () => {
    for (const other of [epki.operator, epki.edgeClient]) {
      const ex = await scrape(other);
      check(ex.status === 403 && !ex.body.includes("caddy_http"), "403 without metrics", ex, logs);
      expect(ex.headers.server).toBeUndefined();
    }
    for (const p of ["/", "/metrics/", "/v1/models", "/debug/pprof/"]) {
      const ex = await scrape(epki.metricsScraper, p);
      check(ex.status === 404, `404 for ${p}`, ex, logs);
    }
  });

  // Found on the engine: Caddy's own catch-all TLS policy on the API port asked for no client certificate
  // and served the metrics certificate (SAN = the edge's Docker name) for that SNI name, so a handshake
  // without a certificate succeeded there and Caddy answered 421. The rendered catch-all site requires one.
  test("the API port with the metrics certificate's name as SNI: no client certificate, no handshake; with one, nothing is served", async () => {
    const asEdgeName = (clientCert?: CertificateFiles) =>
      send({
        port: edge.port,
        path: "/v1/models",
        ca: epki.ca.certPem,
        servername: rendered.chain.edgeName,
        clientCert,
      });
    await expect(asEdgeName(undefined)).rejects.toThrow();
    await expect(asEdgeName(epki.foreignClient)).rejects.toThrow();
    // A certificate of the CA: the handshake may complete, but no site answers (dropped, or refused).
    const withCert = await asEdgeName(epki.operator).then(
      (ex) => `HTTP ${ex.status}`,
      () => "no answer",
    );
    expect(withCert).toMatch(/^(no answer|HTTP 421)$/);
  });

  test("the API port serves no metrics, to anyone", async () => {
    const ex = await send({
      port: edge.port,
      path: "/metrics",
      ca: epki.ca.certPem,
      servername: E2E_DOMAIN,
      clientCert: epki.metricsScraper,
    });
    check(ex.status === 404 || ex.status === 401, "no metrics on the API site", ex, logs);
    expect(ex.body).not.toContain("caddy_http");
  });

  test("Host need not match SNI on the metrics listener alone (Prometheus sends its target address); with the check on, that scrape fails", async () => {
    const hostIsAddress = (port: number) =>
      send({
        port,
        path: "/metrics",
        ca: epki.ca.certPem,
        servername: rendered.chain.edgeName,
        clientCert: epki.metricsScraper,
        headers: { Host: `127.0.0.1:${port}` },
      });
    check((await hostIsAddress(edge.metricsPort!)).status === 200, "200 with Host = the address", undefined, logs);
    // The control: the same edge with the listener's strict_sni_host on refuses exactly that request.
    const strict = await startEdge(base, "edge-strict", {
      rendered: rendered.chain,
      pki: epki,
      sidecarPort: (upstream.address() as { port: number }).port,
      gatePort: gate.port,
      sites: [{ hostname: GRAFANA_HOST, upstream: `${rendered.grafanaName}:${GRAFANA_PROXY_PORT}`, port: 9 }],
      transformCaddyfile: (c) => c.replace("strict_sni_host insecure_off", "strict_sni_host on"),
    });
    try {
      const ex = await hostIsAddress(strict.metricsPort!);
      check(ex.status !== 200 && !ex.body.includes("caddy_http"), "refused: Host differs from SNI", ex, () =>
        strict.process.logs(),
      );
      // ...while the API site keeps the check: a Host other than the SNI name is refused there.
      const api = await send({
        port: edge.port,
        path: API_PATH,
        ca: epki.ca.certPem,
        servername: E2E_DOMAIN,
        clientCert: epki.operator,
        headers: { Host: GRAFANA_HOST },
      });
      check(api.status === 403 || api.status === 421, "the API site still checks Host against SNI", api, logs);
    } finally {
      await strict.process.stop();
    }
  });

  async function scrapeEdgeWith(name: string, identity: CertificateFiles): Promise<RunningPrometheus> {
    const [port] = await freePorts(1);
    const d = path.join(base, name);
    writePrometheusFiles({
      dir: d,
      pki: epki,
      obsPki: eobs,
      scrapeIdentity: identity,
      sidecarTargets: ["127.0.0.1:9"],
      selfTarget: `127.0.0.1:${port}`,
      scrapeIntervalSeconds: 1,
      grafanaPassword: GRAFANA_PASSWORD,
      selfPassword: SELF_PASSWORD,
      rules: rules(),
      // Dialled by loopback address (the Host header), verified by the edge's Docker name (SNI and certificate).
      edge: { address: `127.0.0.1:${edge.metricsPort}`, serverName: rendered.chain.edgeName },
    });
    return startPrometheus(d, port);
  }

  async function query(
    prom: RunningPrometheus,
    q: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const ex = await prom.api(
      `/api/v1/query?query=${encodeURIComponent(q)}`,
      grafanaCredentials(eobs, GRAFANA_PASSWORD),
    );
    if (ex.status !== 200) throw new Error(`query failed: ${ex.status} ${ex.body}`);
    return (JSON.parse(ex.body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } })
      .data.result;
  }

  /** `up{job="edge"}` over `n` scrapes (1 s apart), or until the first 1 when `untilUp`. */
  async function edgeUpValues(prom: RunningPrometheus, n: number, untilUp: boolean): Promise<string[]> {
    const values: string[] = [];
    for (let i = 0; i < 80 && values.length < n; i++) {
      const v = (await query(prom, 'up{job="edge"}'))[0]?.value[1];
      if (v !== undefined && (!untilUp || v === "1")) values.push(v);
      await new Promise((r) => setTimeout(r, untilUp ? 250 : 1000));
    }
    return values;
  }

  test("Prometheus with the scraper certificate: the edge target is up, and the abuse alerts' selectors match what it stored", async () => {
    const prom = await scrapeEdgeWith("prom-edge-ok", epki.metricsScraper);
    try {
      expect(await edgeUpValues(prom, 1, true)).toEqual(["1"]);
      // The alerts' own selectors (lib/alert-rules.ts) find the 401s and 429s the test above caused.
      const auth = await query(prom, 'caddy_http_request_duration_seconds_count{job="edge",code=~"401|403"}');
      expect(auth.map((r) => [r.metric.code, r.metric.handler, r.metric.method]).sort()).toEqual(
        expect.arrayContaining([["401", "subroute", "POST"]]),
      );
      const limited = await query(prom, 'caddy_http_request_duration_seconds_count{job="edge",code="429"}');
      expect(limited.map((r) => r.value[1])).toEqual(["2"]);
    } finally {
      await prom.stop();
    }
  });

  test("Prometheus with another identity (the edge's own certificate): 403, the edge target stays down", async () => {
    const prom = await scrapeEdgeWith("prom-edge-refused", epki.edgeClient);
    try {
      expect(await edgeUpValues(prom, 3, false)).toEqual(["0", "0", "0"]);
      expect(await targetErrorOf(prom, "edge")).toMatch(/403/);
    } finally {
      await prom.stop();
    }
  });

  async function targetErrorOf(prom: RunningPrometheus, job: string): Promise<string> {
    const ex = await prom.api("/api/v1/targets", grafanaCredentials(eobs, GRAFANA_PASSWORD));
    const body = JSON.parse(ex.body) as {
      data: { activeTargets: { labels: Record<string, string>; lastError: string }[] };
    };
    return body.data.activeTargets.find((t) => t.labels.job === job)?.lastError ?? "";
  }
});
