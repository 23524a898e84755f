import { TerraformVariable } from "cdktf";
import { secretInEnv as rule } from "../../../../lib/policy/rules/ctr-012-secret-env";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-012 secret-looking literal in env", () => {
  test("plain settings, secret file paths and references to sensitive variables are compliant", () => {
    const stack = newStack();
    const token = new TerraformVariable(stack, "hf_token", { type: "string", sensitive: true });
    compliantContainer(stack, "ok", { env: ["HOME=/tmp", "HF_TOKEN_PATH=/etc/zta/hf-token", `HF_TOKEN=${token.value}`, "AWS_REGION=eu-west-1"] });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });

  test("a secret-named literal or a key-shaped value is non-compliant, and the value is not echoed", () => {
    const stack = newStack();
    compliantContainer(stack, "named", { env: ["GITHUB_TOKEN=hunter2-hunter2"] });
    compliantContainer(stack, "shaped", { env: ["SOMETHING=AKIAABCDEFGHIJKLMNOP"] });
    compliantContainer(stack, "aws", { env: ["AWS_SECRET_ACCESS_KEY=abc/def+ghi"] });
    const o = outcomes(rule, stack);
    expect(o.named.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.named.detail).not.toContain("hunter2");
    expect(o.shaped.status).toBe(OutcomeStatus.NON_COMPLIANT);
    expect(o.shaped.detail).toContain("AWS access key");
    expect(o.aws.status).toBe(OutcomeStatus.NON_COMPLIANT);
  });
});
