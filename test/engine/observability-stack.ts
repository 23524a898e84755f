/**
 * The observability stack of the engine suite: SecureInference + Observability (Prometheus, its alert
 * rules, Grafana and Grafana's proxy), under its own name prefix and host port so its Docker names never
 * collide with the default stack's.
 */
import { TerraformStack } from "cdktf";
import { Observability, SecureInference } from "../../index";
import { inferenceProps, stackWithProviders } from "../helpers";

export const OBS_PREFIX = "obsv";
export const OBS_HOST_PORT = 9443;
export const GRAFANA_HOSTNAME = "grafana.example.internal";

export function observabilityStack(): TerraformStack {
  const stack = stackWithProviders("observability");
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, { namePrefix: OBS_PREFIX, metricsScraper: true, hostPort: OBS_HOST_PORT }));
  // A short scrape interval: the test waits for the first scrapes.
  new Observability(stack, "obs", { inference: ai, grafanaHostname: GRAFANA_HOSTNAME, grafanaAdminEmail: "devops@example.com", scrapeIntervalSeconds: 5 });
  return stack;
}
