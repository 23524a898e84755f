import { ZeroTrustTunnelCloudflaredConfigA as ZeroTrustTunnelCloudflaredConfig } from "@cdktf/provider-cloudflare/lib/zero-trust-tunnel-cloudflared-config";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { TerraformStack } from "cdktf";
import { tunnelToInference as rule } from "../../../../lib/policy/rules/ai-003-tunnel-to-inference";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

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
    const vllm = compliantContainer(stack, "vllm", { name: "ai-vllm-0", labels: [{ label: "zta.role", value: "inference" }] });
    tunnel(stack, "to-edge", ["https://ai-edge:8443"]);
    tunnel(stack, "to-vllm", [`http://${vllm.name}:8000`]);
    const o = outcomes(rule, stack);
    expect(o["to-edge"].status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o["to-edge"].detail).toContain("ai-edge");
    expect(o["to-vllm"].status).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
