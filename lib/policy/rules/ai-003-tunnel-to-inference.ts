import { hostnamesOf, isInferenceContainer, list, record, roleOf, str } from "../docker";
import { PolicyRule, ResourceView, RuleSeverity, StackView, compliant, nonCompliant, notApplicable } from "../types";
import { OWASP_LLM } from "./common";

/** Roles whose listeners serve the inference API. */
const API_ROLES = ["inference", "edge", "mtls-sidecar"];

function apiContainers(stack: StackView): ResourceView[] {
  return stack.ofType("docker_container").filter((c) => API_ROLES.includes(roleOf(c) ?? "") || isInferenceContainer(c, stack));
}

/** The host part of a cloudflared ingress `service` (`https://host:port`, `tcp://host:port`). */
function serviceHost(service: string): string | undefined {
  const m = /^[a-z0-9+.-]+:\/\/(\[[^\]]+\]|[^/:]+)/i.exec(service);
  return m ? m[1] : undefined;
}

export const tunnelToInference: PolicyRule = {
  meta: {
    id: "ZTA-AI-003",
    title: "Cloudflare tunnel pointed at the inference API",
    explanation:
      "A tunnel publishes its target on the internet behind Cloudflare's edge, which closes idle responses after about 100 s (long generations break) and sees every prompt and completion in clear text. Tunnels are for browser apps; API clients should come over a tailnet or mTLS. Checks `cloudflare_zero_trust_tunnel_cloudflared_config` ingress services against the names and aliases of containers labelled zta.role inference, edge or mtls-sidecar (or running a vLLM image).",
    fix: "Point the tunnel at a browser app instead, or reach the API over a tailnet. If exposing the API through Cloudflare is intended, suppress this rule on the tunnel config with the reason (the opt-in is recorded in the report).",
    severity: RuleSeverity.HIGH,
    references: [OWASP_LLM("LLM02", "Sensitive Information Disclosure"), OWASP_LLM("LLM10", "Unbounded Consumption")],
    resourceTypes: ["cloudflare_zero_trust_tunnel_cloudflared_config"],
  },
  check(tunnel, stack) {
    const ingress = list(record(tunnel.config.config).ingress).map(record);
    if (ingress.length === 0) return notApplicable("no ingress rules");
    const targets = new Map<string, string>();
    for (const c of apiContainers(stack)) {
      for (const name of hostnamesOf(c)) targets.set(name, c.path);
    }
    const hits: string[] = [];
    for (const rule of ingress) {
      const service = str(rule.service) ?? "";
      let host = serviceHost(service);
      const referenced = host ? stack.referenced(host) : undefined;
      if (referenced?.type === "docker_container") host = str(referenced.config.name);
      if (host && targets.has(host)) hits.push(`${str(rule.hostname) ?? "(any hostname)"} -> ${service} (${targets.get(host)})`);
    }
    return hits.length ? nonCompliant(`ingress reaches the inference API: ${hits.join("; ")}`) : compliant();
  },
};
