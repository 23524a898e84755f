import { Network } from "@cdktf/provider-docker/lib/network";
import { lanDriverNetwork as rule } from "../../../../lib/policy/rules/net-001-lan-driver";
import { OutcomeStatus, newStack, statusOf } from "../fixtures";

describe("ZTA-NET-001 network driver on the host's LAN", () => {
  test("bridge networks (default driver, internal or not) are compliant", () => {
    const stack = newStack();
    new Network(stack, "default", { name: "default-driver" });
    new Network(stack, "internal", { name: "internal", driver: "bridge", internal: true });
    expect(statusOf(rule, stack, "default")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "internal")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("macvlan and ipvlan networks are non-compliant", () => {
    const stack = newStack();
    new Network(stack, "mac", { name: "lan", driver: "macvlan", options: { parent: "eth0" } });
    new Network(stack, "ipv", { name: "lan2", driver: "ipvlan" });
    expect(statusOf(rule, stack, "mac")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "ipv")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
