import { restartUnbounded as rule } from "../../../../lib/policy/rules/ctr-014-restart-unbounded";
import { JOB, NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

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
    for (const id of ["always", "unless", "forever"])
      expect(statusOf(rule, stack, id)).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("jobs count too: bounded retries pass, always reruns a finished job forever", () => {
    const stack = newStack();
    compliantContainer(stack, "retried", JOB);
    compliantContainer(stack, "looping", { ...JOB, restart: "always", maxRetryCount: undefined });
    expect(statusOf(rule, stack, "retried")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "looping")).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a never-started loader is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "loader", { ...NEVER_STARTED, restart: "always" });
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
