/**
 * The policy engine's vocabulary. A rule is metadata plus one small pure function that looks at
 * one synthesized resource (its resolved Terraform JSON) and answers compliant, non-compliant or
 * not applicable. Rules never see constructs, so they judge user-declared provider resources
 * exactly like the library's own.
 */

/** How bad a violation is; profiles map severities to finding levels. */
export enum RuleSeverity {
  /** Breaks isolation or exposes the service (privileged, socket, host network, open port). */
  HIGH = "high",
  /** Weakens a layer of defence (writable rootfs, no limits, root user, unpinned image). */
  MEDIUM = "medium",
  /** Operational hygiene (healthcheck, restart bound, log rotation). */
  LOW = "low",
}

/** What a finding does at synth. */
export enum FindingLevel {
  /** Fails synth. */
  ERROR = "error",
  /** Printed as a cdktf warning annotation; synth goes on. */
  WARNING = "warning",
  /** Not evaluated. */
  OFF = "off",
}

/** Everything the README, the reports and the error messages say about a rule. */
export interface RuleMetadata {
  /** Stable id, e.g. `ZTA-CTR-002`. Never reused for another meaning. */
  readonly id: string;
  /** One line. */
  readonly title: string;
  /** Why it matters. */
  readonly explanation: string;
  /** What to do instead. */
  readonly fix: string;
  readonly severity: RuleSeverity;
  /** CIS Docker Benchmark v1.2.0 controls, OWASP Top 10 for LLM Applications 2025 entries, docs. */
  readonly references: string[];
  /** Terraform resource types the rule looks at, e.g. `docker_container`. */
  readonly resourceTypes: string[];
}

/** One synthesized resource as the rules see it. */
export interface ResourceView {
  /** Terraform type, e.g. `docker_container`. */
  readonly type: string;
  /** Terraform logical id (the key under `resource.<type>`). */
  readonly logicalId: string;
  /** Construct path, e.g. `stack/inference/edge/container`. */
  readonly path: string;
  /** Resolved attributes in Terraform's snake_case; references stay as `${type.id.attr}` strings. */
  readonly config: Record<string, unknown>;
}

/**
 * The whole stack, for rules that must follow a reference (a network, an image, a shared volume).
 * An `I` interface because it has methods (jsii's rule for behavioural interfaces).
 */
export interface IStackView {
  readonly resources: ResourceView[];
  /** The resource a `${type.logicalId.attr}` reference points at, or undefined. */
  referenced(value: unknown): ResourceView | undefined;
  ofType(type: string): ResourceView[];
}

export enum OutcomeStatus {
  COMPLIANT = "compliant",
  NON_COMPLIANT = "non-compliant",
  NOT_APPLICABLE = "not-applicable",
}

export interface RuleOutcome {
  readonly status: OutcomeStatus;
  /** For non-compliant: what exactly is wrong; for not applicable: why. */
  readonly detail?: string;
}

/**
 * A rule: metadata and the check. Implement it to add your own rules to a SecurityPolicy
 * (`additionalRules`); they are evaluated, levelled by severity, suppressed and reported exactly
 * like the built-in ones. `check` is called once per resource of `meta.resourceTypes`; it must not
 * change anything, and a rule that throws becomes an error finding (never a silent pass).
 */
export interface IPolicyRule {
  readonly meta: RuleMetadata;
  check(resource: ResourceView, stack: IStackView): RuleOutcome;
}

/** Internal short names (the exported, jsii-shaped ones are IPolicyRule and IStackView). */
export type PolicyRule = IPolicyRule;
export type StackView = IStackView;

export function compliant(): RuleOutcome {
  return { status: OutcomeStatus.COMPLIANT };
}

export function nonCompliant(detail: string): RuleOutcome {
  return { status: OutcomeStatus.NON_COMPLIANT, detail };
}

export function notApplicable(why: string): RuleOutcome {
  return { status: OutcomeStatus.NOT_APPLICABLE, detail: why };
}

/**
 * The three answers of a rule, for rules written outside this package (the free functions above
 * are not available to jsii languages).
 */
export class RuleOutcomes {
  public static compliant(): RuleOutcome {
    return compliant();
  }

  /** `detail` says what exactly is wrong, e.g. `privileged = true`. */
  public static nonCompliant(detail: string): RuleOutcome {
    return nonCompliant(detail);
  }

  /** `why` says why the rule does not judge this resource. */
  public static notApplicable(why: string): RuleOutcome {
    return notApplicable(why);
  }

  private constructor() {}
}
