/**
 * Helpers for the exposure tests (ChatUi, TailscaleExposure, CloudflareTunnel). The same checks as
 * test/constructs/secure-inference.test.ts exports; kept here because importing a test file would
 * register its suites again inside every file that imports it.
 */
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { TerraformStack } from "cdktf";
import { ConfigError, SecureInference, SecureInferenceProps, TailscaleProvider } from "../index";
import { inferenceProps, label, stackWithProviders } from "./helpers";

/** What a hardened service container must have; returns the missing items (empty = hardened). */
export function hardeningGaps(c: Record<string, any>): string[] {
  const gaps: string[] = [];
  if (c.read_only !== true) gaps.push("read_only");
  if (c.capabilities?.drop?.[0] !== "ALL" || c.capabilities.drop.length !== 1) gaps.push("capabilities.drop ALL");
  if (!(c.security_opts ?? []).includes("no-new-privileges:true")) gaps.push("no-new-privileges");
  if (!(c.memory > 0) || c.memory_swap !== c.memory) gaps.push("memory (and no swap)");
  if (!(c.cpu_shares > 0)) gaps.push("cpu_shares");
  if (c.restart !== "on-failure" || !(c.max_retry_count > 0)) gaps.push("bounded restart");
  if (c.log_driver !== "json-file" || !c.log_opts?.["max-size"] || !c.log_opts?.["max-file"]) gaps.push("log rotation");
  if (!c.tmpfs || Object.keys(c.tmpfs).length === 0) gaps.push("tmpfs");
  if (!(c.healthcheck?.test?.length > 1)) gaps.push("healthcheck");
  if (c.privileged === true) gaps.push("privileged");
  if ((c.ports ?? []).length > 0 && label(c, "zta.role") !== "edge") gaps.push("publishes a host port");
  return gaps;
}

/** Runs `fn`, expects a ConfigError with a problem on `prop` whose text matches `fragment`. */
export function expectConfigError(fn: () => unknown, prop: string, fragment?: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof ConfigError)) throw new Error(`expected a ConfigError, got: ${String(caught)}`);
  const problem = caught.problems.find((p) => p.prop === prop);
  if (!problem) throw new Error(`expected a problem with ${prop}, got:\n${caught.message}`);
  if (fragment) expect(`${problem.received} ${problem.fix}`).toMatch(fragment);
  return caught;
}

/** A stack with docker/tls/random (+ cloudflare and tailscale providers) and SecureInference in it. */
export function inferenceStack(overrides: Partial<SecureInferenceProps> = {}): { stack: TerraformStack; ai: SecureInference } {
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
