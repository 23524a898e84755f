import { ConfigError, Problems } from "../../lib/errors";
import { ALERTS, DEFAULT_ALERT_THRESHOLDS, renderAlertRules, resolveAlertThresholds } from "../../lib/alert-rules";

function resolve(given: Parameters<typeof resolveAlertThresholds>[1]) {
  const problems = new Problems("test");
  const t = resolveAlertThresholds(problems, given);
  problems.throwIfAny();
  return t;
}

describe("alert thresholds", () => {
  test("defaults fill every field; given ones win", () => {
    expect(resolve({})).toEqual(DEFAULT_ALERT_THRESHOLDS);
    expect(resolve({ kvCacheUsage: 0.8 }).kvCacheUsage).toBe(0.8);
    expect(resolve({ kvCacheUsage: undefined }).kvCacheUsage).toBe(DEFAULT_ALERT_THRESHOLDS.kvCacheUsage);
  });

  test.each([
    ["kvCacheUsage", 90, /alerts\.kvCacheUsage: received 90\. Use a fraction/],
    ["abortRatio", 0, /alerts\.abortRatio/],
    ["latencyFor", "10 minutes", /alerts\.latencyFor: received "10 minutes"\. Use a Prometheus duration/],
    ["replicaDownFor", "0m", /alerts\.replicaDownFor/],
    ["queueWaitingRequests", 2.5, /alerts\.queueWaitingRequests: received 2\.5\. Use a whole number/],
    ["timeToFirstTokenP95Seconds", -1, /alerts\.timeToFirstTokenP95Seconds/],
    ["certificateWarningDays", 0, /alerts\.certificateWarningDays/],
  ])("%s = %p is a ConfigError naming the prop", (key, value, message) => {
    expect(() => resolve({ [key]: value })).toThrow(ConfigError);
    expect(() => resolve({ [key]: value })).toThrow(message);
  });
});

describe("renderAlertRules", () => {
  const base = { thresholds: DEFAULT_ALERT_THRESHOLDS, certificates: [] };

  test("uses vLLM's current metric names, never the removed ones", () => {
    const text = renderAlertRules(base);
    for (const name of [
      "vllm:num_requests_waiting",
      "vllm:kv_cache_usage_perc",
      "vllm:time_to_first_token_seconds_bucket",
      "vllm:inter_token_latency_seconds_bucket",
      "vllm:request_success_total",
    ]) {
      expect(text).toContain(name);
    }
    expect(text).not.toMatch(/gpu_cache_usage_perc|time_per_output_token_seconds/);
  });

  test("thresholds appear in the expressions and durations in for:", () => {
    const text = renderAlertRules({
      ...base,
      thresholds: { ...DEFAULT_ALERT_THRESHOLDS, queueWaitingRequests: 42, queueBacklogFor: "7m" },
    });
    expect(text).toMatch(/vllm:num_requests_waiting\{job=\\"vllm\\"\}\) > 42"\n\s+for: "7m"/);
  });

  test("edge alerts only when the edge is scraped; one certificate alert per watched certificate", () => {
    expect(renderAlertRules(base)).not.toContain(ALERTS.authFailureBurst);
    const text = renderAlertRules({
      ...base,
      edgeMetrics: true,
      certificates: [
        { name: "a", warnAt: "1" },
        { name: "b", warnAt: "2" },
      ],
    });
    expect(text).toContain(ALERTS.authFailureBurst);
    expect(text).toContain(ALERTS.rateLimitBurst);
    expect(text.match(new RegExp(ALERTS.certificateExpiry, "g"))).toHaveLength(2);
    expect(text).toContain('certificate: "b"');
  });
});
