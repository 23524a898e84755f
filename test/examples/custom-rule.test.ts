import { Network } from "@cdktf/provider-docker/lib/network";
import { Aspects, Testing } from "cdktf";
import {
  ConfigError,
  PolicyProfile,
  PolicyViolationError,
  RuleOutcomes,
  RuleSeverity,
  SecurityPolicy,
} from "../../index";
import { APPROVED_EGRESS, EgressAllowlist, customRuleStack } from "../../examples/custom-rule";

function policyOf(stack: ReturnType<typeof customRuleStack>): SecurityPolicy {
  return Aspects.of(stack).all.find(
    (a): a is SecurityPolicy => a instanceof SecurityPolicy && a.ruleSet.some((r) => r.meta.id.startsWith("ACME-")),
  )!;
}

describe("a user rule (examples/custom-rule.ts) in SecurityPolicy", () => {
  test("the example stack passes: only the approved roles are on non-internal networks", () => {
    const stack = customRuleStack(Testing.app(), "custom");
    expect(() => Testing.synth(stack)).not.toThrow();
    const findings = policyOf(stack).results.flatMap((r) => r.findings);
    expect(findings.filter((f) => f.ruleId === "ACME-NET-001")).toEqual([]);
    // Not vacuous: the rule does see the edge on its non-internal network, and passes it only by its role.
    const strict = customRuleStack(Testing.app(), "strict");
    const none = new EgressAllowlist([]);
    const strictPolicy = new SecurityPolicy({
      profile: PolicyProfile.PRODUCTION,
      writeReports: false,
      additionalRules: [{ meta: { ...none.meta, id: "ACME-NET-002" }, check: (r, s) => none.check(r, s) }],
    });
    Aspects.of(strict).add(strictPolicy);
    expect(() => Testing.synth(strict)).toThrow(PolicyViolationError);
    const seen = strictPolicy.results[0].findings
      .filter((f) => f.ruleId === "ACME-NET-002")
      .map((f) => f.detail.split(" is ")[0]);
    expect(seen.sort()).toEqual(["role edge", "role model-fetch", "role oidc-gate"]);
  });

  test("a worker given a non-internal network fails synth with the rule's id, the container and the fix", () => {
    const stack = customRuleStack(Testing.app(), "leaky");
    const lan = new Network(stack, "lan", { name: "lan" });
    stack.worker.container.addOverride("networks_advanced", [{ name: lan.name }]);
    let error: unknown;
    try {
      Testing.synth(stack);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyViolationError);
    const findings = (error as PolicyViolationError).findings.filter((f) => f.ruleId === "ACME-NET-001");
    expect(findings.map((f) => f.path)).toEqual(["leaky/rag-worker/container"]);
    expect((error as Error).message).toMatch(
      /ACME-NET-001 Container of an unapproved role on a non-internal network: role rag-worker is on network \$\{docker_network\.lan\.name\}, which is not internal\. Fix: Attach/,
    );
  });

  test("a user rule is suppressed like a built-in one, with its reason in the result", () => {
    const stack = customRuleStack(Testing.app(), "excepted");
    const lan = new Network(stack, "lan", { name: "lan" });
    stack.worker.container.addOverride("networks_advanced", [{ name: lan.name }]);
    SecurityPolicy.suppress(
      stack.worker,
      "ACME-NET-001",
      "fetches documents from the intranet wiki; proxy ticket NET-42",
    );
    expect(() => Testing.synth(stack)).not.toThrow();
    const finding = policyOf(stack).results[0].findings.find((f) => f.ruleId === "ACME-NET-001");
    expect(finding?.suppression?.reason).toBe("fetches documents from the intranet wiki; proxy ticket NET-42");
  });

  test("a suppression naming a rule no policy on the stack has is a ConfigError, not an exception that covers nothing", () => {
    const stack = customRuleStack(Testing.app(), "typo");
    SecurityPolicy.suppress(stack.worker, "ACME-NET-009", "a typo of the rule id in the suppression");
    expect(() => Testing.synth(stack)).toThrow(ConfigError);
    expect(() => Testing.synth(stack)).toThrow(/ruleId \(on "typo\/rag-worker"\): received "ACME-NET-009"/);
    expect(() => SecurityPolicy.suppress(stack.worker, "ZTA-CTR-999", "not a built-in rule id at all")).toThrow(
      ConfigError,
    );
  });

  test("a user rule that throws is an error finding, never a crash or a pass", () => {
    const stack = customRuleStack(Testing.app(), "broken");
    const meta = { ...new EgressAllowlist([]).meta, id: "ACME-BUG-001", severity: RuleSeverity.LOW };
    const policy = new SecurityPolicy({
      profile: PolicyProfile.PRODUCTION,
      writeReports: false,
      additionalRules: [
        {
          meta,
          check: () => {
            throw new Error("boom");
          },
        },
      ],
    });
    Aspects.of(stack).add(policy);
    expect(() => Testing.synth(stack)).toThrow(/ACME-BUG-001 .*the rule failed to evaluate: boom/);
    expect(policy.results[0].findings.every((f) => f.ruleId !== "ACME-BUG-001" || f.ruleError)).toBe(true);
  });
});

describe("additionalRules are checked like props", () => {
  const good = new EgressAllowlist(APPROVED_EGRESS);
  test.each([
    [
      "a built-in id",
      [{ meta: { ...good.meta, id: "ZTA-CTR-002" }, check: good.check }],
      /additionalRules\[0\]\.meta\.id: received "ZTA-CTR-002"\. Ids starting with ZTA-/,
    ],
    [
      "a duplicate id",
      [good, new EgressAllowlist([])],
      /additionalRules\[1\]\.meta\.id: received "ACME-NET-001"\. Another rule has this id/,
    ],
    [
      "a lower-case id",
      [{ meta: { ...good.meta, id: "acme-1" }, check: good.check }],
      /additionalRules\[0\]\.meta\.id: received "acme-1"\. Use upper-case words/,
    ],
    ["no check", [{ meta: good.meta }], /additionalRules\[0\]\.check: received nothing/],
    [
      "a severity name of another tool",
      [{ meta: { ...good.meta, severity: "critical" }, check: good.check }],
      /additionalRules\[0\]\.meta\.severity: received "critical"/,
    ],
    [
      "no resource types",
      [{ meta: { ...good.meta, resourceTypes: [] }, check: good.check }],
      /additionalRules\[0\]\.meta\.resourceTypes: received an empty list\. Name the Terraform resource types/,
    ],
    [
      "resourceTypes as a string",
      [{ meta: { ...good.meta, resourceTypes: "docker_container" }, check: good.check }],
      /additionalRules\[0\]\.meta\.resourceTypes: received a string/,
    ],
    ["a rule that is not an object", ["ACME-NET-001"], /additionalRules\[0\]: received a string/],
    ["not a list", good, /additionalRules: received an object/],
  ])("%s is a ConfigError naming the prop", (_what, rules, message) => {
    // A JavaScript user (or a cast) can pass any shape: never a TypeError.
    const make = () => new SecurityPolicy({ additionalRules: rules as never });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(message);
  });

  test("RuleOutcomes gives the three answers", () => {
    expect([
      RuleOutcomes.compliant().status,
      RuleOutcomes.nonCompliant("x").detail,
      RuleOutcomes.notApplicable("y").status,
    ]).toEqual(["compliant", "x", "not-applicable"]);
  });
});
