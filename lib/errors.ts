import { App, Aspects, TerraformElement, TerraformStack, Token } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { duplicateDockerNames } from "./docker-names";

/**
 * Every configuration problem the library finds is reported through this file, so the
 * wording is consistent: the prop, the value received, and the fix.
 *
 * How problems surface (the decision, and why):
 * - A constructor checks its props, records what is wrong in its stack's problem list and goes on
 *   building with safe stand-in values. So one bad prop never hides another, in the same
 *   construct or in the next one the stack file creates.
 * - Any synthesis of that stack (`app.synth()`, `Testing.synth(stack)`, `stack.toTerraform()`)
 *   then throws ONE `ConfigError` listing every problem of every construct of the stack, before
 *   any Terraform JSON exists. A guard element, the first child of each library construct,
 *   throws it as soon as cdktf resolves the stack, so nothing can synthesize around it.
 * - Checks that need the whole stack (duplicate Docker names, missing providers) run there too.
 */

/** One problem with one prop. */
export interface ConfigProblem {
  /** The prop's path as the user wrote it, e.g. `model.revision`. */
  readonly prop: string;
  /** The value received, rendered for humans. */
  readonly received: string;
  /** What to do instead. */
  readonly fix: string;
  /** Which construct reported it, e.g. `SecureInference "stack/inference"`. @default the error's `where` */
  readonly where?: string;
}

/** Thrown at synth time when props are invalid. Lists every problem at once, each once. */
export class ConfigError extends Error {
  /** The problems (the message already lists them). */
  public readonly problems!: ConfigProblem[];

  constructor(where: string, problems: ConfigProblem[]) {
    const places = [...new Set(problems.map((p) => p.where ?? where))];
    const line = (p: ConfigProblem) => `  - ${p.prop}: received ${p.received}. ${p.fix}`;
    const count = `${problems.length} invalid prop${problems.length === 1 ? "" : "s"}`;
    const message =
      places.length <= 1
        ? `${places[0] ?? where}: ${count}\n${problems.map(line).join("\n")}`
        : `${where}: ${count}\n` +
          places
            .map(
              (w) =>
                `${w}:\n${problems
                  .filter((p) => (p.where ?? where) === w)
                  .map(line)
                  .join("\n")}`,
            )
            .join("\n");
    super(message);
    this.name = "ConfigError";
    // Not enumerable: Node prints an error's own enumerable properties after its message, and the
    // CLI output would repeat every problem as an object dump.
    Object.defineProperty(this, "problems", { value: problems, enumerable: false });
  }
}

/** Renders a value for an error message without dumping secrets or huge objects. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the prop is missing)";
  if (value === null) return "null";
  // A variable's `.value` is a token object, not a string: check before looking at the type.
  if (Token.isUnresolved(value)) return "a Terraform reference";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
  }
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : shorten(safeJson(value));
  if (typeof value === "object") {
    // A construct (e.g. a SecureInference where its edge was expected): name it, do not dump it.
    const path = (value as { node?: { path?: unknown } }).node?.path;
    if (typeof path === "string") return `the ${value.constructor.name} "${path}"`;
  }
  return shorten(safeJson(value));
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** True when the value is a token that only Terraform will know; validators skip those. */
export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/** A check over the whole stack, run at synth: returns problems (empty = fine). */
export type StackCheck = (stack: TerraformStack) => ConfigProblem[];

/** The problems recorded in one stack, and the stack-wide checks. */
class StackProblems {
  public readonly found: { path: string; problem: ConfigProblem }[] = [];
  public readonly checks = new Map<string, StackCheck>();

  constructor(private readonly stack: TerraformStack) {}

  public all(): ConfigProblem[] {
    // A problem a parent construct already reported for the same value is not repeated by the
    // sub-construct it passed that value to (e.g. SecureInference's `domain` and its edge's `hostnames`).
    const kept = this.found.filter(
      ({ path, problem }) =>
        !this.found.some(
          (other) =>
            other.path !== path &&
            path.startsWith(`${other.path}/`) &&
            other.problem.received === problem.received &&
            !GENERIC_VALUES.includes(problem.received),
        ),
    );
    const stackWide = [...this.checks.values()].flatMap((check) => check(this.stack));
    return [...kept.map((k) => k.problem), ...stackWide];
  }

  public throwIfAny(): void {
    const problems = this.all();
    if (problems.length > 0) throw new ConfigError(`Stack "${this.stack.node.path}"`, problems);
  }
}

/** Descriptions too common to mean "the same value". */
const GENERIC_VALUES = [
  "nothing (the prop is missing)",
  "a Terraform reference",
  "an empty list",
  "null",
  "true",
  "false",
];

const REGISTRY = new WeakMap<TerraformStack, StackProblems>();

function problemsOf(stack: TerraformStack): StackProblems {
  let found = REGISTRY.get(stack);
  if (!found) {
    const registry = new StackProblems(stack);
    REGISTRY.set(stack, registry);
    // Validations run before the JSON is resolved (Testing.synth(stack, true), app.synth()):
    // throw the ConfigError there too, before cdktf's generic messages (e.g. its provider check).
    stack.node.addValidation({
      validate: () => {
        registry.throwIfAny();
        return [];
      },
    });
    found = registry;
  }
  return found;
}

/** Adds a check that runs over the whole stack at synth (once per key and stack). */
export function addStackCheck(scope: IConstruct, key: string, check: StackCheck): void {
  const registry = problemsOf(TerraformStack.of(scope));
  if (!registry.checks.has(key)) registry.checks.set(key, check);
}

/** Every problem recorded in the stack so far, with the stack-wide checks (for tests and tools). */
export function stackProblems(scope: IConstruct): ConfigProblem[] {
  return problemsOf(TerraformStack.of(scope)).all();
}

/**
 * Emits nothing; throws the stack's ConfigError whenever cdktf resolves the stack (metadata first,
 * then the JSON), so no synthesis can succeed while a problem is recorded.
 */
class ConfigGuard extends TerraformElement {
  public toMetadata(): Record<string, unknown> {
    problemsOf(TerraformStack.of(this)).throwIfAny();
    return {};
  }

  public toTerraform(): Record<string, unknown> {
    problemsOf(TerraformStack.of(this)).throwIfAny();
    return {};
  }

  public toHclTerraform(): Record<string, unknown> {
    return this.toTerraform();
  }
}

const GUARD_ID = "zta-config-check";

/**
 * Collects problems while a constructor validates its props.
 *
 *   const problems = new Problems(`SecureInference "${this.node.path}"`, this);
 *   problems.check(isPinned(rev), "model.revision", rev, "Pin a 40-hex commit ...");
 *   problems.report();   // records them in the stack; synth throws one ConfigError for all
 *
 * Without a scope (helpers, methods called later), `throwIfAny()` throws at once.
 */
export class Problems {
  private readonly found: ConfigProblem[] = [];

  constructor(
    private readonly where: string,
    private readonly scope?: Construct,
  ) {}

  /** Records a problem. */
  public add(prop: string, value: unknown, fix: string): void {
    this.found.push({ prop, received: describeValue(value), fix, where: this.where });
  }

  /** Records a problem whose received value is already described in words. */
  public addDescribed(prop: string, received: string, fix: string): void {
    this.found.push({ prop, received, fix, where: this.where });
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

  /**
   * Records the problems in the scope's stack (synth throws them, with every other construct's)
   * and puts the guard in place. Call it before the constructor creates any child. Returns true
   * when this construct found nothing wrong.
   */
  public report(): boolean {
    if (!this.scope) {
      this.throwIfAny();
      return true;
    }
    const registry = problemsOf(TerraformStack.of(this.scope));
    if (!registry.checks.has("docker-names")) registry.checks.set("docker-names", duplicateDockerNames);
    if (!registry.checks.has("app-policy")) registry.checks.set("app-policy", policyOnTheApp);
    for (const problem of this.found) registry.found.push({ path: this.scope.node.path, problem });
    if (!this.scope.node.tryFindChild(GUARD_ID)) new ConfigGuard(this.scope, GUARD_ID);
    return this.found.length === 0;
  }
}

/** Marks SecurityPolicy instances (a symbol, so this file need not import the policy). */
export const SECURITY_POLICY_MARK = Symbol.for("cdktf-zero-trust-ai.SecurityPolicy");

/**
 * cdktf invokes aspects per stack, starting at the stack: an aspect added to the App never runs.
 * A SecurityPolicy there would check nothing and write no report while looking enforced, so it
 * is refused loudly instead.
 */
function policyOnTheApp(stack: TerraformStack): ConfigProblem[] {
  let app: App;
  try {
    app = App.of(stack);
  } catch {
    return [];
  }
  const onApp = Aspects.of(app).all.some(
    (a) => (a as unknown as Record<symbol, unknown>)[SECURITY_POLICY_MARK] === true,
  );
  return onApp
    ? [
        {
          prop: "Aspects.of(app)",
          received: "a SecurityPolicy added to the App",
          fix:
            "cdktf never runs aspects added to the App, so it would check nothing. Add it to each stack: " +
            'Aspects.of(stack).add(new SecurityPolicy({ profile: "production" })).',
          where: "SecurityPolicy",
        },
      ]
    : [];
}

/** The `where` part of error messages: construct type plus its path. */
export function whereIs(kind: string, path: string): string {
  return `${kind} "${path}"`;
}

/**
 * For an app's entry file: synthesizes, and prints a ConfigError or PolicyViolationError as its
 * message only (each problem once, no stack trace), then exits non-zero. Other errors are rethrown.
 */
export function synthOrExit(app: { synth(): void }): void {
  try {
    app.synth();
  } catch (e) {
    if (e instanceof Error && (e.name === "ConfigError" || e.name === "PolicyViolationError")) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

/**
 * A construct path as people read it: without the "Default" segments (the id a construct gives its one
 * HardenedService, which cdktf also leaves out of logical ids).
 */
export function readablePath(path: string): string {
  return path
    .split("/")
    .filter((p) => p !== "Default")
    .join("/");
}
