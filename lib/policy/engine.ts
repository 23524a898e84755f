import { parseReference, publishedPorts } from "./docker";
import { PolicyProfile } from "./profiles";
import { FindingLevel, OutcomeStatus, PolicyRule, ResourceView, StackView } from "./types";

/** A rule's exception for one construct subtree, with the reason the user gave. */
export interface Suppression {
  readonly ruleId: string;
  readonly reason: string;
  /** Path of the construct the suppression was attached to. */
  readonly path: string;
}

/** One non-compliant (or failed) check. */
export interface Finding {
  readonly ruleId: string;
  readonly title: string;
  /** The level after the profile; suppressed findings keep the level they would have had. */
  readonly level: FindingLevel;
  /** Construct path of the resource. */
  readonly path: string;
  /** `type.logicalId` as in the Terraform JSON. */
  readonly resource: string;
  readonly detail: string;
  readonly fix: string;
  /** Set when a suppression covers it; suppressed findings never fail synth. */
  readonly suppression?: Suppression;
  /** True when the rule threw instead of answering: always an error, never suppressible. */
  readonly ruleError?: boolean;
}

/** The Terraform JSON of a stack (`stack.toTerraform()`) as rule input. */
export function stackViewOf(terraformJson: Record<string, unknown>): StackView {
  const resources: ResourceView[] = [];
  const byKey = new Map<string, ResourceView>();
  const blocks = (terraformJson.resource ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const [type, instances] of Object.entries(blocks)) {
    for (const [logicalId, config] of Object.entries(instances)) {
      const meta = (config["//"] as { metadata?: { path?: string } } | undefined)?.metadata;
      // A dynamic ports block (Lockdown) is judged as the port it publishes when not locked down.
      const dynamicPorts =
        type === "docker_container" && (config.dynamic as { ports?: unknown } | undefined)?.ports !== undefined;
      const view: ResourceView = {
        type,
        logicalId,
        path: meta?.path ?? `${type}.${logicalId}`,
        config: dynamicPorts ? { ...config, ports: publishedPorts(config) } : config,
      };
      resources.push(view);
      byKey.set(`${type}.${logicalId}`, view);
    }
  }
  return {
    resources,
    ofType: (type) => resources.filter((r) => r.type === type),
    referenced: (value) => {
      const ref = parseReference(value);
      return ref ? byKey.get(`${ref.type}.${ref.logicalId}`) : undefined;
    },
  };
}

/**
 * Runs every rule on every resource of its types. A rule that throws becomes an error finding
 * (the policy must not crash synth, nor silently pass what it could not check).
 */
export function evaluate(
  rules: PolicyRule[],
  stack: StackView,
  profile: PolicyProfile,
  suppressionFor: (resource: ResourceView, ruleId: string) => Suppression | undefined,
  inScope: (resource: ResourceView) => boolean = () => true,
): Finding[] {
  const findings: Finding[] = [];
  for (const rule of rules) {
    const level = profile.levelFor(rule.meta.severity);
    if (level === FindingLevel.OFF) continue;
    for (const resource of stack.resources) {
      if (!rule.meta.resourceTypes.includes(resource.type) || !inScope(resource)) continue;
      const base = {
        ruleId: rule.meta.id,
        title: rule.meta.title,
        path: resource.path,
        resource: `${resource.type}.${resource.logicalId}`,
        fix: rule.meta.fix,
      };
      let outcome;
      try {
        outcome = rule.check(resource, stack);
      } catch (err) {
        findings.push({
          ...base,
          level: FindingLevel.ERROR,
          detail: `the rule failed to evaluate: ${err instanceof Error ? err.message : String(err)}`,
          fix: "This is a bug in the rule; report it with the resource's synthesized JSON. The resource was not checked.",
          ruleError: true,
        });
        continue;
      }
      if (outcome.status !== OutcomeStatus.NON_COMPLIANT) continue;
      findings.push({
        ...base,
        level,
        detail: outcome.detail ?? "",
        suppression: suppressionFor(resource, rule.meta.id),
      });
    }
  }
  return findings;
}

/** Findings that fail synth: errors that no suppression covers. */
export function blocking(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.level === FindingLevel.ERROR && f.suppression === undefined);
}

/** One line per finding, for the synth error and warnings. */
export function describeFinding(f: Finding): string {
  return `[${f.path}] ${f.ruleId} ${f.title}: ${f.detail}. Fix: ${f.fix}`;
}
