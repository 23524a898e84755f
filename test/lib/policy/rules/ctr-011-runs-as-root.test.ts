import { runsAsRoot as rule } from "../../../../lib/policy/rules/ctr-011-runs-as-root";
import { NEVER_STARTED, OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-011 runs as root", () => {
  test("a non-root uid is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { user: "65532:65532" });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("no user, 0 or root is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "unset", { user: undefined });
    compliantContainer(stack, "zero", { user: "0:0" });
    compliantContainer(stack, "root", { user: "root" });
    for (const id of ["unset", "zero", "root"]) expect(statusOf(rule, stack, id)).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("a never-started loader is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "loader", { ...NEVER_STARTED, user: undefined });
    expect(statusOf(rule, stack, "loader")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
