import { restartUnbounded as rule } from "../../../../lib/policy/rules/ctr-014-restart-unbounded";
import { JOB, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-014 restart policy unbounded", () => {
  test("on-failure with a retry limit, or no restart, is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "bounded");
    compliantContainer(stack, "never", { restart: "no", maxRetryCount: undefined });
    expect(statusOf(rule, stack, "bounded")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "never")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("always, unless-stopped and on-failure without a limit are non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "always", { restart: "always", maxRetryCount: undefined });
    compliantContainer(stack, "unless", { restart: "unless-stopped", maxRetryCount: undefined });
    compliantContainer(stack, "forever", { restart: "on-failure", maxRetryCount: 0 });
    for (const id of ["always", "unless", "forever"]) expect(statusOf(rule, stack, id)).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a job is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "job", { ...JOB, restart: "always" });
    expect(statusOf(rule, stack, "job")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
