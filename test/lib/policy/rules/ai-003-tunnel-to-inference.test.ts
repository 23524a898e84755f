import { ZeroTrustTunnelCloudflaredConfigA as ZeroTrustTunnelCloudflaredConfig } from "@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformStack } from "cdktf";
import { SecureInference } from "../../../../constructs/secure-inference";
import { ClientCertMode } from "../../../../lib/caddyfile";
import { edgeApiHostnames, tunnelToInference as rule } from "../../../../lib/policy/rules/ai-003-tunnel-to-inference";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

function inference(stack: TerraformStack): SecureInference {
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  const ai = new SecureInference(stack, "ai", {
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
    domain: "ai.example.internal",
    operators: [{ name: "ops" }],
  });
  ai.edge.addSite({
    hostnames: ["chat.example.com"],
    paths: [],
    upstreams: ["chat-ui:8443"],
    upstreamServerName: "chat.zta.internal",
    browser: true,
    clientCertMode: ClientCertMode.REQUIRE_AND_VERIFY,
  });
  return ai;
}

function tunnelTo(stack: TerraformStack, id: string, hostname: string, service: string, hostHeader?: string): void {
  if (!stack.node.tryFindChild("cf")) new CloudflareProvider(stack, "cf", {});
  new ZeroTrustTunnelCloudflaredConfig(stack, id, {
    accountId: "acc",
    tunnelId: "tun",
    config: {
      ingress: [
        { hostname, service, ...(hostHeader ? { originRequest: { httpHostHeader: hostHeader } } : {}) },
        { service: "http_status:404" },
      ],
    },
  });
}

function tunnel(stack: TerraformStack, id: string, services: string[]): void {
  if (!stack.node.tryFindChild("cf")) new CloudflareProvider(stack, "cf", {});
  new ZeroTrustTunnelCloudflaredConfig(stack, id, {
    accountId: "acc",
    tunnelId: "tun",
    config: {
      ingress: [
        ...services.map((service, i) => ({ hostname: `app${i}.example.com`, service })),
        { service: "http_status:404" },
      ],
    },
  });
}

describe("ZTA-AI-003 tunnel pointed at the inference API", () => {
  test("a tunnel to a browser app is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "chat-ui", { name: "chat-ui" });
    compliantContainer(stack, "edge", { name: "ai-edge", labels: [{ label: "zta.role", value: "edge" }] });
    tunnel(stack, "ok", ["http://chat-ui:8080"]);
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a tunnel to the edge, a sidecar alias or vLLM (by name or reference) is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "edge", { name: "ai-edge", labels: [{ label: "zta.role", value: "edge" }] });
    const vllm = compliantContainer(stack, "vllm", {
      name: "ai-vllm-0",
      labels: [{ label: "zta.role", value: "inference" }],
    });
    tunnel(stack, "to-edge", ["https://ai-edge:8443"]);
    tunnel(stack, "to-vllm", [`http://${vllm.name}:8000`]);
    const o = outcomes(rule, stack);
    expect(o["to-edge"].status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o["to-edge"].detail).toContain("ai-edge");
    expect(o["to-vllm"].status).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("through the library's edge: a browser site is compliant, the API site (by hostname or Host header) is not", () => {
    const stack = newStack();
    const ai = inference(stack);
    expect(edgeApiHostnames(ai.edge.caddyfile)).toEqual(["ai.example.internal"]);
    tunnelTo(stack, "browser", "chat.example.com", "https://ai-edge:8443");
    tunnelTo(stack, "api", "ai.example.internal", "https://ai-edge:8443");
    tunnelTo(stack, "api-by-header", "public.example.com", "https://ai-edge:8443", "ai.example.internal");
    tunnelTo(stack, "sidecar", "x.example.com", "https://ai-vllm-0:8443");
    const o = outcomes(rule, stack);
    expect(o.browser.status).toBe(OutcomeStatus.COMPLIANT);
    expect(o.api.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o["api-by-header"].status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.sidecar.status).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
