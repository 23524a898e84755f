import { privileged as rule } from "../../../../lib/policy/rules/ctr-002-privileged";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-002 privileged", () => {
  test("an unprivileged container is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("privileged = true is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "bad", { privileged: true });
    expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
