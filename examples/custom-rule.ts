// A rule of your own for SecurityPolicy (README "Your own rules"): only containers of approved roles
// may sit on a network that is not `internal` (a network with a way off the host). Everything else
// talks over the internal networks the trust graph builds. The stack is examples/own-service.ts
// with the rule added to its production policy.
import { Aspects, App } from "cdktf";
import {
  IPolicyRule,
  IStackView,
  PolicyProfile,
  ResourceView,
  RuleMetadata,
  RuleOutcome,
  RuleOutcomes,
  RuleSeverity,
  SecurityPolicy,
} from "../index";
import { OwnServiceStack } from "./own-service";

/** The library's roles with a way off the host: the edge (clients), the OIDC gate (the IdP), the model download. */
export const APPROVED_EGRESS = ["edge", "oidc-gate", "model-fetch"];

/** Roles are read from the `zta.role` label every HardenedService writes. */
const ROLE_LABEL = "zta.role";

export class EgressAllowlist implements IPolicyRule {
  public readonly meta: RuleMetadata;

  /** `roles`: the `zta.role` values allowed on a non-internal network (the edge, a model download job). */
  constructor(private readonly roles: string[]) {
    this.meta = {
      id: "ACME-NET-001",
      title: "Container of an unapproved role on a non-internal network",
      explanation:
        "A container on a network without `internal = true` can open connections off the host: a compromised worker " +
        "could send prompts, documents or keys anywhere. Only the roles the platform team approved get that path.",
      fix: `Attach the container only to internal networks (TrustGraph.allowFrom builds them), or approve its role (approved: ${roles.join(", ")}).`,
      severity: RuleSeverity.HIGH,
      references: ["ACME platform standard NET-1: egress only through approved services"],
      resourceTypes: ["docker_container"],
    };
  }

  public check(resource: ResourceView, stack: IStackView): RuleOutcome {
    const config = resource.config;
    if (config.start === false) return RuleOutcomes.notApplicable("created but never started");
    const labels = (config.labels as { label: string; value: string }[] | undefined) ?? [];
    const role = labels.find((l) => l.label === ROLE_LABEL)?.value ?? "(no role label)";
    const mode = config.network_mode as string | undefined;
    // Sharing another container's namespace or having no network: judged where that namespace lives.
    if (mode !== undefined && (mode === "none" || mode.startsWith("container:") || mode.startsWith("${")))
      return RuleOutcomes.notApplicable(`network_mode ${mode}`);
    if (mode === "host" || mode === "bridge") return this.judge(role, `network_mode = "${mode}"`);
    const networks = (config.networks_advanced as { name: string }[] | undefined) ?? [];
    // Docker's default bridge when nothing is set: a way off the host.
    if (networks.length === 0) return this.judge(role, "no network set (Docker's default bridge)");
    for (const n of networks) {
      const network = stack.referenced(n.name);
      // A network the stack does not declare cannot be shown to be internal.
      if (network === undefined || network.config.internal !== true)
        return this.judge(role, `on network ${n.name}, which is not internal`);
    }
    return RuleOutcomes.compliant();
  }

  private judge(role: string, where: string): RuleOutcome {
    return this.roles.includes(role) ? RuleOutcomes.compliant() : RuleOutcomes.nonCompliant(`role ${role} is ${where}`);
  }
}

/** The own-service example with the egress rule in its production policy. */
export function customRuleStack(app: App, id: string): OwnServiceStack {
  const stack = new OwnServiceStack(app, id);
  Aspects.of(stack).add(
    new SecurityPolicy({
      profile: PolicyProfile.PRODUCTION,
      writeReports: false,
      additionalRules: [new EgressAllowlist(APPROVED_EGRESS)],
    }),
  );
  return stack;
}
