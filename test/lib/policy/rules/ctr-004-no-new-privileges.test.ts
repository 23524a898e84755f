import { noNewPrivileges as rule } from "../../../../lib/policy/rules/ctr-004-no-new-privileges";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-004 no-new-privileges", () => {
  test("no-new-privileges:true is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("missing or false is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "missing", { securityOpts: undefined });
    compliantContainer(stack, "off", { securityOpts: ["no-new-privileges:false"] });
    expect(statusOf(rule, stack, "missing")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "off")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
