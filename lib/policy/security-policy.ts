import * as fs from "fs";
import * as path from "path";
import { Annotations, App, Aspects, IAspect, TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { Problems, SECURITY_POLICY_MARK, whereIs } from "../errors";
import { Finding, Suppression, blocking, describeFinding, evaluate, stackViewOf } from "./engine";
import { PolicyProfile } from "./profiles";
import { JSON_REPORT_FILE, SARIF_REPORT_FILE, jsonReport, sarifReport } from "./report";
import { ALL_RULES } from "./rules";
import { readList, readObject, readString, readStrings } from "../shape";
import { FindingLevel, IPolicyRule, ResourceView, RuleMetadata, RuleSeverity } from "./types";

export interface SecurityPolicyProps {
  /**
   * The preset of rule levels: `PolicyProfile.HOMELAB`, `TEAM` or `PRODUCTION`. (A JavaScript stack may
   * pass the name, e.g. "team"; an unknown name is a ConfigError naming the three.)
   * @default PolicyProfile.PRODUCTION
   */
  readonly profile?: PolicyProfile;
  /**
   * Write `security-report.json` and `security-report.sarif` for every checked stack.
   * @default true
   */
  readonly writeReports?: boolean;
  /**
   * Where the reports go.
   * @default the stack's output folder, `<app outdir>/stacks/<stack id>/` (next to cdk.tf.json)
   */
  readonly reportDirectory?: string;
  /**
   * Your own rules (a rule pack), checked after the built-in ones and treated exactly like them:
   * levelled by their severity under the profile, suppressible with `SecurityPolicy.suppress`, in
   * the reports. Ids must be unique and must not start with `ZTA-` (the library's namespace), e.g.
   * `ACME-NET-001`. See examples/custom-rule.ts.
   * @default only the built-in rules
   */
  readonly additionalRules?: IPolicyRule[];
}

/** Rule ids: upper-case words joined by dashes, e.g. `ZTA-CTR-002`, `ACME-NET-001`. */
const RULE_ID = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$/;
const BUILT_IN_PREFIX = "ZTA-";

/** The checked user rules; every problem at once, each naming `additionalRules[i]...`. */
function readAdditionalRules(value: unknown): IPolicyRule[] {
  const problems = new Problems("SecurityPolicy");
  const rules = readList<unknown>(problems, "additionalRules", value, false, "[myRule]");
  const seen = new Set(ALL_RULES.map((r) => r.meta.id));
  const severities = Object.values(RuleSeverity) as string[];
  rules.forEach((rule, i) => {
    const at = `additionalRules[${i}]`;
    const r = readObject<Partial<IPolicyRule>>(problems, at, rule, true, "an object with `meta` and `check`") ?? {};
    problems.check(
      typeof r.check === "function",
      `${at}.check`,
      r.check,
      "Give a function check(resource, stack) that returns a RuleOutcome.",
    );
    const meta =
      readObject<Partial<RuleMetadata>>(
        problems,
        `${at}.meta`,
        r.meta,
        true,
        "{ id, title, explanation, fix, severity, references, resourceTypes }",
      ) ?? {};
    const id = readString(problems, `${at}.meta.id`, meta.id, true, '"ACME-NET-001"') ?? "";
    if (id !== "") {
      if (id.startsWith(BUILT_IN_PREFIX))
        problems.add(
          `${at}.meta.id`,
          id,
          `Ids starting with ${BUILT_IN_PREFIX} belong to the built-in rules; use your own prefix, e.g. "ACME-NET-001".`,
        );
      else if (!RULE_ID.test(id))
        problems.add(`${at}.meta.id`, id, 'Use upper-case words joined by dashes, e.g. "ACME-NET-001".');
      else if (seen.has(id)) problems.add(`${at}.meta.id`, id, "Another rule has this id; give every rule its own.");
      seen.add(id);
    }
    for (const field of ["title", "explanation", "fix"] as const)
      readString(problems, `${at}.meta.${field}`, meta[field], true, "one sentence");
    problems.check(
      severities.includes(meta.severity as string),
      `${at}.meta.severity`,
      meta.severity,
      `Use RuleSeverity.HIGH, MEDIUM or LOW (${severities.map((v) => `"${v}"`).join(", ")}).`,
    );
    readStrings(problems, `${at}.meta.references`, meta.references, true, '["an internal standard, a CIS control"]');
    const types = readStrings(problems, `${at}.meta.resourceTypes`, meta.resourceTypes, true, '["docker_container"]');
    if (Array.isArray(meta.resourceTypes) && types.length === 0)
      problems.add(
        `${at}.meta.resourceTypes`,
        [],
        'Name the Terraform resource types the rule judges, e.g. ["docker_container"]; with none it never runs.',
      );
  });
  problems.throwIfAny();
  return rules as IPolicyRule[];
}

/** Thrown at synth when findings at the profile's error level are not suppressed. */
export class PolicyViolationError extends Error {
  /** The open error findings (the message already lists them). */
  public readonly findings!: Finding[];

  constructor(message: string, findings: Finding[]) {
    super(message);
    this.name = "PolicyViolationError";
    // Not enumerable: Node prints an error's own enumerable properties after its message, and the
    // CLI output would repeat every finding as an object dump.
    Object.defineProperty(this, "findings", { value: findings, enumerable: false });
  }
}

/** The checked result of one stack, kept on the aspect for tests and tooling. */
export interface StackPolicyResult {
  readonly stackPath: string;
  readonly findings: Finding[];
  /** Files written, empty when reports are off. */
  readonly reportFiles: string[];
}

const SUPPRESS_METADATA = "zta:policy-suppress";

/**
 * The suppression covering a resource of `stack` for a rule: one attached to the resource's
 * construct or to its nearest ancestor that has one. Shared by the aspect and containerFindings,
 * so an exception means the same everywhere.
 */
export function suppressionsIn(stack: IConstruct): (resource: ResourceView, ruleId: string) => Suppression | undefined {
  const constructs = new Map<string, IConstruct>(stack.node.findAll().map((c) => [c.node.path, c]));
  return (resource, ruleId) => {
    const construct = constructs.get(resource.path);
    const chain = construct ? [...construct.node.scopes].reverse() : [];
    for (const c of chain) {
      const found = SecurityPolicy.suppressionsOn(c).find((s) => s.ruleId === ruleId);
      if (found) return found;
    }
    return undefined;
  };
}
const MIN_REASON_LENGTH = 10;

/**
 * A cdktf Aspect that checks every `docker_container`, `docker_image` and Cloudflare tunnel
 * config in the scope it is added to — the library's own and those declared directly with the
 * provider classes — against the rules in `lib/policy/rules`.
 *
 * Rules read the resolved Terraform JSON (`stack.toTerraform()`), not construct props, so a
 * resource is judged by what Terraform will actually be asked to create. The whole scope is
 * evaluated once, when the aspect visits the construct it was added to (aspects visit top-down,
 * after every construct exists); findings at the profile's error level fail synth with one
 * error listing all of them, lower ones become warning annotations, and the reports are written
 * before anything is thrown.
 *
 *   Aspects.of(stack).add(new SecurityPolicy({ profile: PolicyProfile.PRODUCTION }));
 *   SecurityPolicy.suppress(container, "ZTA-CTR-005", "vendor image writes /var/cache; OPS-12");
 */
export class SecurityPolicy implements IAspect {
  /** Metadata of every built-in rule (RULES.md is generated from it). */
  public static get rules(): RuleMetadata[] {
    return ALL_RULES.map((r) => r.meta);
  }

  /**
   * Accepts a rule's finding on `scope` and everything under it, for a reason that goes into the
   * reports. The reason must say why (at least 10 characters).
   */
  public static suppress(scope: IConstruct, ruleId: string, reason: string): void {
    const problems = new Problems(whereIs("SecurityPolicy.suppress", scope.node.path));
    const known = ALL_RULES.map((r) => r.meta.id);
    // A built-in id is checked here; another (a rule of `additionalRules`) when the policy runs,
    // since only the policy knows its additional rules.
    const plausible =
      typeof ruleId === "string" &&
      (known.includes(ruleId) || (!ruleId.startsWith(BUILT_IN_PREFIX) && RULE_ID.test(ruleId)));
    problems.check(
      plausible,
      "ruleId",
      ruleId,
      `Use one of the rule ids: ${known.join(", ")}, or the id of one of your additionalRules.`,
    );
    problems.check(
      typeof reason === "string" && reason.trim().length >= MIN_REASON_LENGTH,
      "reason",
      reason,
      `Say why the exception is acceptable (at least ${MIN_REASON_LENGTH} characters), e.g. a ticket and the compensating control.`,
    );
    problems.throwIfAny();
    scope.node.addMetadata(SUPPRESS_METADATA, { ruleId, reason: reason.trim() });
  }

  /** Suppressions attached to this construct itself (not its ancestors). */
  public static suppressionsOn(scope: IConstruct): Suppression[] {
    return scope.node.metadata
      .filter((m) => m.type === SUPPRESS_METADATA)
      .map((m) => ({ ...(m.data as { ruleId: string; reason: string }), path: scope.node.path }));
  }

  public readonly profile: PolicyProfile;
  /** The rules this policy checks: the built-in ones, then `additionalRules`. */
  public readonly ruleSet: IPolicyRule[];
  /** Results of the latest evaluation, one per stack checked. */
  public readonly results: StackPolicyResult[] = [];
  private readonly writeReports: boolean;
  private readonly reportDirectory?: string;

  constructor(props: SecurityPolicyProps = {}) {
    Object.defineProperty(this, SECURITY_POLICY_MARK, { value: true });
    const given: unknown = props.profile ?? PolicyProfile.PRODUCTION;
    this.profile = given instanceof PolicyProfile ? given : PolicyProfile.named(String(given));
    this.writeReports = props.writeReports ?? true;
    this.reportDirectory = props.reportDirectory;
    this.ruleSet = [...ALL_RULES, ...readAdditionalRules(props.additionalRules)];
  }

  public visit(node: IConstruct): void {
    // Only the construct the aspect was added to starts an evaluation; that happens once per synth.
    if (!Aspects.of(node).all.includes(this)) return;
    // cdktf invokes aspects per stack, from the stack down: one added to the App never runs.
    this.check(TerraformStack.of(node), node);
  }

  private check(stack: TerraformStack, scope: IConstruct): void {
    const view = stackViewOf(stack.toTerraform() as Record<string, unknown>);
    const constructs = new Map<string, IConstruct>(stack.node.findAll().map((c) => [c.node.path, c]));
    const prefix = scope.node.path;
    const inScope = (path: string) => path === prefix || path.startsWith(`${prefix}/`) || scope === stack;
    unknownSuppressions(stack);
    const findings = evaluate(this.ruleSet, view, this.profile, suppressionsIn(stack), (resource) =>
      inScope(resource.path),
    );

    const reportFiles = this.writeReports
      ? this.write(stack, findings, view.resources.filter((r) => inScope(r.path)).length)
      : [];
    const index = this.results.findIndex((r) => r.stackPath === stack.node.path);
    if (index >= 0) this.results.splice(index, 1);
    this.results.push({ stackPath: stack.node.path, findings, reportFiles });

    for (const f of findings.filter((x) => x.level === FindingLevel.WARNING && x.suppression === undefined)) {
      const target = constructs.get(f.path) ?? stack;
      const message = `SecurityPolicy (${this.profile.name}): ${describeFinding(f)}`;
      // Aspects run on every synth of the same tree; do not repeat a warning already recorded.
      if (!target.node.metadata.some((m) => m.data === message)) Annotations.of(target).addWarning(message);
    }
    const errors = blocking(findings);
    if (errors.length > 0) {
      throw new PolicyViolationError(
        `SecurityPolicy (profile ${this.profile.name}) found ${errors.length} error finding${errors.length === 1 ? "" : "s"} in stack "${stack.node.path}":\n` +
          errors.map((f) => `  - ${describeFinding(f)}`).join("\n") +
          (reportFiles.length ? `\nReports: ${reportFiles.join(", ")}` : "") +
          "\nFix them, or suppress one with SecurityPolicy.suppress(construct, ruleId, reason).",
        errors,
      );
    }
  }

  private write(stack: TerraformStack, findings: Finding[], resourcesChecked: number): string[] {
    const dir = this.reportDirectory ?? path.join(App.of(stack).outdir, "stacks", stack.node.id);
    fs.mkdirSync(dir, { recursive: true });
    const input = {
      stack: stack.node.path,
      profile: this.profile.name,
      rules: this.ruleSet,
      findings,
      resourcesChecked,
    };
    const files = [path.join(dir, JSON_REPORT_FILE), path.join(dir, SARIF_REPORT_FILE)];
    fs.writeFileSync(files[0], `${JSON.stringify(jsonReport(input), null, 2)}\n`);
    fs.writeFileSync(files[1], `${JSON.stringify(sarifReport(input), null, 2)}\n`);
    return files;
  }
}

/**
 * Suppressions naming a rule that no SecurityPolicy on the stack has (a typo, or a pack that was
 * removed): a ConfigError, since the exception would silently cover nothing.
 */
function unknownSuppressions(stack: TerraformStack): void {
  const all = stack.node.findAll();
  const known = new Set(
    all
      .flatMap((c) => Aspects.of(c).all)
      .filter((a): a is SecurityPolicy => a instanceof SecurityPolicy)
      .flatMap((p) => p.ruleSet.map((r) => r.meta.id)),
  );
  const problems = new Problems("SecurityPolicy.suppress");
  for (const s of all.flatMap((c) => SecurityPolicy.suppressionsOn(c))) {
    if (!known.has(s.ruleId))
      problems.add(
        `ruleId (on "${s.path}")`,
        s.ruleId,
        `No SecurityPolicy on this stack has that rule: fix the id, or add the rule to a policy's additionalRules.`,
      );
  }
  problems.throwIfAny();
}
