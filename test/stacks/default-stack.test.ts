import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App } from "cdktf";
import { DefaultInferenceStack } from "../../stacks/default-stack";

const ROOT = path.join(__dirname, "..", "..");

describe("the default stack keeps Terraform state out of the tree and is portable", () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-default-"));
  const app = new App({ outdir });
  new DefaultInferenceStack(app, "zero-trust-ai");
  app.synth();
  const dir = path.join(outdir, "stacks", "zero-trust-ai");
  const json = fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8");

  test("the local backend writes state under the ignored .terraform-state/, by a relative path", () => {
    const backend = JSON.parse(json).terraform.backend.local;
    expect(backend.path).toBe("../../../.terraform-state/zero-trust-ai.tfstate");
    // Terraform runs in cdktf.out/stacks/<id>/: the path lands in <project>/.terraform-state/.
    expect(path.resolve(path.join(ROOT, "cdktf.out", "stacks", "zero-trust-ai"), backend.path)).toBe(
      path.join(ROOT, ".terraform-state", "zero-trust-ai.tfstate"),
    );
  });

  test("git ignores state files and .terraform/ wherever they are", () => {
    const ignored = (p: string) =>
      spawnSync("git", ["check-ignore", "-q", "--no-index", p], { cwd: ROOT }).status === 0;
    for (const p of [
      ".terraform-state/zero-trust-ai.tfstate",
      "terraform.zero-trust-ai.tfstate",
      "x/terraform.tfstate.backup",
      "x/.terraform/providers",
    ]) {
      expect([p, ignored(p)]).toEqual([p, true]);
    }
    expect(ignored("stacks/main.ts")).toBe(false);
  });

  test("no absolute path of this machine in the synthesized JSON", () => {
    expect(json).not.toContain(ROOT);
    expect(json).not.toContain(outdir);
    expect(json).not.toContain(process.cwd());
  });
});

test("a ConfigError under the app entry prints each problem once, without a stack trace or an object dump", () => {
  // Run the way cdktf.json runs the app: ts-node --transpile-only, in a child process.
  const file = path.join(ROOT, "test", "stacks", "broken-app.fixture.ts");
  const run = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", file], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CDKTF_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), "zta-broken-")) },
  });
  expect(run.status).toBe(1);
  const err = run.stderr;
  expect(err).toContain('model.revision: received "main"');
  expect(err).toContain('oidc.clientSecret: received "a literal string"');
  expect(err.split("model.revision: received").length - 1).toBe(1);
  expect(err).not.toMatch(/^\s+at /m);
  expect(err).not.toContain("problems: [");
  expect(err).not.toContain("hunter2");
});
