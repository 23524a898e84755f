import { isInferenceContainer, list, networksOf, str } from "../docker";
import { PolicyRule, ResourceView, RuleSeverity, StackView, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM } from "./common";

/** Why a container's network position reaches beyond internal networks, or [] when it does not. */
function exposure(c: ResourceView, stack: StackView, seen: Set<ResourceView>): string[] {
  if (seen.has(c)) return [];
  seen.add(c);
  const problems: string[] = [];
  if (list(c.config.ports).length > 0) problems.push("publishes a host port");
  const mode = str(c.config.network_mode);
  if (mode === "none") return problems;
  if (mode?.startsWith("container:")) {
    // Shares another container's namespace: it is exactly as exposed as that container.
    const owner = stack.referenced(mode.slice("container:".length));
    if (!owner) return [...problems, `shares the namespace of ${mode.slice(10)}, which the policy cannot see`];
    return [...problems, ...exposure(owner, stack, seen)];
  }
  if (mode !== undefined && mode !== "bridge" && mode !== "default") return [...problems, `network_mode = "${mode}"`];
  const networks = networksOf(c, stack);
  if (networks.length === 0) return [...problems, "is on Docker's default bridge (not internal)"];
  for (const n of networks) {
    if (!n.resource) problems.push(`is on network ${n.name}, not declared in this stack (cannot prove it is internal)`);
    else if (n.resource.config.internal !== true) problems.push(`is on network ${n.name}, which is not internal`);
  }
  return problems;
}

export const inferenceExposed: PolicyRule = {
  meta: {
    id: "ZTA-AI-001",
    title: "Inference container on a non-internal network or with a published port",
    explanation:
      "vLLM's API key guards only /v1; /tokenize, /pause, /update_weights, /load, /metrics and others are open. The inference container must sit on internal networks only (no route out, nothing published), reachable solely through the mTLS sidecar. Recognized by the label zta.role=inference, or by an image name containing vllm.",
    fix: "Attach vLLM only to a `docker_network` with `internal = true`, publish no port, and put it behind SecureInference's sidecar and edge.",
    severity: RuleSeverity.HIGH,
    references: [
      CIS("5.8", "Ensure that only needed ports are open on the container"),
      OWASP_LLM("LLM10", "Unbounded Consumption"),
      OWASP_LLM("LLM02", "Sensitive Information Disclosure"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c, stack) {
    if (!isInferenceContainer(c, stack)) return notApplicable("not an inference container");
    if (c.config.start === false) return notApplicable("created but never started (start = false)");
    const problems = exposure(c, stack, new Set());
    return problems.length ? nonCompliant(problems.join("; ")) : compliant();
  },
};
