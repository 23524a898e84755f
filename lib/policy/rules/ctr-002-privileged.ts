import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, OWASP_LLM } from "./common";

export const privileged: PolicyRule = {
  meta: {
    id: "ZTA-CTR-002",
    title: "Privileged container",
    explanation:
      "`privileged = true` gives the container every capability, every host device and no seccomp or AppArmor confinement: code inside it (a model server with a bug, an agent running generated code) is root on the host.",
    fix: "Remove `privileged`. Add the one capability or device the workload needs (`capabilities.add`, `devices`, `gpus`) instead.",
    severity: RuleSeverity.HIGH,
    references: [CIS("5.4", "Ensure that privileged containers are not used"), OWASP_LLM("LLM06", "Excessive Agency")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    if (isExpression(c.config.privileged)) return notApplicable("privileged is a Terraform expression");
    return c.config.privileged === true ? nonCompliant("privileged = true") : compliant();
  },
};
