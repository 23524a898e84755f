import { Problems, isUnresolved } from "./errors";
import { secretValueKind } from "./sensitive";

/**
 * Run-time shape checks for props. TypeScript checks shapes at compile time, but stacks run with
 * `ts-node --transpile-only` (cdktf.json) or are plain JavaScript: a missing prop or a string
 * where a list belongs must be a ConfigError naming the prop, never a TypeError from deep inside
 * a construct. Each reader records a problem and returns a safe stand-in, so the constructor can
 * go on and find the next problem.
 */

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}

/** A string prop (a Terraform reference counts). Missing and required: a problem, returns "". */
export function readString(
  problems: Problems,
  prop: string,
  value: unknown,
  required: boolean,
  example: string,
): string | undefined {
  if (value === undefined && !required) return undefined;
  // A Terraform reference (e.g. a variable's `.value`, a token object) is a string to Terraform.
  if (isUnresolved(value)) return value as string;
  if (typeof value === "string" && (value !== "" || !required)) return value;
  if (value === undefined || value === "") {
    problems.add(prop, value, `It is required: give ${example}.`);
  } else {
    problems.addDescribed(prop, kindOf(value), `Give a string, e.g. ${example}.`);
  }
  return required ? "" : undefined;
}

/** A list prop. Wrong shape: a problem, returns []. */
export function readList<T>(problems: Problems, prop: string, value: unknown, required: boolean, example: string): T[] {
  if (value === undefined && !required) return [];
  if (Array.isArray(value)) return value as T[];
  if (isUnresolved(value)) return value as unknown as T[];
  if (value === undefined) problems.add(prop, value, `It is required: give a list, e.g. ${example}.`);
  else problems.addDescribed(prop, `${kindOf(value)} (${shortValue(value)})`, `Give a list, e.g. ${example}.`);
  return [];
}

/** A list of strings; non-string elements are problems and dropped. */
export function readStrings(
  problems: Problems,
  prop: string,
  value: unknown,
  required: boolean,
  example: string,
): string[] {
  if (isUnresolved(value)) return value as string[];
  const items = readList<unknown>(problems, prop, value, required, example);
  const out: string[] = [];
  items.forEach((item, i) => {
    if (typeof item === "string" || isUnresolved(item)) out.push(item as string);
    else problems.addDescribed(`${prop}[${i}]`, kindOf(item), `Give strings only, e.g. ${example}.`);
  });
  return out;
}

/** An object prop (not a list). Wrong shape: a problem, returns {}. */
export function readObject<T extends object>(
  problems: Problems,
  prop: string,
  value: unknown,
  required: boolean,
  example: string,
): T | undefined {
  if (value === undefined && !required) return undefined;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as T;
  if (value === undefined) problems.add(prop, value, `It is required: give ${example}.`);
  else problems.addDescribed(prop, `${kindOf(value)} (${shortValue(value)})`, `Give an object, e.g. ${example}.`);
  return required ? ({} as T) : undefined;
}

export interface NumberRange {
  readonly min: number;
  readonly max: number;
  /** @default true */
  readonly integer?: boolean;
  readonly unit?: string;
}

/**
 * An optional number within a range (Terraform number tokens pass). Returns the value when
 * acceptable, else the fallback (and records a problem).
 */
export function readNumber(
  problems: Problems,
  prop: string,
  value: unknown,
  fallback: number,
  range: NumberRange,
): number {
  if (value === undefined) return fallback;
  if (isUnresolved(value)) return value as number;
  const integer = range.integer ?? true;
  const unit = range.unit ? ` ${range.unit}` : "";
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    value >= range.min &&
    value <= range.max;
  if (!ok) {
    const what = typeof value === "number" ? value : kindOf(value);
    problems.add(prop, what, `Use a${integer ? " whole" : ""} number from ${range.min} to ${range.max}${unit}.`);
    return fallback;
  }
  return value as number;
}

/** An optional boolean. */
export function readBoolean(problems: Problems, prop: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === "boolean") return value;
  problems.addDescribed(prop, `${kindOf(value)} (${shortValue(value)})`, "Use true or false.");
  return fallback;
}

function shortValue(value: unknown): string {
  // Objects by their keys only: their values may be secrets (e.g. an env map).
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return `keys ${Object.keys(value).join(", ")}`;
  if (typeof value === "string") return "a string";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Every string in a props object (nested objects and lists, not constructs or Terraform
 * references) that has the shape of a credential: a literal there would land in the synthesized
 * JSON and the state. `skip` lists props a construct checks more precisely itself.
 */
export function checkNoCredentialLiterals(problems: Problems, props: unknown, skip: string[] = []): void {
  const walk = (value: unknown, path: string, depth: number): void => {
    // `skip` entries write list indexes as [] ("env[].value").
    if (depth > 6 || skip.includes(path.replace(/\[\d+\]/g, "[]")) || isUnresolved(value)) return;
    if (typeof value === "string") {
      const kind = secretValueKind(value);
      if (kind) {
        problems.addDescribed(
          path,
          `a value that looks like ${kind}`,
          "A literal credential would be written into the synthesized JSON and the Terraform state. " +
            "Pass credentials as a sensitive variable's value where the construct takes one, or leave it out.",
        );
      }
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1));
      return;
    }
    if (value !== null && typeof value === "object" && !("node" in value)) {
      for (const [key, item] of Object.entries(value)) walk(item, path === "" ? key : `${path}.${key}`, depth + 1);
    }
  };
  walk(props, "", 0);
}

/**
 * Props renamed in 0.2 (one name per idea across the constructs): an old name is a ConfigError naming the
 * new one, never silently ignored (a JavaScript stack, or a cast, would otherwise lose the setting).
 */
export function checkRenamedProps(
  problems: Problems,
  props: unknown,
  renamed: Record<string, string>,
  prefix = "",
): void {
  if (props === null || typeof props !== "object") return;
  for (const [old, now] of Object.entries(renamed)) {
    const value = (props as Record<string, unknown>)[old];
    if (value !== undefined)
      problems.add(`${prefix}${old}`, value, `This prop is now called ${prefix}${now} (see CHANGELOG.md); rename it.`);
  }
}
