import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM, skipNeverStarted } from "./common";

function positive(value: unknown): boolean {
  return typeof value === "number" && value > 0;
}

export const cpuLimit: PolicyRule = {
  meta: {
    id: "ZTA-CTR-007",
    title: "No CPU limit",
    explanation:
      "Without a CPU weight or cap, a busy container starves the others (the edge stops answering while a model tokenizes). `cpus` panics in provider 3.6.2, so use `cpu_shares` (relative weight under contention), `cpu_period` + `cpu_quota` (hard cap) or `cpu_set`.",
    fix: "Set `cpu_shares` (e.g. 512), and `cpu_period = 100000` + `cpu_quota` for a hard cap.",
    severity: RuleSeverity.MEDIUM,
    references: [
      CIS("5.11", "Ensure that CPU priority is set appropriately on containers"),
      OWASP_LLM("LLM10", "Unbounded Consumption"),
    ],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    const cfg = c.config;
    if ([cfg.cpu_shares, cfg.cpu_quota, cfg.cpu_set].some(isExpression))
      return notApplicable("a CPU setting is a Terraform expression");
    return positive(cfg.cpu_shares) ||
      positive(cfg.cpu_quota) ||
      (typeof cfg.cpu_set === "string" && cfg.cpu_set !== "")
      ? compliant()
      : nonCompliant("none of cpu_shares, cpu_quota, cpu_set is set");
  },
};
