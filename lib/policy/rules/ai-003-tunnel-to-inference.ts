import { ServiceRole } from "../../identities";
import { filesInMountedVolumes, hostnamesOf, isInferenceContainer, list, record, roleOf, str } from "../docker";
import { PolicyRule, ResourceView, RuleSeverity, StackView, compliant, nonCompliant, notApplicable } from "../types";
import { OWASP_LLM } from "./common";

/** Roles whose listeners serve the inference API. */
const API_ROLES: readonly string[] = [ServiceRole.INFERENCE, ServiceRole.EDGE, ServiceRole.SIDECAR];

function apiContainers(stack: StackView): ResourceView[] {
  return stack
    .ofType("docker_container")
    .filter((c) => API_ROLES.includes(roleOf(c) ?? "") || isInferenceContainer(c, stack));
}

/**
 * Hostnames of the edge's Caddyfile sites that route OpenAI API paths (`/v1/...`), read from the
 * config the edge mounts; undefined when the edge has no Caddyfile the policy can read.
 */
export function edgeApiHostnames(caddyfile: string): string[] {
  const hostnames: string[] = [];
  let addresses: string[] | undefined;
  let body = "";
  for (const line of caddyfile.split("\n")) {
    if (addresses === undefined) {
      const m = /^(https?:\/\/\S+(?:,\s*https?:\/\/\S+)*)\s*\{\s*$/.exec(line);
      if (m) {
        addresses = m[1].split(",").map((a) =>
          a
            .trim()
            .replace(/^https?:\/\//, "")
            .replace(/:\d+$/, ""),
        );
        body = "";
      }
    } else if (line === "}") {
      if (/\bpath\b[^\n]*\s\/v1\//.test(body)) hostnames.push(...addresses);
      addresses = undefined;
    } else {
      body += `${line}\n`;
    }
  }
  return hostnames;
}

function apiHostnamesOf(edge: ResourceView, stack: StackView): string[] | undefined {
  const caddyfile = filesInMountedVolumes(edge, stack).find((f) => f.name === "Caddyfile");
  return caddyfile ? edgeApiHostnames(caddyfile.content) : undefined;
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
      "A tunnel publishes its target on the internet behind Cloudflare's edge, which closes idle responses after about 100 s (long generations break) and sees every prompt and completion in clear text. Tunnels are for browser apps; API clients should come over a tailnet or mTLS. Checks `cloudflare_zero_trust_tunnel_cloudflared_config` ingress services against the names and aliases of containers labelled zta.role inference or mtls-sidecar (or running a vLLM image), and of the edge when the site the tunnel reaches (its Host header) is one of the edge's API sites (a Caddyfile site routing /v1/ paths), or cannot be told.",
    fix: "Point the tunnel at a browser app instead, or reach the API over a tailnet. If exposing the API through Cloudflare is intended, suppress this rule on the tunnel config with the reason (the opt-in is recorded in the report).",
    severity: RuleSeverity.HIGH,
    references: [OWASP_LLM("LLM02", "Sensitive Information Disclosure"), OWASP_LLM("LLM10", "Unbounded Consumption")],
    resourceTypes: ["cloudflare_zero_trust_tunnel_cloudflared_config"],
  },
  check(tunnel, stack) {
    const ingress = list(record(tunnel.config.config).ingress).map(record);
    if (ingress.length === 0) return notApplicable("no ingress rules");
    const targets = new Map<string, ResourceView>();
    for (const c of apiContainers(stack)) {
      for (const name of hostnamesOf(c)) targets.set(name, c);
    }
    const hits: string[] = [];
    for (const rule of ingress) {
      const service = str(rule.service) ?? "";
      let host = serviceHost(service);
      const referenced = host ? stack.referenced(host) : undefined;
      if (referenced?.type === "docker_container") host = str(referenced.config.name);
      const target = host ? targets.get(host) : undefined;
      if (!target) continue;
      const hostname = str(rule.hostname);
      if (roleOf(target) === ServiceRole.EDGE) {
        // The edge serves browser apps too: the site cloudflared reaches is chosen by the Host
        // header it sends (origin_request.http_host_header, else the ingress hostname).
        const siteHost = str(record(rule.origin_request).http_host_header) ?? hostname;
        const api = apiHostnamesOf(target, stack);
        if (siteHost !== undefined && api !== undefined && !api.includes(siteHost)) continue;
      }
      hits.push(`${hostname ?? "(any hostname)"} -> ${service} (${target.path})`);
    }
    return hits.length ? nonCompliant(`ingress reaches the inference API: ${hits.join("; ")}`) : compliant();
  },
};
