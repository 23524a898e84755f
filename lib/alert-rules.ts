/**
 * Prometheus alert rules for an inference service, with thresholds as props. Pure renderer: the
 * Observability construct and the promtool unit tests (test/e2e/observability.e2e.test.ts) use it
 * the same way, so every alert is shown to fire at the right time and not before its `for:`.
 *
 * Metric names are vLLM's V1 engine names (docs/design/metrics.md in the vLLM repository):
 * `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` (replaced `vllm:gpu_cache_usage_perc`,
 * which is gone), `vllm:time_to_first_token_seconds`, `vllm:inter_token_latency_seconds` (added in
 * 0.11, replacing `vllm:time_per_output_token_seconds`, removed in 0.13), `vllm:request_success_total`
 * with `finished_reason`, and the HTTP middleware's `http_requests_total{status="5xx"}`. They fit
 * vLLM 0.11 and later (the catalog pins v0.11.0).
 */
import { Problems } from "./errors";
import { toYaml } from "./yaml";

/** Thresholds of the alert rules. Every field is optional; the defaults suit a small GPU deployment. */
export interface AlertThresholds {
  /** How long a replica's scrape must fail (sidecar or vLLM down) before it alerts. @default "2m" */
  readonly replicaDownFor?: string;
  /** Requests waiting in a replica's queue (`vllm:num_requests_waiting`) above which it alerts. @default 10 */
  readonly queueWaitingRequests?: number;
  /** @default "5m" */
  readonly queueBacklogFor?: string;
  /** KV cache usage as a fraction 0..1 (`vllm:kv_cache_usage_perc`) above which it alerts. @default 0.9 */
  readonly kvCacheUsage?: number;
  /** @default "10m" */
  readonly kvCacheFor?: string;
  /** Time to first token, p95 over 5 minutes, in seconds. @default 2 */
  readonly timeToFirstTokenP95Seconds?: number;
  /** Inter-token latency, p95 over 5 minutes, in seconds. @default 0.2 */
  readonly interTokenLatencyP95Seconds?: number;
  /** How long a latency p95 must stay above its threshold. @default "10m" */
  readonly latencyFor?: string;
  /** Share of finished requests that were aborted (0..1) over 5 minutes. @default 0.05 */
  readonly abortRatio?: number;
  /** Share of vLLM's HTTP responses that were 5xx (0..1) over 5 minutes. @default 0.02 */
  readonly serverErrorRatio?: number;
  /** How long an error ratio must stay above its threshold. @default "10m" */
  readonly errorRatioFor?: string;
  /** 401/403 answers per minute at the edge (guessing, stolen or expired credentials). @default 30 */
  readonly authFailuresPerMinute?: number;
  /** 429 answers per minute (rate limits hit: abuse or a runaway client). @default 60 */
  readonly rateLimitedPerMinute?: number;
  /** How long an abuse rate must last. @default "5m" */
  readonly abuseFor?: string;
  /** Alert this many days before a certificate of the internal CA expires (nobody ran a plan inside its renewal window). @default 7 */
  readonly certificateWarningDays?: number;
}

/** Every threshold, resolved. */
export type ResolvedAlertThresholds = Required<AlertThresholds>;

export const DEFAULT_ALERT_THRESHOLDS: ResolvedAlertThresholds = {
  replicaDownFor: "2m",
  queueWaitingRequests: 10,
  queueBacklogFor: "5m",
  kvCacheUsage: 0.9,
  kvCacheFor: "10m",
  timeToFirstTokenP95Seconds: 2,
  interTokenLatencyP95Seconds: 0.2,
  latencyFor: "10m",
  abortRatio: 0.05,
  serverErrorRatio: 0.02,
  errorRatioFor: "10m",
  authFailuresPerMinute: 30,
  rateLimitedPerMinute: 60,
  abuseFor: "5m",
  certificateWarningDays: 7,
};

const DURATION = /^[1-9][0-9]*[smh]$/;

/** Fills in defaults and reports every bad threshold (prop path `alerts.<name>`). */
export function resolveAlertThresholds(problems: Problems, given: AlertThresholds = {}): ResolvedAlertThresholds {
  const t: ResolvedAlertThresholds = { ...DEFAULT_ALERT_THRESHOLDS, ...stripUndefined(given) };
  for (const key of [
    "replicaDownFor",
    "queueBacklogFor",
    "kvCacheFor",
    "latencyFor",
    "errorRatioFor",
    "abuseFor",
  ] as const) {
    problems.check(
      DURATION.test(t[key]),
      `alerts.${key}`,
      t[key],
      'Use a Prometheus duration in whole seconds, minutes or hours, e.g. "5m".',
    );
  }
  for (const key of ["kvCacheUsage", "abortRatio", "serverErrorRatio"] as const) {
    problems.check(
      t[key] > 0 && t[key] < 1,
      `alerts.${key}`,
      t[key],
      "Use a fraction between 0 and 1 (exclusive), e.g. 0.9.",
    );
  }
  for (const key of [
    "timeToFirstTokenP95Seconds",
    "interTokenLatencyP95Seconds",
    "authFailuresPerMinute",
    "rateLimitedPerMinute",
  ] as const) {
    problems.check(Number.isFinite(t[key]) && t[key] > 0, `alerts.${key}`, t[key], "Use a number above 0.");
  }
  for (const key of ["queueWaitingRequests", "certificateWarningDays"] as const) {
    problems.check(Number.isInteger(t[key]) && t[key] > 0, `alerts.${key}`, t[key], "Use a whole number above 0.");
  }
  return t;
}

function stripUndefined(o: AlertThresholds): AlertThresholds {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as AlertThresholds;
}

/** A certificate whose expiry is watched. */
export interface WatchedCertificate {
  /** Shown in the alert's `certificate` label, e.g. the construct path of the certificate. */
  readonly name: string;
  /**
   * When to start warning, as the number YYYYMMDDhhmm in UTC (e.g. 202612241200), or a Terraform
   * expression resolving to one (`formatdate("YYYYMMDDhhmm", timeadd(validity_end_time, "-168h"))`).
   */
  readonly warnAt: string;
}

export interface AlertRulesOptions {
  readonly thresholds: ResolvedAlertThresholds;
  readonly certificates: WatchedCertificate[];
  /**
   * The edge's HTTP metrics are scraped (job "edge", Caddy's `caddy_http_request_duration_seconds`
   * with its `code` label): adds the 401/403 and 429 burst alerts. @default false
   */
  readonly edgeMetrics?: boolean;
}

/** Alert names, for tests and docs. */
export const ALERTS = {
  replicaDown: "VllmReplicaDown",
  queueBacklog: "VllmQueueBacklog",
  kvCacheSaturated: "VllmKvCacheSaturated",
  timeToFirstTokenHigh: "VllmTimeToFirstTokenP95High",
  interTokenLatencyHigh: "VllmInterTokenLatencyP95High",
  abortRatioHigh: "VllmRequestAbortRatioHigh",
  serverErrorRatioHigh: "VllmServerErrorRatioHigh",
  authFailureBurst: "EdgeAuthFailureBurst",
  rateLimitBurst: "RateLimitBurst",
  certificateExpiry: "CertificateExpirySoon",
} as const;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function p95(metric: string): string {
  return `histogram_quantile(0.95, sum by (instance, le) (rate(${metric}_bucket{job="vllm"}[5m])))`;
}

/** `now` as the number YYYYMMDDhhmm (UTC), from PromQL's date functions (they default to time()). */
const NOW_AS_YYYYMMDDHHMM =
  "(year() * 100000000 + month() * 1000000 + day_of_month() * 10000 + hour() * 100 + minute())";

export function renderAlertRules(o: AlertRulesOptions): string {
  const t = o.thresholds;
  const vllm: Rule[] = [
    {
      alert: ALERTS.replicaDown,
      expr: `up{job="vllm"} == 0`,
      for: t.replicaDownFor,
      labels: { severity: "critical" },
      annotations: {
        summary: "vLLM replica {{ $labels.instance }} cannot be scraped",
        description: `The sidecar or vLLM behind it has not answered /metrics for ${t.replicaDownFor}: the replica is down, or the scraper's certificate is refused.`,
      },
    },
    {
      alert: ALERTS.queueBacklog,
      expr: `max by (instance) (vllm:num_requests_waiting{job="vllm"}) > ${t.queueWaitingRequests}`,
      for: t.queueBacklogFor,
      labels: { severity: "warning" },
      annotations: {
        summary: "Requests are queueing on {{ $labels.instance }}",
        description: `More than ${t.queueWaitingRequests} requests have waited for a slot for ${t.queueBacklogFor}: add replicas or lower per-identity concurrency.`,
      },
    },
    {
      alert: ALERTS.kvCacheSaturated,
      expr: `max by (instance) (vllm:kv_cache_usage_perc{job="vllm"}) > ${t.kvCacheUsage}`,
      for: t.kvCacheFor,
      labels: { severity: "warning" },
      annotations: {
        summary: "KV cache nearly full on {{ $labels.instance }}",
        description: `KV cache usage above ${t.kvCacheUsage * 100}% for ${t.kvCacheFor}: requests are preempted and recomputed; lower max-model-len or add capacity.`,
      },
    },
    {
      alert: ALERTS.timeToFirstTokenHigh,
      expr: `${p95("vllm:time_to_first_token_seconds")} > ${t.timeToFirstTokenP95Seconds}`,
      for: t.latencyFor,
      labels: { severity: "warning" },
      annotations: {
        summary: "Slow first tokens on {{ $labels.instance }}",
        description: `Time to first token p95 above ${t.timeToFirstTokenP95Seconds}s for ${t.latencyFor}.`,
      },
    },
    {
      alert: ALERTS.interTokenLatencyHigh,
      expr: `${p95("vllm:inter_token_latency_seconds")} > ${t.interTokenLatencyP95Seconds}`,
      for: t.latencyFor,
      labels: { severity: "warning" },
      annotations: {
        summary: "Slow token streams on {{ $labels.instance }}",
        description: `Inter-token latency p95 above ${t.interTokenLatencyP95Seconds}s for ${t.latencyFor}.`,
      },
    },
    {
      alert: ALERTS.abortRatioHigh,
      expr:
        `sum by (instance) (rate(vllm:request_success_total{job="vllm",finished_reason="abort"}[5m]))` +
        ` / sum by (instance) (rate(vllm:request_success_total{job="vllm"}[5m])) > ${t.abortRatio}`,
      for: t.errorRatioFor,
      labels: { severity: "warning" },
      annotations: {
        summary: "Many aborted requests on {{ $labels.instance }}",
        description: `More than ${t.abortRatio * 100}% of finished requests were aborted for ${t.errorRatioFor}: clients give up (timeouts) or the engine drops them.`,
      },
    },
    {
      alert: ALERTS.serverErrorRatioHigh,
      expr:
        `sum by (instance) (rate(http_requests_total{job="vllm",status="5xx"}[5m]))` +
        ` / sum by (instance) (rate(http_requests_total{job="vllm"}[5m])) > ${t.serverErrorRatio}`,
      for: t.errorRatioFor,
      labels: { severity: "critical" },
      annotations: {
        summary: "vLLM answers 5xx on {{ $labels.instance }}",
        description: `More than ${t.serverErrorRatio * 100}% of vLLM's HTTP responses were 5xx for ${t.errorRatioFor}.`,
      },
    },
  ];
  const abuse: Rule[] = o.edgeMetrics
    ? [
        {
          alert: ALERTS.authFailureBurst,
          expr: `sum(rate(caddy_http_request_duration_seconds_count{job="edge",code=~"401|403"}[5m])) * 60 > ${t.authFailuresPerMinute}`,
          for: t.abuseFor,
          labels: { severity: "warning" },
          annotations: {
            summary: "Burst of refused sign-ins at the edge",
            description: `More than ${t.authFailuresPerMinute} answers 401/403 per minute for ${t.abuseFor}: credential guessing or a client with an expired token.`,
          },
        },
        {
          alert: ALERTS.rateLimitBurst,
          expr: `sum(rate(caddy_http_request_duration_seconds_count{job="edge",code="429"}[5m])) * 60 > ${t.rateLimitedPerMinute}`,
          for: t.abuseFor,
          labels: { severity: "warning" },
          annotations: {
            summary: "Burst of rate-limited requests",
            description: `More than ${t.rateLimitedPerMinute} answers 429 per minute for ${t.abuseFor} (the sidecars' per-identity limits): abuse or a runaway client.`,
          },
        },
      ]
    : [];
  const certificates: Rule[] = o.certificates.map((c) => ({
    alert: ALERTS.certificateExpiry,
    expr: `${NOW_AS_YYYYMMDDHHMM} >= ${c.warnAt}`,
    labels: { severity: "warning", certificate: c.name },
    annotations: {
      summary: `Certificate ${c.name} expires within ${t.certificateWarningDays} days`,
      description:
        "Run terraform plan/apply: leaf certificates are re-issued by any plan inside their early-renewal window, and this one was not.",
    },
  }));
  const groups = [
    { name: "zta-vllm", rules: vllm },
    ...(abuse.length > 0 ? [{ name: "zta-abuse", rules: abuse }] : []),
    ...(certificates.length > 0 ? [{ name: "zta-certificates", rules: certificates }] : []),
  ];
  return toYaml({ groups }, [
    "Rendered by cdktf-zero-trust-ai (Observability). Thresholds are the construct's `alerts` props.",
  ]);
}
