import { memoryLimit as rule } from "../../../../lib/policy/rules/ctr-006-memory-limit";
import { JOB, NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-006 no memory limit", () => {
  test("memory set, memory_swap equal to it (no swap), is compliant", () => {
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

  test("memory without an equal memory_swap (swap allowed) is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "unset", { memorySwap: undefined });
    compliantContainer(stack, "more", { memory: 256, memorySwap: 512 });
    compliantContainer(stack, "unbounded", { memory: 256, memorySwap: -1 });
    const o = outcomes(rule, stack);
    expect(o.unset).toEqual({
      status: OutcomeStatus.NON_COMPLIANT,
      detail: expect.stringContaining("memory_swap is not set"),
    });
    expect(o.more).toEqual({
      status: OutcomeStatus.NON_COMPLIANT,
      detail: expect.stringContaining("memory_swap = 512"),
    });
    expect(o.unbounded).toEqual({
      status: OutcomeStatus.NON_COMPLIANT,
      detail: expect.stringContaining("memory_swap = -1"),
    });
  });

  test("a never-started loader is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "loader", { ...NEVER_STARTED, memory: undefined, memorySwap: undefined });
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
