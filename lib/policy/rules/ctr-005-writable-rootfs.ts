import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, skipNeverStarted } from "./common";

export const writableRootfs: PolicyRule = {
  meta: {
    id: "ZTA-CTR-005",
    title: "Writable root filesystem",
    explanation:
      "A writable root filesystem lets an attacker who gets code execution drop tools, persist in the image layer and modify the service's own binaries and configs.",
    fix: "Set `read_only = true`; give the paths the process writes a size-limited `tmpfs` (noexec) or a volume.",
    severity: RuleSeverity.MEDIUM,
    references: [CIS("5.12", "Ensure that the container's root filesystem is mounted as read only")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    if (isExpression(c.config.read_only)) return notApplicable("read_only is a Terraform expression");
    return c.config.read_only === true ? compliant() : nonCompliant("read_only is not true");
  },
};
