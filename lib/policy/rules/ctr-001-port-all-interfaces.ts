import { isAllInterfaces } from "../../validate";
import { isExpression, list, record } from "../docker";
import { PolicyRule, RuleSeverity, compliant, nonCompliant, notApplicable } from "../types";
import { CIS } from "./common";

export const portAllInterfaces: PolicyRule = {
  meta: {
    id: "ZTA-CTR-001",
    title: "Port published on every host interface",
    explanation:
      "A published port without `ip` binds 0.0.0.0 (the provider's default): the service answers on every network the host is on, including ones you did not think of (Wi-Fi, VPNs, a cloud VM's public address), and Docker's iptables rules bypass host firewalls such as ufw.",
    fix: 'Set `ports[].ip` to one address, e.g. "127.0.0.1" (reach it over a tailnet or tunnel) or a specific LAN address.',
    severity: RuleSeverity.HIGH,
    references: [CIS("5.13", "Ensure that incoming container traffic is bound to a specific host interface")],
    resourceTypes: ["docker_container"],
  },
  check(c) {
    const ports = list(c.config.ports).map(record);
    if (ports.length === 0) return notApplicable("publishes no port");
    // An address Terraform computes cannot be judged here; the others still can.
    const known = ports.filter((p) => !isExpression(p.ip));
    if (known.length === 0) return notApplicable("every port's ip is a Terraform expression");
    const open = known.filter((p) => typeof p.ip !== "string" || isAllInterfaces(p.ip));
    if (open.length === 0) return compliant();
    return nonCompliant(
      `port(s) ${open.map((p) => p.external ?? p.internal).join(", ")} bound to ${open.map((p) => p.ip ?? "0.0.0.0 (default)").join(", ")}`,
    );
  },
};
