import { portAllInterfaces as rule } from "../../../../lib/policy/rules/ctr-001-port-all-interfaces";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-001 port published on every interface", () => {
  test("a port bound to 127.0.0.1 is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { ports: [{ internal: 8443, external: 443, ip: "127.0.0.1" }] });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a port without ip (provider default 0.0.0.0) or with :: is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "default-ip", { ports: [{ internal: 8000, external: 8000 }] });
    compliantContainer(stack, "v6", { ports: [{ internal: 8000, external: 8001, ip: "::" }] });
    const o = outcomes(rule, stack);
    expect(o["default-ip"].status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o["default-ip"].detail).toContain("0.0.0.0");
    expect(o.v6.status).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("no published port is not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "none");
    expect(statusOf(rule, stack, "none")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
