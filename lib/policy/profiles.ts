import { Problems } from "../errors";
import { FindingLevel, RuleSeverity } from "./types";

/**
 * A profile is a named preset of finding levels per rule severity, matching the three threat
 * profiles of DESIGN.md. The rule's own severity decides; a profile never names single rules, so
 * adding a rule needs no profile edit.
 */
export class PolicyProfile {
  /** Solo homelab: only what breaks isolation or exposes the service fails synth. */
  public static readonly HOMELAB = new PolicyProfile(
    "homelab",
    FindingLevel.ERROR,
    FindingLevel.WARNING,
    FindingLevel.WARNING,
  );
  /** Small team: hardening gaps fail too; operational hygiene warns. */
  public static readonly TEAM = new PolicyProfile("team", FindingLevel.ERROR, FindingLevel.ERROR, FindingLevel.WARNING);
  /** Multi-tenant production: every finding fails synth unless suppressed with a reason. */
  public static readonly PRODUCTION = new PolicyProfile(
    "production",
    FindingLevel.ERROR,
    FindingLevel.ERROR,
    FindingLevel.ERROR,
  );

  public static readonly ALL: PolicyProfile[] = [PolicyProfile.HOMELAB, PolicyProfile.TEAM, PolicyProfile.PRODUCTION];

  /** The preset with this name; a ConfigError naming the choices otherwise. */
  public static named(name: string): PolicyProfile {
    const found = PolicyProfile.ALL.find((p) => p.name === name);
    if (found) return found;
    const problems = new Problems("SecurityPolicy");
    problems.add("profile", name, `Use one of ${PolicyProfile.ALL.map((p) => `"${p.name}"`).join(", ")}.`);
    problems.throwIfAny();
    throw new Error("unreachable");
  }

  private constructor(
    public readonly name: string,
    private readonly high: FindingLevel,
    private readonly medium: FindingLevel,
    private readonly low: FindingLevel,
  ) {}

  /** The level a finding of this severity gets in this profile. */
  public levelFor(severity: RuleSeverity): FindingLevel {
    switch (severity) {
      case RuleSeverity.HIGH:
        return this.high;
      case RuleSeverity.MEDIUM:
        return this.medium;
      default:
        return this.low;
    }
  }
}
