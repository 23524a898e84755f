import { strings } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { CIS } from "./common";

export const noNewPrivileges: PolicyRule = {
  meta: {
    id: "ZTA-CTR-004",
    title: "no-new-privileges missing",
    explanation:
      "Without `no-new-privileges`, a setuid binary or file capability inside the image can raise a process's privileges after start, undoing a non-root user and dropped capabilities.",
    fix: 'Add `security_opts = ["no-new-privileges:true"]`.',
    severity: RuleSeverity.HIGH,
    references: [CIS("5.25", "Ensure that the container is restricted from acquiring additional privileges")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const opts = strings(c.config.security_opts).map((o) => o.replace(/\s/g, "").toLowerCase());
    return opts.some(
      (o) => o === "no-new-privileges" || o === "no-new-privileges:true" || o === "no-new-privileges=true",
    )
      ? compliant()
      : nonCompliant("security_opts has no no-new-privileges:true");
  },
};
