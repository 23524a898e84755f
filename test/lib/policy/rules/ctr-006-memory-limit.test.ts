import { memoryLimit as rule } from "../../../../lib/policy/rules/ctr-006-memory-limit";
import { JOB, NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-006 no memory limit", () => {
  test("memory set is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("no memory is non-compliant, for jobs too", () => {
    const stack = newStack();
    compliantContainer(stack, "bad", { memory: undefined, memorySwap: undefined });
    compliantContainer(stack, "job", { ...JOB, memory: undefined, memorySwap: undefined });
    expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "job")).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a never-started loader is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "loader", { ...NEVER_STARTED, memory: undefined, memorySwap: undefined });
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
