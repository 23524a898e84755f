/**
 * A synthesized stack in the shape cdk.tf.json has, carrying the trust graph's labels (zta.callers,
 * zta.identity, zta.trust) the way the lead's trust graph will write them. Built by hand so each test
 * can change one thing; values are Terraform references where the library writes references.
 */
import { TrustDiagramReport } from "../../lib/trust-diagram";

export interface FixtureCaller {
  caller: string;
  port: number;
  auth: string;
  identity?: string;
}

export interface FixtureOptions {
  /** The edge's published address. @default "127.0.0.1" */
  edgeIp?: string | null;
  /** Leave every zta.callers label out (today's JSON). */
  withoutCallers?: boolean;
  /** Replace the gate's zta.callers value. */
  gateCallers?: string;
}

const label = (l: string, value: string) => ({ label: l, value });
const callers = (entries: FixtureCaller[]) => label("zta.callers", JSON.stringify(entries));

export function fixtureStack(options: FixtureOptions = {}): Record<string, any> {
  const c = (o: FixtureOptions, entries: FixtureCaller[]) => (o.withoutCallers ? [] : [callers(entries)]);
  const edgePort: Record<string, unknown> = { external: 443, internal: 8443, protocol: "tcp" };
  if (options.edgeIp !== null) edgePort.ip = options.edgeIp ?? "127.0.0.1";
  return {
    resource: {
      docker_network: {
        edge_net: { name: "fx-edge-net", internal: false, labels: [label("zta.trust", "host -> edge")] },
        internal_net: { name: "fx-internal", internal: true, labels: [label("zta.trust", "edge -> inference")] },
        gate_net: { name: "fx-gate-net", internal: true, labels: [label("zta.trust", "edge -> gate")] },
        egress_net: { name: "fx-egress", internal: false },
      },
      docker_image: { caddy: { name: "caddy@sha256:" + "a".repeat(64) } },
      docker_container: {
        edge_loader: {
          name: "fx-edge-config-loader",
          network_mode: "none",
          start: false,
          must_run: false,
          labels: [label("zta.role", "config-loader")],
        },
        edge: {
          name: "fx-edge",
          image: "${docker_image.caddy.image_id}",
          ports: [edgePort],
          networks_advanced: [
            { name: "${docker_network.edge_net.name}" },
            { name: "${docker_network.internal_net.name}", aliases: ["fx-edge"] },
            { name: "${docker_network.gate_net.name}" },
          ],
          labels: [
            label("zta.role", "edge"),
            label("zta.identity", "zta-edge"),
            label("zta.config-sha256", "${sha256(jsonencode(docker_container.edge_loader.upload))}"),
            ...c(options, [
              { caller: "host", port: 8443, auth: "mtls+oidc" },
              { caller: "tailnet", port: 8443, auth: "tailnet" },
            ]),
          ],
        },
        gate: {
          name: "fx-gate",
          networks_advanced: [
            { name: "${docker_network.gate_net.name}" },
            { name: "${docker_network.egress_net.name}" },
          ],
          labels: [
            label("zta.role", "oidc-gate"),
            ...(options.gateCallers !== undefined
              ? [label("zta.callers", options.gateCallers)]
              : c(options, [
                  { caller: "${docker_container.edge.name}", port: 4180, auth: "mtls", identity: "zta-edge" },
                ])),
          ],
        },
        vllm: {
          name: "fx-vllm",
          networks_advanced: [{ name: "${docker_network.internal_net.name}" }],
          labels: [
            label("zta.role", "inference"),
            ...c(options, [{ caller: "fx-vllm-mtls", port: 8000, auth: "loopback" }]),
          ],
        },
        sidecar: {
          name: "fx-vllm-mtls",
          network_mode: "container:${docker_container.vllm.id}",
          labels: [
            label("zta.role", "mtls-sidecar"),
            ...c(options, [{ caller: "fx-edge", port: 8443, auth: "mtls", identity: "zta-edge" }]),
          ],
        },
        tailscale: {
          name: "fx-ts",
          env: ["TS_HOSTNAME=ai"],
          networks_advanced: [{ name: "${docker_network.edge_net.name}" }],
          labels: [label("zta.role", "tailscale")],
        },
        chat: {
          name: "fx-chat",
          networks_advanced: [{ name: "${docker_network.egress_net.name}" }],
          labels: [
            label("zta.role", "chat-ui"),
            ...c(options, [{ caller: "cloudflare", port: 8444, auth: "access-jwt" }]),
          ],
        },
      },
      tailscale_tailnet_key: { key: { tags: ["tag:ai"] } },
      cloudflare_dns_record: { dns: { name: "chat.example.com", type: "CNAME" } },
    },
  };
}

/** Every container the fixture draws as a node (its loader is folded into fx-edge). */
export const FIXTURE_CONTAINERS = ["fx-edge", "fx-gate", "fx-vllm", "fx-vllm-mtls", "fx-ts", "fx-chat"];
export const FIXTURE_NETWORKS = ["fx-edge-net", "fx-internal", "fx-gate-net", "fx-egress"];
/** The flows of the fixture's zta.callers labels: [from node, to node, auth, port]. */
export const FIXTURE_FLOWS: Array<[string, string, string, number]> = [
  ["z:host", "c:fx-edge", "mtls+oidc", 8443],
  ["z:tailnet", "c:fx-edge", "tailnet", 8443],
  ["c:fx-edge", "c:fx-gate", "mtls", 4180],
  ["c:fx-vllm-mtls", "c:fx-vllm", "loopback", 8000],
  ["c:fx-edge", "c:fx-vllm-mtls", "mtls", 8443],
  ["z:cloudflare", "c:fx-chat", "access-jwt", 8444],
];

/** A report with one open finding on the edge and one suppressed on vLLM. */
export function fixtureReport(): TrustDiagramReport {
  return {
    findings: [
      {
        ruleId: "ZTA-CTR-001",
        title: "Port published on every host interface",
        level: "error",
        status: "open",
        resource: "docker_container.edge",
      },
      {
        ruleId: "ZTA-CTR-011",
        title: "Runs as root",
        level: "error",
        status: "suppressed",
        resource: "docker_container.vllm",
      },
    ],
  };
}
