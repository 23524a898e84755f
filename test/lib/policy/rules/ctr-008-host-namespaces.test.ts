import { hostNamespaces as rule } from "../../../../lib/policy/rules/ctr-008-host-namespaces";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-008 host namespaces", () => {
  test("private namespaces are compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { ipcMode: "private" });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test.each([
    ["network", { networkMode: "host", networksAdvanced: undefined }],
    ["pid", { pidMode: "host" }],
    ["ipc", { ipcMode: "host" }],
    ["userns", { usernsMode: "host" }],
  ])("host %s namespace is non-compliant", (what, overrides) => {
    const stack = newStack();
    compliantContainer(stack, "bad", overrides);
    const o = outcomes(rule, stack).bad;
    expect(o.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.detail).toContain("host");
    expect(what).toBeTruthy();
  });
});
