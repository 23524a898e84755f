import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM, skipNeverStarted } from "./common";

export const memoryLimit: PolicyRule = {
  meta: {
    id: "ZTA-CTR-006",
    title: "No memory limit",
    explanation:
      "Without `memory`, one container (a model server given a huge context, an agent's runaway test) can take all host memory and get other services OOM-killed.",
    fix: "Set `memory` (MB) and `memory_swap` to the same value (no swap).",
    severity: RuleSeverity.MEDIUM,
    references: [CIS("5.10", "Ensure that the memory usage for containers is limited"), OWASP_LLM("LLM10", "Unbounded Consumption")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    const memory = c.config.memory;
    if (isExpression(memory)) return notApplicable("memory is a Terraform expression");
    return typeof memory === "number" && memory > 0 ? compliant() : nonCompliant("memory is not set");
  },
};
