import { logRotation as rule } from "../../../../lib/policy/rules/ctr-015-log-rotation";
import { OutcomeStatus, compliantContainer, newStack, statusOf } from "../fixtures";

describe("ZTA-CTR-015 no log rotation", () => {
  test("json-file with max-size, or the local driver, is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "rotated");
    compliantContainer(stack, "local", { logDriver: "local", logOpts: undefined });
    expect(statusOf(rule, stack, "rotated")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "local")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("the default driver or json-file without max-size is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "default", { logDriver: undefined, logOpts: undefined });
    compliantContainer(stack, "unrotated", { logDriver: "json-file", logOpts: { "max-file": "3" } });
    expect(statusOf(rule, stack, "default")).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(statusOf(rule, stack, "unrotated")).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
