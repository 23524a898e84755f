import { flagHasWhitespace, selectsFlag, vllmFlagName } from "../../lib/vllm-args";

// Expectations follow vLLM's FlexibleArgumentParser (vllm/utils/argparse_utils.py) and argparse's
// default allow_abbrev=True on the serve subparser; vLLM itself is not installed here.
test.each([
  ["--trust_remote_code", "--trust-remote-code"],
  ["--api_key=sk-x", "--api-key"],
  ["--api-key=sk-x", "--api-key"],
  ["--hf_overrides.rope_scaling", "--hf-overrides"],
  ["--gpu-memory-utilization", "--gpu-memory-utilization"],
  ["0.85", undefined],
  ["-O3", undefined],
])("vllmFlagName(%s) = %s", (arg, flag) => expect(vllmFlagName(arg)).toBe(flag));

test("an abbreviation selects the flag it starts; other flags do not", () => {
  expect(selectsFlag("--trust-remote", "--trust-remote-code")).toBe(true);
  expect(selectsFlag("--trust-remote-code", "--trust-remote-code")).toBe(true);
  expect(selectsFlag("--ho", "--host")).toBe(true);
  expect(selectsFlag("--tokenizer-mode", "--tokenizer")).toBe(false);
  expect(selectsFlag("--", "--host")).toBe(false);
});

test("two arguments in one element are spotted; a value with spaces is not", () => {
  expect(flagHasWhitespace("--gpu-memory-utilization 0.85")).toBe(true);
  expect(flagHasWhitespace("--chat-template={% for m in messages %}")).toBe(false);
  expect(flagHasWhitespace('{"level": 3}')).toBe(false);
});
