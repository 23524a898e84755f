import { isExpression, str } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS } from "./common";

/** Drivers that give containers addresses on the host's own network segment (or the host's stack). */
const LAN_DRIVERS = ["macvlan", "ipvlan", "host"];

export const lanDriverNetwork: PolicyRule = {
  meta: {
    id: "ZTA-NET-001",
    title: "Network driver puts containers on the host's LAN",
    explanation:
      "On a `macvlan` or `ipvlan` network each container gets its own address on the host's network segment: every port it listens on is reachable from the LAN, with no `ports` binding, no `internal` flag and no host firewall in the way. (`host` is the host's own stack.) The edge's single bound port stops being the only way in.",
    fix: "Use `bridge` networks: `internal = true` for everything behind the edge, and publish only the edge's port, bound to one address.",
    severity: RuleSeverity.HIGH,
    references: [
      CIS("5.13", "Ensure that incoming container traffic is bound to a specific host interface"),
      CIS("5.9", "Ensure that the host's network namespace is not shared"),
    ],
    resourceTypes: ["docker_network"],
  },
  check(n) {
    const driver = str(n.config.driver) ?? "bridge";
    if (isExpression(driver)) return notApplicable("the driver is a Terraform expression");
    return LAN_DRIVERS.includes(driver) ? nonCompliant(`driver = "${driver}"`) : compliant();
  },
};
