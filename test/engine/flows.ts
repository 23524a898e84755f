import { publishedPorts } from "../../lib/policy/docker";

/**
 * The allowed flows of each stack, caller -> service:port, in ONE place. The engine suite probes every
 * listed service:port from an attacker on every network and from inside every other container's
 * namespace, and expects a refusal unless the flow is listed here. (Issue 15 derives networks from an
 * explicit trust graph; this table is then to be read from that graph.)
 *
 * "host" is the Docker host through a published 127.0.0.1 port. The sidecar shares vLLM's namespace, so
 * its listener is reached under vLLM's name.
 */
export interface Flow {
  readonly caller: string;
  readonly service: string;
  readonly port: number;
  /** How the caller authenticates. */
  /** How the caller authenticates, in the trust graph's words (constructs/trust-graph.ts Authentication). */
  readonly auth: "mtls" | "mtls+oidc" | "network-only" | "access-jwt";
}

const CORE: Flow[] = [
  { caller: "host", service: "inference-edge", port: 443, auth: "mtls+oidc" },
  { caller: "inference-edge", service: "inference-gate", port: 4443, auth: "network-only" },
  { caller: "inference-edge", service: "inference-vllm-0", port: 8443, auth: "mtls" },
];

/** Observability's flows for a SecureInference named `prefix` (its Observability construct's id "obs" or "observability"). */
export function observabilityFlows(prefix: string, obs: string): Flow[] {
  return [
    // Prometheus -> each sidecar's /metrics, as the metrics-scraper identity.
    { caller: `${prefix}-${obs}-prometheus`, service: `${prefix}-vllm-0`, port: 8443, auth: "mtls" },
    // Prometheus -> the edge's metrics listener (Caddy's HTTP metrics), the same identity only.
    { caller: `${prefix}-${obs}-prometheus`, service: `${prefix}-edge`, port: 9180, auth: "mtls" },
    // The edge -> Grafana's proxy (in Grafana's namespace), the edge's certificate only.
    { caller: `${prefix}-edge`, service: `${prefix}-${obs}-grafana`, port: 8443, auth: "mtls" },
    // Grafana -> Prometheus' API: its client certificate and its password.
    { caller: `${prefix}-${obs}-grafana`, service: `${prefix}-${obs}-prometheus`, port: 9090, auth: "mtls" },
  ];
}

export const ALLOWED_FLOWS: Record<"default" | "homelab" | "team" | "exposure" | "observability", Flow[]> = {
  // The default stack has Observability (id "observability") since its stand-ins exist.
  default: [...CORE, ...observabilityFlows("inference", "observability")],
  homelab: [
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "mtls" },
    { caller: "inference-edge-ts-chat", service: "inference-edge", port: 8443, auth: "mtls" },
    { caller: "inference-edge", service: "inference-vllm-0", port: 8443, auth: "mtls" },
    { caller: "inference-edge", service: "inference-chat", port: 8443, auth: "mtls" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "mtls" },
  ],
  team: [
    ...CORE.filter((f) => f.caller !== "host"),
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "mtls" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "mtls" },
    { caller: "inference-chat-cloudflared", service: "inference-chat", port: 8444, auth: "access-jwt" },
  ],
  // test/engine/exposure-stack.ts: the chat UI both on the edge and through the tunnel, the edge on a tailnet.
  exposure: [
    ...CORE.filter((f) => f.caller !== "host"),
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "mtls" },
    { caller: "inference-edge", service: "inference-chat", port: 8443, auth: "mtls" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "mtls" },
    { caller: "inference-chat-cloudflared", service: "inference-chat", port: 8444, auth: "access-jwt" },
  ],
  // test/engine/observability-stack.ts: SecureInference "obsv" + Observability "obs", on port 9443.
  observability: [
    { caller: "host", service: "obsv-edge", port: 9443, auth: "mtls+oidc" },
    { caller: "obsv-edge", service: "obsv-gate", port: 4443, auth: "network-only" },
    { caller: "obsv-edge", service: "obsv-vllm-0", port: 8443, auth: "mtls" },
    ...observabilityFlows("obsv", "obs"),
  ],
};

/** The network a caller's traffic to the tunnel listener must come from (its source CIDR is admitted). */
export const TUNNEL_ORIGIN_NETWORK = "inference-chat-cloudflared-origin";

/** Whether `caller` may call `service:port` in `stack`. */
export function allowed(stack: keyof typeof ALLOWED_FLOWS, caller: string, service: string, port: number): boolean {
  return ALLOWED_FLOWS[stack].some((f) => f.caller === caller && f.service === service && f.port === port);
}

/**
 * The flows a synthesized stack declares in its `zta.callers` labels (the trust graph), in this table's terms:
 * callers and services by the network namespace they live in, a host caller by the published port. Zones
 * beyond the host (tailnet, Cloudflare) are left out: the table lists what a container or the host can do.
 * test/constructs/trust-graph.test.ts checks that this table (the reviewed expectation) is what the graph says.
 */
export function flowsFromLabels(json: { resource: { docker_container: Record<string, any> } }): Flow[] {
  const containers = Object.entries(json.resource.docker_container);
  const byId = new Map(containers);
  const ownerOf = (c: any): any => {
    const m = /^container:\$\{docker_container\.([^.]+)\.id\}$/.exec(c?.network_mode ?? "");
    return m ? byId.get(m[1]) : c;
  };
  const byName = (name: string) => containers.find(([, c]) => c.name === name)?.[1];
  const flows: Flow[] = [];
  for (const [, c] of containers) {
    const label = (c.labels ?? []).find((l: { label: string }) => l.label === "zta.callers");
    if (!label) continue;
    const owner = ownerOf(c);
    for (const e of JSON.parse(label.value) as { caller: string; port: number; auth: Flow["auth"] }[]) {
      if (e.caller === "tailnet" || e.caller === "cloudflare") continue;
      if (e.caller === "host") {
        // publishedPorts: Lockdown turns the edge's `ports` into a `dynamic "ports"` block.
        const published = publishedPorts(owner).find((p: any) => p?.internal === e.port) as { external?: number } | undefined;
        flows.push({ caller: "host", service: owner.name, port: published?.external ?? e.port, auth: e.auth });
      } else {
        flows.push({ caller: ownerOf(byName(e.caller)).name, service: owner.name, port: e.port, auth: e.auth });
      }
    }
  }
  return flows;
}

/** The network the trust graph gives a caller/service pair (both by namespace owner). */
export function pairNetwork(caller: string, service: string): string {
  return `${caller}-to-${service}`;
}
