/** Helpers for the exposure tests (ChatUi, TailscaleExposure, CloudflareTunnel). */
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { TerraformStack } from "cdktf";
import { SecureInference, SecureInferenceProps, TailscaleProvider } from "../index";
import { inferenceProps, stackWithProviders } from "./helpers";

export { expectConfigError, gapRuleIds, hardeningGaps } from "./helpers";

/** A stack with docker/tls/random (+ cloudflare and tailscale providers) and SecureInference in it. */
export function inferenceStack(overrides: Partial<SecureInferenceProps> = {}): {
  stack: TerraformStack;
  ai: SecureInference;
} {
  const stack = stackWithProviders();
  new CloudflareProvider(stack, "cloudflare", {});
  new TailscaleProvider(stack, "tailscale", {});
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, overrides));
  return { stack, ai };
}

/** Every string in the synthesized JSON that looks like an address bound to all interfaces. */
export function allInterfaceAddresses(json: unknown): string[] {
  const text = JSON.stringify(json);
  return [...text.matchAll(/0\.0\.0\.0|\[::\]:\d+/g)].map((m) => m[0]);
}
