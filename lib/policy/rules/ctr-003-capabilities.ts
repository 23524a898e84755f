import { record, strings } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant } from "../types";
import { CIS } from "./common";

/**
 * A capability added back is a finding even when it is harmless, and is accepted only through a
 * suppression with a reason (recorded in the report). An allowlist of capability names was
 * rejected: it would accept the same add-back silently on every container, with no reason attached.
 */
export const capabilities: PolicyRule = {
  meta: {
    id: "ZTA-CTR-003",
    title: "Capabilities not dropped",
    explanation:
      "Docker's default set keeps 14 capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...). Few services need any; each one kept widens what a compromised process can do to the kernel and the network.",
    fix: 'Set `capabilities { drop = ["ALL"] }` and no `add`. If a capability is truly needed, add only that one and suppress this rule on that container with the reason.',
    severity: RuleSeverity.HIGH,
    references: [CIS("5.3", "Ensure that Linux kernel capabilities are restricted within containers")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const caps = record(c.config.capabilities);
    const drop = strings(caps.drop).map((s) => s.toUpperCase());
    const add = strings(caps.add);
    const problems: string[] = [];
    if (!drop.includes("ALL")) problems.push(`drop is ${drop.length ? JSON.stringify(drop) : "empty"}, not ["ALL"]`);
    if (add.length > 0) problems.push(`adds ${add.join(", ")}`);
    return problems.length ? nonCompliant(problems.join("; ")) : compliant();
  },
};
