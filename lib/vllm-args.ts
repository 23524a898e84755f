/**
 * How `vllm serve` reads its arguments, so a flag the library owns cannot come back in through
 * `vllm.extraArgs` under another spelling. Read in vLLM's source (vllm/utils/argparse_utils.py,
 * FlexibleArgumentParser.parse_args; vllm/entrypoints/cli/serve.py and main.py):
 * - in every `--name` and `--name=value`, underscores in the name (up to the first ".") become
 *   dashes: `--trust_remote_code` is `--trust-remote-code`;
 * - `--name.key value` / `--name.key=value` set one key of the JSON flag `--name`;
 * - the serve subparser is a plain argparse parser with the default `allow_abbrev=True`: any
 *   unique prefix of a long flag selects it (`--trust-remote` is `--trust-remote-code`);
 * - `--config file.yaml` splices every key of a YAML file in as flags, and `--model x` replaces
 *   the positional model.
 */

/** The flag an extraArgs element sets, normalized as vLLM does, or undefined for a value. */
export function vllmFlagName(arg: string): string | undefined {
  if (!arg.startsWith("--")) return undefined;
  const key = arg.split("=", 1)[0];
  const name = key.split(".", 1)[0];
  return `--${name.slice(2).replace(/_/g, "-")}`;
}

/** True when vLLM would read `flag` (normalized) as `owned`: the same flag or an abbreviation of it. */
export function selectsFlag(flag: string, owned: string): boolean {
  return flag.length > 2 && owned.startsWith(flag);
}

/** True when the flag part of a `--` element contains whitespace (two arguments written as one). */
export function flagHasWhitespace(arg: string): boolean {
  return arg.startsWith("-") && /\s/.test(arg.split("=", 1)[0]);
}
