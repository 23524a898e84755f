import { ServiceRole } from "../../identities";
import { filesInMountedVolumes, isInferenceContainer, list, roleOf } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { OWASP_LLM } from "./common";

/** The body of `location <match> { ... }` (one nesting level of braces inside). */
function locationBody(config: string, match: RegExp): string | undefined {
  const m = new RegExp(`location\\s+${match.source}\\s*\\{((?:[^{}]|\\{[^{}]*\\})*)\\}`).exec(config);
  return m ? m[1] : undefined;
}

/** What is wrong with a sidecar's nginx.conf regarding /metrics, or [] when it is guarded. */
export function metricsProblems(nginxConf: string): string[] {
  const problems: string[] = [];
  if (!/ssl_verify_client\s+on\s*;/.test(nginxConf))
    problems.push("the listener does not require a client certificate (ssl_verify_client on)");
  const metrics = locationBody(nginxConf, /=\s*\/metrics/);
  const guarded = (body: string) =>
    /if\s*\([^)]*\)\s*\{\s*return\s+40[134]/.test(body) || /deny\s+all\s*;/.test(body) || /auth_request\s/.test(body);
  if (metrics === undefined) {
    const catchAll = locationBody(nginxConf, /\//);
    if (catchAll !== undefined && /proxy_pass/.test(catchAll))
      problems.push("`location /` proxies every path, /metrics included");
  } else if (/proxy_pass/.test(metrics) && !guarded(metrics)) {
    problems.push("`location = /metrics` proxies without an identity check");
  }
  return problems;
}

export const metricsUnauthenticated: PolicyRule = {
  meta: {
    id: "ZTA-AI-002",
    title: "Metrics route reachable without authentication",
    explanation:
      "vLLM serves Prometheus /metrics without checking its API key: request counts, token throughput, model names and queue depth leak to anyone who reaches it. The mTLS sidecar must require a client certificate and allow /metrics only for the scraper identity; a vLLM container that publishes a port serves it to anyone.",
    fix: "Reach vLLM only through MtlsSidecar (it answers /metrics to the metrics-scraper certificate only, 404 otherwise); publish no vLLM port.",
    severity: RuleSeverity.HIGH,
    references: [
      OWASP_LLM("LLM02", "Sensitive Information Disclosure"),
      "vLLM documentation: OpenAI-compatible server, --api-key covers /v1 only",
    ],
    resourceTypes: ["docker_container"],
  },
  check(c, stack) {
    if (roleOf(c) === ServiceRole.SIDECAR) {
      const conf = filesInMountedVolumes(c, stack).find((f) => f.name.endsWith("nginx.conf"));
      if (!conf) return nonCompliant("the sidecar's nginx.conf is not among the files uploaded to its volumes");
      const problems = metricsProblems(conf.content);
      return problems.length ? nonCompliant(problems.join("; ")) : compliant();
    }
    if (isInferenceContainer(c, stack)) {
      return list(c.config.ports).length > 0
        ? nonCompliant("the inference container publishes a port: /metrics is open on it")
        : compliant();
    }
    return notApplicable("neither an inference container nor an mTLS sidecar");
  },
};
