import { healthcheck as rule } from "../../../../lib/policy/rules/ctr-013-healthcheck";
import { ATTACHED_JOB, JOB, NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-013 no healthcheck", () => {
  test("a service with a healthcheck is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a service without one, or with NONE, is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "missing", { healthcheck: undefined });
    compliantContainer(stack, "disabled", { healthcheck: { test: ["NONE"] } });
    expect(statusOf(rule, stack, "missing")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "disabled")).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("jobs and never-started containers are not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "job", JOB);
    compliantContainer(stack, "attached", ATTACHED_JOB);
    compliantContainer(stack, "loader", { ...NEVER_STARTED, healthcheck: undefined });
    expect(statusOf(rule, stack, "job")).toBe(OutcomeStatus.NOT_APPLICABLE);
    expect(statusOf(rule, stack, "attached")).toBe(OutcomeStatus.NOT_APPLICABLE);
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
