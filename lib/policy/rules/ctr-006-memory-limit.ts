import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM, skipNeverStarted } from "./common";

export const memoryLimit: PolicyRule = {
  meta: {
    id: "ZTA-CTR-006",
    title: "No memory limit, or swap allowed",
    explanation:
      "Without `memory`, one container (a model server given a huge context, an agent's runaway test) can take all host memory and get other services OOM-killed. With `memory` but no equal `memory_swap`, Docker lets it swap as much again (or without bound for -1): the host slows to a crawl before the limit bites, and keys, tokens and prompts held in memory are written to the host's swap.",
    fix: "Set `memory` (MB) and `memory_swap` to the same value (no swap).",
    severity: RuleSeverity.MEDIUM,
    references: [
      CIS("5.10", "Ensure that the memory usage for containers is limited"),
      OWASP_LLM("LLM10", "Unbounded Consumption"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    const { memory, memory_swap: swap } = c.config;
    if (isExpression(memory) || isExpression(swap))
      return notApplicable("memory or memory_swap is a Terraform expression");
    if (typeof memory !== "number" || memory <= 0) return nonCompliant("memory is not set");
    if (swap === memory) return compliant();
    // The provider sends 0 (Docker then allows swap equal to memory) when memory_swap is unset.
    if (typeof swap === "number" && swap !== 0)
      return nonCompliant(`memory_swap = ${swap} with memory = ${memory}: swap is allowed`);
    return nonCompliant("memory_swap is not set: Docker allows as much swap again as memory");
  },
};
