import { Token } from "cdktf";

/**
 * Every configuration problem the library finds is reported through this file, so the
 * wording is consistent: the prop, the value received, and the fix.
 */

/** One problem with one prop. */
export interface ConfigProblem {
  /** The prop's path as the user wrote it, e.g. `model.revision`. */
  readonly prop: string;
  /** The value received, rendered for humans. */
  readonly received: string;
  /** What to do instead. */
  readonly fix: string;
}

/** Thrown at synth time (from a constructor) when props are invalid. Lists every problem at once. */
export class ConfigError extends Error {
  public readonly problems: ConfigProblem[];

  constructor(where: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.prop}: received ${p.received}. ${p.fix}`);
    super(
      `${where}: ${problems.length} invalid prop${problems.length === 1 ? "" : "s"}\n${lines.join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Renders a value for an error message without dumping secrets or huge objects. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the prop is missing)";
  // A variable's `.value` is a token object, not a string: check before looking at the type.
  if (Token.isUnresolved(value)) return "a Terraform reference";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
  }
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : JSON.stringify(value);
  return JSON.stringify(value);
}

/** True when the value is a token that only Terraform will know; validators skip those. */
export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/**
 * Collects problems while a constructor validates its props, then throws once.
 *
 *   const problems = new Problems(`SecureInference "${this.node.path}"`);
 *   problems.check(isPinned(rev), "model.revision", rev, "Pin a 40-hex commit ...");
 *   problems.throwIfAny();
 */
export class Problems {
  private readonly found: ConfigProblem[] = [];

  constructor(private readonly where: string) {}

  /** Records a problem. */
  public add(prop: string, value: unknown, fix: string): void {
    this.found.push({ prop, received: describeValue(value), fix });
  }

  /** Records a problem unless `ok` holds. */
  public check(ok: boolean, prop: string, value: unknown, fix: string): void {
    if (!ok) this.add(prop, value, fix);
  }

  public get count(): number {
    return this.found.length;
  }

  public throwIfAny(): void {
    if (this.found.length > 0) throw new ConfigError(this.where, this.found);
  }
}

/** The `where` part of error messages: construct type plus its path. */
export function whereIs(kind: string, path: string): string {
  return `${kind} "${path}"`;
}
