import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { ConfigError, Problems, describeValue } from "../../lib/errors";

describe("Problems", () => {
  test("collects every problem and throws once with prop, value and fix", () => {
    const problems = new Problems('Thing "a/b"');
    problems.check(true, "fine", 1, "never shown");
    problems.check(false, "port", 70000, "Use a port from 1 to 65535.");
    problems.add("name", "", "Give a name.");
    expect(problems.count).toBe(2);
    let caught: unknown;
    try {
      problems.throwIfAny();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(
      'Thing "a/b": 2 invalid props\n  - port: received 70000. Use a port from 1 to 65535.\n  - name: received "". Give a name.',
    );
  });

  test("does not throw when nothing was found", () => {
    expect(() => new Problems("x").throwIfAny()).not.toThrow();
  });
});

describe("describeValue", () => {
  test("names Terraform references instead of printing tokens, and shortens long strings", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const ref = new TerraformVariable(stack, "v", { type: "string" }).value;
    expect(describeValue(ref)).toBe("a Terraform reference");
    expect(describeValue(undefined)).toBe("nothing (the prop is missing)");
    expect(describeValue([])).toBe("an empty list");
    expect(describeValue("x".repeat(200))).toHaveLength(122);
  });
});
