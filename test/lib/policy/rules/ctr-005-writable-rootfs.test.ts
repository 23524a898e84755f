import { writableRootfs as rule } from "../../../../lib/policy/rules/ctr-005-writable-rootfs";
import { NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-005 writable root filesystem", () => {
  test("read_only = true is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a writable rootfs is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "bad", { readOnly: false });
    compliantContainer(stack, "unset", { readOnly: undefined });
    expect(statusOf(rule, stack, "bad")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "unset")).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a never-started loader is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "loader", { ...NEVER_STARTED, readOnly: false });
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
