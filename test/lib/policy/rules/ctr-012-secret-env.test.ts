import { TerraformVariable } from "cdktf";
import { secretInEnv as rule } from "../../../../lib/policy/rules/ctr-012-secret-env";
import { OutcomeStatus, compliantContainer, newStack, outcomes, statusOf } from "../fixtures";

describe("ZTA-CTR-012 secret-looking literal in env", () => {
  test("plain settings, secret file paths and references to sensitive variables are compliant", () => {
    const stack = newStack();
    const token = new TerraformVariable(stack, "hf_token", { type: "string", sensitive: true });
    compliantContainer(stack, "ok", {
      env: ["HOME=/tmp", "HF_TOKEN_PATH=/etc/zta/hf-token", `HF_TOKEN=${token.value}`, "AWS_REGION=eu-west-1"],
    });
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

describe("ZTA-CTR-012 finds credentials by shape in values and commands", () => {
  test("a URL with a password, a token in a shell command, a secret flag with a literal: non-compliant, never echoed", () => {
    const stack = newStack();
    compliantContainer(stack, "url", { env: ["DATABASE_URL=postgres://agent:S3cret@db:5432/app"] });
    compliantContainer(stack, "shell", {
      command: ["sh", "-c", "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 ./run.sh"],
    });
    compliantContainer(stack, "assign", { command: ["sh", "-c", "API_KEY=hunter2-hunter2 ./run.sh"] });
    compliantContainer(stack, "flag", { command: ["vllm", "serve", "m", "--api_key", "hunter2-hunter2"] });
    compliantContainer(stack, "flageq", { entrypoint: ["server", "--password=hunter2-hunter2"] });
    const o = outcomes(rule, stack);
    for (const name of ["url", "shell", "assign", "flag", "flageq"]) {
      expect([name, o[name].status]).toEqual([name, OutcomeStatus.NON_COMPLIANT]);
      expect(o[name].detail).not.toMatch(/S3cret|hunter2|ghp_/);
    }
    expect(o.url.detail).toContain("a URL with a password");
  });

  test("placeholders, file flags, ids and URLs without passwords are compliant", () => {
    const stack = newStack();
    const pw = new TerraformVariable(stack, "pw", { type: "string", sensitive: true });
    compliantContainer(stack, "ok", {
      env: ["DATABASE_URL=postgres://agent@db:5432/app", `DB_URL=postgres://agent:${pw.value}@db/app`],
      command: [
        "sh",
        "-c",
        'API_KEY="$(cat /run/key)" exec ./run.sh',
        "--tls-key-file=/etc/k",
        "--client-id=local-ai",
        "--api-key",
        "$KEY",
      ],
    });
    expect(statusOf(rule, stack, "ok")).toBe(OutcomeStatus.COMPLIANT);
  });
});
