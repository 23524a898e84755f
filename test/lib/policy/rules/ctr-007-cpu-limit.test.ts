import { cpuLimit as rule } from "../../../../lib/policy/rules/ctr-007-cpu-limit";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-007 no CPU limit", () => {
  test("cpu_shares, or cpu_quota, or cpu_set is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "shares");
    compliantContainer(stack, "quota", { cpuShares: undefined, cpuPeriod: 100000, cpuQuota: 50000 });
    compliantContainer(stack, "set", { cpuShares: undefined, cpuSet: "0-1" });
    for (const id of ["shares", "quota", "set"]) expect(statusOf(rule, stack, id)).toBe(OutcomeStatus.COMPLIANT);
  });

  test("none of them is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "bad", { cpuShares: undefined });
    expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
