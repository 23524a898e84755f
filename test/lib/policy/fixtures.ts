import { Container, ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { hardenedContainer } from "../../../lib/hardening";
import { stackViewOf } from "../../../lib/policy/engine";
import { OutcomeStatus, PolicyRule, RuleOutcome } from "../../../lib/policy/types";

/**
 * Rule fixtures are real provider resources synthesized by cdktf, so rules are tested on the
 * same JSON they see in a user's stack.
 */

export const PINNED = "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f";
export const VLLM = "vllm/vllm-openai:v0.11.0@sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c";
export const SHA = "7ae557604adf67be50417f59c2c2f167def9a775";

export function newStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "stack");
  new DockerProvider(stack, "docker", {});
  return stack;
}

/** A container every rule accepts: hardened, non-root, pinned, on an internal network. */
export function compliantContainer(
  stack: TerraformStack,
  id: string,
  overrides: Partial<ContainerConfig> = {},
): Container {
  const net =
    (stack.node.tryFindChild("internal") as Network | undefined) ??
    new Network(stack, "internal", { name: "internal", internal: true });
  return new Container(stack, id, {
    name: id,
    image: PINNED,
    ...hardenedContainer({ memoryMb: 256, cpuShares: 512, user: "1000:1000", healthcheck: ["true"] }),
    networksAdvanced: [{ name: net.name }],
    ...overrides,
  });
}

/** A one-shot job, configured like the library's model fetch: retried a bounded number of times, not attached. */
export const JOB: Partial<ContainerConfig> = { mustRun: false, healthcheck: undefined };

/** A one-shot job that Terraform waits for, configured like SandboxRunner. */
export const ATTACHED_JOB: Partial<ContainerConfig> = {
  attach: true,
  mustRun: false,
  restart: "no",
  healthcheck: undefined,
  maxRetryCount: undefined,
};

/** A never-started container, configured like the library's config loaders. */
export const NEVER_STARTED: Partial<ContainerConfig> = {
  start: false,
  mustRun: false,
  networkMode: "none",
  networksAdvanced: undefined,
};

export function pinnedImage(stack: TerraformStack, id: string, name: string): Image {
  return new Image(stack, id, { name, keepLocally: true });
}

/** Runs one rule on every resource of its types in the stack; outcome by construct id (last path segment). */
export function outcomes(rule: PolicyRule, stack: TerraformStack): Record<string, RuleOutcome> {
  const view = stackViewOf(stack.toTerraform() as Record<string, unknown>);
  const out: Record<string, RuleOutcome> = {};
  for (const r of view.resources.filter((x) => rule.meta.resourceTypes.includes(x.type))) {
    out[r.path.split("/").slice(1).join("/")] = rule.check(r, view);
  }
  return out;
}

/** Status of one resource (by construct id) under one rule. */
export function statusOf(rule: PolicyRule, stack: TerraformStack, id: string): OutcomeStatus {
  const o = outcomes(rule, stack)[id];
  if (!o) throw new Error(`no resource "${id}" checked by ${rule.meta.id}`);
  return o.status;
}

export { OutcomeStatus };
