import { isExpression } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS, skipNeverStarted } from "./common";

export const restartUnbounded: PolicyRule = {
  meta: {
    id: "ZTA-CTR-014",
    title: "Restart policy unbounded",
    explanation:
      "`always`, `unless-stopped`, or `on-failure` without a retry limit restart a crashing container forever: a crash loop hides the failure, burns CPU and (for a model server) reloads gigabytes of weights each time; `always` also reruns a finished one-shot job forever. Never-started containers are not applicable.",
    fix: 'Use `restart = "on-failure"` with `max_retry_count = 5` (or "no").',
    severity: RuleSeverity.LOW,
    references: [CIS("5.14", "Ensure that the 'on-failure' container restart policy is set to '5'")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    // Jobs too: `always` restarts a job even after it succeeded, forever.
    const skip = skipNeverStarted(c);
    if (skip) return skip;
    if (isExpression(c.config.restart) || isExpression(c.config.max_retry_count))
      return notApplicable("the restart policy is a Terraform expression");
    const restart = typeof c.config.restart === "string" ? c.config.restart : "no";
    if (restart === "always" || restart === "unless-stopped") return nonCompliant(`restart = "${restart}"`);
    if (restart === "on-failure") {
      const retries = c.config.max_retry_count;
      if (typeof retries !== "number" || retries <= 0)
        return nonCompliant('restart = "on-failure" without max_retry_count (0 means forever)');
    }
    return compliant();
  },
};
