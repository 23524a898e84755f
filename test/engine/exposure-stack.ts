/**
 * The fourth stack of the engine suite: ChatUi published on the edge as well as through a
 * CloudflareTunnel, and the edge on a tailnet (TailscaleExposure), on top of the default chain.
 */
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { ChatUi, CloudflareTunnel, SecureInference, TailscaleExposure } from "../../index";
import { stackWithProviders, inferenceProps } from "../helpers";

export function exposureStack(): TerraformStack {
  const stack = stackWithProviders("exposure");
  new CloudflareProvider(stack as Construct, "cloudflare", {});
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
  const authKey = new TerraformVariable(stack, "tailscale_auth_key", { type: "string", sensitive: true });
  new TailscaleExposure(stack, "tailnet", { target: ai.edge, hostname: "ai", tailnetDomain: "tailnet-abc.ts.net", authKey: authKey.value });
  new CloudflareTunnel(stack, "tunnel", {
    accountId: "0123456789abcdef0123456789abcdef",
    zoneId: "fedcba9876543210fedcba9876543210",
    hostname: "chat.example.com",
    target: chat,
    access: { emailDomains: ["example.com"] },
  });
  return stack;
}
