import { TerraformStack, Testing, Token } from "cdktf";
import { ConfigError, stackProblems } from "../index";

/**
 * A reusable wrong-shape checker for construct props, for the JavaScript user (or a cast) whose props
 * TypeScript never saw. From one valid props object it derives, for every prop path (nested objects
 * and the first element of lists, two levels deep), the likely wrong shapes of that value: a number
 * or a list for a string, a string for a number, a boolean or a list, an object for a list, and so on.
 * Each must be a ConfigError naming that path (or a parent of it), never a TypeError and never a
 * silent acceptance.
 */

export interface ShapeCase {
  /** The prop path as ConfigErrors name it, e.g. `model.revision`, `env[0].name`. */
  readonly path: string;
  readonly value: unknown;
}

function kind(v: unknown): string {
  if (Array.isArray(v)) return "list";
  if (v === null) return "null";
  return typeof v;
}

const WRONG: Record<string, unknown[]> = {
  string: [42, ["x"]],
  number: ["12", [1]],
  boolean: ["true", 1],
  list: ["x", { key: "value" }],
  object: ["x", ["x"]],
};

/** Values the checker leaves alone: Terraform tokens and constructs (their shape is the type system's). */
function opaque(v: unknown): boolean {
  return Token.isUnresolved(v) || (typeof v === "object" && v !== null && "node" in v);
}

/** Every (path, wrong value) pair derived from `props`. */
export function wrongShapes(props: Record<string, unknown>, depth = 2, prefix = ""): ShapeCase[] {
  const cases: ShapeCase[] = [];
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || opaque(value)) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    for (const wrong of WRONG[kind(value)] ?? []) cases.push({ path, value: wrong });
    if (depth <= 0) continue;
    if (kind(value) === "object") cases.push(...wrongShapes(value as Record<string, unknown>, depth - 1, path));
    if (Array.isArray(value) && value.length > 0 && kind(value[0]) === "object" && !opaque(value[0])) {
      cases.push(...wrongShapes(value[0] as Record<string, unknown>, depth - 1, `${path}[0]`));
      for (const wrong of ["x", 42]) cases.push({ path: `${path}[0]`, value: wrong });
    }
  }
  return cases;
}

/** `props` with the value at `path` replaced (copies along the path, the rest shared). */
export function withValueAt(props: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split(".");
  const m = /^(\w+)\[(\d+)\]$/.exec(head);
  if (m) {
    const list = [...(props[m[1]] as unknown[])];
    list[Number(m[2])] = rest.length
      ? withValueAt(list[Number(m[2])] as Record<string, unknown>, rest.join("."), value)
      : value;
    return { ...props, [m[1]]: list };
  }
  return {
    ...props,
    [head]: rest.length ? withValueAt(props[head] as Record<string, unknown>, rest.join("."), value) : value,
  };
}

/**
 * What happened when the construct was built with a wrong shape: "ok" when a ConfigError names the
 * path or a parent, otherwise a description of what went wrong instead.
 */
export function outcomeOf(
  build: (stack: TerraformStack) => void,
  makeStack: () => TerraformStack,
  casePath: string,
  alias: (path: string) => string = (p) => p,
): string {
  // `alias`: a construct that names list entries by a key (`allowedSecretEnv.GITHUB_TOKEN`) instead of an index.
  const path = alias(casePath);
  const names = (prop: string) => prop === path || path.startsWith(`${prop}.`) || path.startsWith(`${prop}[`);
  const stack = makeStack();
  try {
    build(stack);
    const problems = stackProblems(stack);
    if (problems.some((p) => names(p.prop))) return "ok";
    Testing.synth(stack);
    return `accepted silently${problems.length ? ` (problems: ${problems.map((p) => p.prop).join(", ")})` : ""}`;
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.some((p) => names(p.prop))
        ? "ok"
        : `ConfigError naming ${e.problems.map((p) => p.prop).join(", ")}`;
    }
    return `${e instanceof Error ? e.name : "thrown"}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
  }
}
