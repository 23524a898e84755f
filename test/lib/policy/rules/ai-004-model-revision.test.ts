import { modelRevision as rule } from "../../../../lib/policy/rules/ai-004-model-revision";
import { OutcomeStatus, SHA, VLLM, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-AI-004 model revision not pinned", () => {
  test("a 40-hex label or --revision argument is compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "label", {
      labels: [
        { label: "zta.role", value: "inference" },
        { label: "zta.model-revision", value: SHA },
      ],
    });
    compliantContainer(stack, "arg", { image: VLLM, command: ["org/model", `--revision=${SHA}`] });
    expect(statusOf(rule, stack, "label")).toBe(OutcomeStatus.COMPLIANT);
    expect(statusOf(rule, stack, "arg")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a branch, or no revision at all, is non-compliant", () => {
    const stack = newStack();
    compliantContainer(stack, "branch", { image: VLLM, command: ["org/model", "--revision", "main"] });
    compliantContainer(stack, "none", { image: VLLM, command: ["org/model"] });
    compliantContainer(stack, "fetch", {
      labels: [
        { label: "zta.role", value: "model-fetch" },
        { label: "zta.model-revision", value: "v1.0" },
      ],
    });
    const o = outcomes(rule, stack);
    expect(o.branch.detail).toContain('"main"');
    for (const id of ["branch", "none", "fetch"]) expect(o[id].status).toBe(OutcomeStatus.NON_COMPLIANT);
  });

  test("containers that load no model are not applicable", () => {
    const stack = newStack();
    compliantContainer(stack, "web");
    expect(statusOf(rule, stack, "web")).toBe(OutcomeStatus.NOT_APPLICABLE);
  });
});
