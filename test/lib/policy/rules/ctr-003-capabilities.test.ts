import { capabilities as rule } from "../../../../lib/policy/rules/ctr-003-capabilities";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-003 capabilities not dropped", () => {
  test('drop ["ALL"] with nothing added is compliant', () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("no capabilities block, a partial drop, or an add-back is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "missing", { capabilities: undefined });
    compliantContainer(stack, "partial", { capabilities: { drop: ["NET_RAW"] } });
    compliantContainer(stack, "addback", { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } });
    const o = outcomes(rule, stack);
    expect(o.missing.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.partial.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.addback.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.addback.detail).toContain("NET_BIND_SERVICE");
  });
});
