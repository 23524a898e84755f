import { IConstruct } from "constructs";
import { Finding, blocking, evaluate, stackViewOf } from "./engine";
import { PolicyProfile } from "./profiles";
import { ALL_RULES } from "./rules";
import { suppressionsIn } from "./security-policy";
import { ResourceView } from "./types";

/**
 * The one definition of a hardened container: the container rules (ZTA-CTR-*), as SecurityPolicy
 * applies them. The tests' `hardeningGaps` and SandboxRunner's re-check of its synthesized JSON
 * both ask these rules instead of restating them.
 */
export const CONTAINER_RULES = ALL_RULES.filter((r) => r.meta.id.startsWith("ZTA-CTR-"));

export interface ContainerCheckOptions {
  /**
   * The construct tree the JSON was synthesized from (its stack). Suppressions on a container's
   * construct or an ancestor are honoured exactly as SecurityPolicy honours them.
   * @default no suppression is honoured
   */
  readonly scope?: IConstruct;
  /** Which `docker_container` resources to check. @default every one */
  readonly select?: (container: ResourceView) => boolean;
}

/**
 * The container rules' open findings on the `docker_container` resources of a synthesized stack
 * (`stack.toTerraform()`, with its `//` metadata so paths are known): every severity counts, as in
 * the production profile, and suppressed findings are left out. Empty means hardened. A rule that
 * throws is a finding too (never a silent pass).
 */
export function containerFindings(
  terraformJson: Record<string, unknown>,
  options: ContainerCheckOptions = {},
): Finding[] {
  const select = options.select ?? (() => true);
  const suppressionFor = options.scope ? suppressionsIn(options.scope) : () => undefined;
  const inScope = (r: ResourceView) => r.type === "docker_container" && select(r);
  return blocking(
    evaluate(CONTAINER_RULES, stackViewOf(terraformJson), PolicyProfile.PRODUCTION, suppressionFor, inScope),
  );
}
