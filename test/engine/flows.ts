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
  readonly auth: "client-cert" | "client-cert+oidc" | "none";
}

const CORE: Flow[] = [
  { caller: "host", service: "inference-edge", port: 443, auth: "client-cert+oidc" },
  { caller: "inference-edge", service: "inference-gate", port: 4443, auth: "none" },
  { caller: "inference-edge", service: "inference-vllm-0", port: 8443, auth: "client-cert" },
];

/** Observability's flows for a SecureInference named `prefix` (its Observability construct's id "obs" or "observability"). */
export function observabilityFlows(prefix: string, obs: string): Flow[] {
  return [
    // Prometheus -> each sidecar's /metrics, as the metrics-scraper identity.
    { caller: `${prefix}-${obs}-prometheus`, service: `${prefix}-vllm-0`, port: 8443, auth: "client-cert" },
    // The edge -> Grafana's proxy (in Grafana's namespace), the edge's certificate only.
    { caller: `${prefix}-edge`, service: `${prefix}-${obs}-grafana`, port: 8443, auth: "client-cert" },
    // Grafana -> Prometheus' API: its client certificate and its password.
    { caller: `${prefix}-${obs}-grafana`, service: `${prefix}-${obs}-prometheus`, port: 9090, auth: "client-cert" },
  ];
}

export const ALLOWED_FLOWS: Record<"default" | "homelab" | "team" | "exposure" | "observability", Flow[]> = {
  // The default stack has Observability (id "observability") since its stand-ins exist.
  default: [...CORE, ...observabilityFlows("inference", "observability")],
  homelab: [
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "client-cert" },
    { caller: "inference-edge-ts-chat", service: "inference-edge", port: 8443, auth: "client-cert" },
    { caller: "inference-edge", service: "inference-vllm-0", port: 8443, auth: "client-cert" },
    { caller: "inference-edge", service: "inference-chat", port: 8443, auth: "client-cert" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "client-cert" },
  ],
  team: [
    ...CORE.filter((f) => f.caller !== "host"),
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "client-cert" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "client-cert" },
    { caller: "inference-chat-cloudflared", service: "inference-chat", port: 8444, auth: "none" },
  ],
  // test/engine/exposure-stack.ts: the chat UI both on the edge and through the tunnel, the edge on a tailnet.
  exposure: [
    ...CORE.filter((f) => f.caller !== "host"),
    { caller: "inference-edge-ts-ai", service: "inference-edge", port: 8443, auth: "client-cert" },
    { caller: "inference-edge", service: "inference-chat", port: 8443, auth: "client-cert" },
    { caller: "inference-chat", service: "inference-vllm-0", port: 8443, auth: "client-cert" },
    { caller: "inference-chat-cloudflared", service: "inference-chat", port: 8444, auth: "none" },
  ],
  // test/engine/observability-stack.ts: SecureInference "obsv" + Observability "obs", on port 9443.
  observability: [
    { caller: "host", service: "obsv-edge", port: 9443, auth: "client-cert+oidc" },
    { caller: "obsv-edge", service: "obsv-gate", port: 4443, auth: "none" },
    { caller: "obsv-edge", service: "obsv-vllm-0", port: 8443, auth: "client-cert" },
    ...observabilityFlows("obsv", "obs"),
  ],
};

/** The network a caller's traffic to the tunnel listener must come from (its source CIDR is admitted). */
export const TUNNEL_ORIGIN_NETWORK = "inference-chat-cloudflared-origin";

/** Whether `caller` may call `service:port` in `stack`. */
export function allowed(stack: keyof typeof ALLOWED_FLOWS, caller: string, service: string, port: number): boolean {
  return ALLOWED_FLOWS[stack].some((f) => f.caller === caller && f.service === service && f.port === port);
}
