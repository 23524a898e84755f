import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { AnnotationMetadataEntryType, App, Aspects, TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { ConfigError } from "../../../lib/errors";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformVariable } from "cdktf";
import { SecureInference } from "../../../constructs/secure-inference";
import { blocking } from "../../../lib/policy/engine";
import { PolicyProfile } from "../../../lib/policy/profiles";
import { ALL_RULES } from "../../../lib/policy/rules";
import { PolicyViolationError, SecurityPolicy } from "../../../lib/policy/security-policy";
import { DefaultInferenceStack } from "../../../stacks/default-stack";
import { PINNED, compliantContainer, newStack } from "./fixtures";

function synthWith(stack: TerraformStack, policy: SecurityPolicy): void {
  Aspects.of(stack).add(policy);
  Testing.synth(stack);
}

function reportOf(policy: SecurityPolicy): { summary: Record<string, number>; findings: Record<string, unknown>[] } {
  return JSON.parse(fs.readFileSync(policy.results[0].reportFiles[0], "utf8"));
}

/** A container declared with the provider class, missing most hardening. */
function sloppy(stack: TerraformStack, id = "sloppy"): Container {
  return new Container(stack, id, { name: id, image: "nginx:latest", ports: [{ internal: 80, external: 8080 }] });
}

describe("SecurityPolicy on the library's default stack", () => {
  test("passes production with zero open findings; the three exceptions are suppressed with their reasons", () => {
    const app = Testing.app();
    const stack = new DefaultInferenceStack(app, "zta");
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    synthWith(stack, policy);
    const report = reportOf(policy);
    expect(report.summary).toMatchObject({ errors: 0, warnings: 0, suppressed: 3 });
    const suppressed = report.findings.map((f) => `${f.ruleId} ${f.path}`).sort();
    expect(suppressed).toEqual([
      "ZTA-CTR-003 zta/inference/edge/Default/container",
      "ZTA-CTR-011 zta/inference/model-fetch/Default/container",
      "ZTA-CTR-011 zta/inference/vllm-0/Default/container",
    ]);
    for (const f of report.findings) {
      expect((f.suppression as { reason: string }).reason.length).toBeGreaterThanOrEqual(10);
    }
  });

  test("the default stack adds the production policy itself, so `cdktf synth` writes the reports", () => {
    const app = Testing.app();
    const stack = new DefaultInferenceStack(app, "zta");
    const own = Aspects.of(stack).all.filter((a): a is SecurityPolicy => a instanceof SecurityPolicy);
    expect(own.map((p) => p.profile.name)).toEqual(["production"]);
    Testing.synth(stack);
    expect(fs.readdirSync(path.join(app.outdir, "stacks", "zta")).sort()).toEqual([
      "security-report.json",
      "security-report.sarif",
    ]);
  });

  test("fails production when a hardening invariant of the library is broken by an override", () => {
    const stack = new DefaultInferenceStack(Testing.app(), "zta");
    stack.inference.edge.container.addOverride("read_only", false);
    stack.inference.replicas[0].container.addOverride("ports", [{ internal: 8000, external: 8000, ip: "127.0.0.1" }]);
    // The stack's own production policy is the one that fails the synth.
    const policy = Aspects.of(stack).all.find((a): a is SecurityPolicy => a instanceof SecurityPolicy)!;
    expect(() => Testing.synth(stack)).toThrow(PolicyViolationError);
    const open = policy.results[0].findings.filter((f) => !f.suppression).map((f) => `${f.ruleId} ${f.path}`);
    expect(open).toEqual(
      expect.arrayContaining([
        "ZTA-CTR-005 zta/inference/edge/Default/container",
        "ZTA-AI-001 zta/inference/vllm-0/Default/container",
        "ZTA-AI-002 zta/inference/vllm-0/Default/container",
      ]),
    );
  });
});

describe("SecurityPolicy on other SecureInference shapes", () => {
  test("two replicas, no OIDC, no prefetch, a custom bind address: production still passes", () => {
    const stack = newStack();
    new TlsProvider(stack, "tls", {});
    new RandomProvider(stack, "random", {});
    new SecureInference(stack, "ai", {
      model: {
        name: "Qwen/Qwen2.5-0.5B-Instruct",
        revision: "7ae557604adf67be50417f59c2c2f167def9a775",
        prefetch: false,
      },
      domain: "ai.example.internal",
      operators: [{ name: "ops" }],
      replicas: 2,
      vllm: { replicaGpus: ["device=0", "device=1"] },
      bindAddress: "100.64.0.10",
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    synthWith(stack, policy);
    const findings = policy.results[0].findings;
    expect(findings.filter((f) => !f.suppression)).toEqual([]);
    expect(findings.map((f) => f.ruleId).sort()).toEqual(["ZTA-CTR-003", "ZTA-CTR-011", "ZTA-CTR-011"]);
  });

  test("a branch as model revision (allowed by the construct) is caught by the policy", () => {
    const stack = newStack();
    new TlsProvider(stack, "tls", {});
    new RandomProvider(stack, "random", {});
    new SecureInference(stack, "ai", {
      model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "main", allowUnpinnedRevision: true },
      domain: "ai.example.internal",
      operators: [{ name: "ops" }],
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    expect(() => synthWith(stack, policy)).toThrow(/ZTA-AI-004/);
    expect(
      blocking(policy.results[0].findings)
        .map((f) => `${f.ruleId} ${f.path}`)
        .sort(),
    ).toEqual(["ZTA-AI-004 stack/ai/model-fetch/Default/container", "ZTA-AI-004 stack/ai/vllm-0/Default/container"]);
  });
});

describe("SecurityPolicy engine", () => {
  test("Terraform expressions in attributes never crash a rule nor count as violations", () => {
    const stack = newStack();
    const num = new TerraformVariable(stack, "n", { type: "number" });
    const flag = new TerraformVariable(stack, "b", { type: "bool" });
    const text = new TerraformVariable(stack, "s", { type: "string" });
    compliantContainer(stack, "tokens", {
      memory: num.numberValue,
      memorySwap: num.numberValue,
      cpuShares: num.numberValue,
      readOnly: flag.booleanValue,
      privileged: flag.booleanValue,
      user: text.stringValue,
      restart: text.stringValue,
      maxRetryCount: num.numberValue,
      ports: [{ internal: 80, external: num.numberValue, ip: text.stringValue }],
      env: [`A=${text.stringValue}`],
    });
    compliantContainer(stack, "model", {
      labels: [
        { label: "zta.role", value: "inference" },
        { label: "zta.model-revision", value: text.stringValue },
      ],
    });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    synthWith(stack, policy);
    expect(policy.results[0].findings).toEqual([]);
  });

  test("checks containers declared directly with the provider classes; the error names path, rule and fix", () => {
    const stack = newStack();
    sloppy(stack);
    let message = "";
    try {
      synthWith(stack, new SecurityPolicy({ profile: PolicyProfile.PRODUCTION }));
    } catch (e) {
      message = String(e);
    }
    expect(message).toContain("[stack/sloppy] ZTA-CTR-001 Port published on every host interface");
    expect(message).toContain("Fix: Set `ports[].ip`");
    for (const id of [
      "ZTA-CTR-003",
      "ZTA-CTR-004",
      "ZTA-CTR-005",
      "ZTA-CTR-006",
      "ZTA-CTR-011",
      "ZTA-CTR-013",
      "ZTA-IMG-001",
    ]) {
      expect(message).toContain(id);
    }
  });

  test("profiles: production fails on a low-severity finding, team and homelab only warn", () => {
    const build = () => {
      const stack = newStack();
      compliantContainer(stack, "no-health", { healthcheck: undefined });
      return stack;
    };
    expect(() => synthWith(build(), new SecurityPolicy({ profile: PolicyProfile.PRODUCTION }))).toThrow(/ZTA-CTR-013/);
    for (const profile of [PolicyProfile.TEAM, PolicyProfile.HOMELAB]) {
      const stack = build();
      synthWith(stack, new SecurityPolicy({ profile }));
      const warnings = stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.WARN));
      expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining("ZTA-CTR-013")]);
    }
  });

  test("homelab still fails synth on a high-severity finding", () => {
    const stack = newStack();
    compliantContainer(stack, "priv", { privileged: true });
    expect(() => synthWith(stack, new SecurityPolicy({ profile: PolicyProfile.HOMELAB }))).toThrow(/ZTA-CTR-002/);
  });

  test("an unknown profile is a ConfigError naming the choices", () => {
    expect(() => new SecurityPolicy({ profile: "prod" as never })).toThrow(ConfigError);
    expect(() => new SecurityPolicy({ profile: "prod" as never })).toThrow(/"homelab", "team", "production"/);
    expect(PolicyProfile.named("team")).toBe(PolicyProfile.TEAM);
  });

  test("a suppression on the resource or an ancestor covers it and is recorded with its reason", () => {
    const stack = newStack();
    const scope = new Construct(stack, "vendor");
    compliantContainer(scope as TerraformStack, "cache", { readOnly: false });
    SecurityPolicy.suppress(scope, "ZTA-CTR-005", "vendor image needs a writable /var/cache; tracked in OPS-12");
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    synthWith(stack, policy);
    const [finding] = reportOf(policy).findings;
    expect(finding).toMatchObject({
      ruleId: "ZTA-CTR-005",
      status: "suppressed",
      suppression: { reason: "vendor image needs a writable /var/cache; tracked in OPS-12", on: "stack/vendor" },
    });
  });

  test("a suppression needs a known rule id and a reason of at least 10 characters", () => {
    const stack = newStack();
    expect(() => SecurityPolicy.suppress(stack, "ZTA-CTR-005", "because")).toThrow(/reason/);
    expect(() => SecurityPolicy.suppress(stack, "ZTA-XXX-999", "a long enough reason")).toThrow(/ruleId/);
  });

  test("a rule that throws becomes an error finding, not a crash", () => {
    const stack = newStack();
    compliantContainer(stack, "ok");
    const original = ALL_RULES[0].check;
    (ALL_RULES[0] as { check: unknown }).check = () => {
      throw new Error("boom");
    };
    const policy = new SecurityPolicy({ profile: PolicyProfile.HOMELAB });
    try {
      expect(() => synthWith(stack, policy)).toThrow(/ZTA-CTR-001.*the rule failed to evaluate: boom/);
    } finally {
      (ALL_RULES[0] as { check: unknown }).check = original;
    }
    expect(policy.results[0].findings).toEqual([
      expect.objectContaining({ ruleId: "ZTA-CTR-001", ruleError: true, level: "error" }),
    ]);
  });

  test("an aspect added to a sub-construct checks only that subtree", () => {
    const stack = newStack();
    sloppy(stack, "outside");
    const team = new Construct(stack, "team");
    compliantContainer(team as TerraformStack, "inside");
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    Aspects.of(team).add(policy);
    Testing.synth(stack);
    expect(policy.results[0].findings).toEqual([]);
    // The container and the network the fixture created under "team"; nothing outside it.
    expect(reportOf(policy).summary.resourcesChecked).toBe(2);
  });
});

describe("SecurityPolicy reports", () => {
  test("every synth writes security-report.json and security-report.sarif next to cdk.tf.json", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-policy-"));
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "ai");
    new DockerProvider(stack, "docker", {});
    compliantContainer(stack, "ok");
    compliantContainer(stack, "cache", { readOnly: false });
    SecurityPolicy.suppress(
      stack.node.findChild("cache"),
      "ZTA-CTR-005",
      "writes its cache into the image layer; OPS-12",
    );
    Aspects.of(stack).add(new SecurityPolicy({ profile: PolicyProfile.TEAM }));
    app.synth();
    const dir = path.join(outdir, "stacks", "ai");
    expect(fs.readdirSync(dir).sort()).toEqual(["cdk.tf.json", "security-report.json", "security-report.sarif"]);

    const sarif = JSON.parse(fs.readFileSync(path.join(dir, "security-report.sarif"), "utf8"));
    expect(sarif.version).toBe("2.1.0");
    const run = sarif.runs[0];
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(ALL_RULES.map((r) => r.meta.id));
    expect(run.results).toEqual([
      expect.objectContaining({
        ruleId: "ZTA-CTR-005",
        level: "error",
        suppressions: [{ kind: "inSource", justification: "writes its cache into the image layer; OPS-12" }],
        locations: [
          expect.objectContaining({ logicalLocations: [expect.objectContaining({ fullyQualifiedName: "ai/cache" })] }),
        ],
      }),
    ]);
    expect(run.tool.driver.rules[run.results[0].ruleIndex].id).toBe("ZTA-CTR-005");
  });

  test("the report is written even when synth fails", () => {
    const stack = newStack();
    sloppy(stack);
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION });
    let error: PolicyViolationError | undefined;
    try {
      synthWith(stack, policy);
    } catch (e) {
      error = e as PolicyViolationError;
    }
    expect(error).toBeInstanceOf(PolicyViolationError);
    expect(error!.findings.length).toBe(reportOf(policy).summary.errors);
    expect(Object.keys(error!)).not.toContain("findings");
    expect(reportOf(policy).summary.errors).toBeGreaterThan(5);
    expect(fs.existsSync(policy.results[0].reportFiles[1])).toBe(true);
  });
});

describe("rule metadata", () => {
  test("ids are unique and stable-shaped; every rule has a title, explanation, fix, references and a test file", () => {
    const ids = ALL_RULES.map((r) => r.meta.id);
    expect(new Set(ids).size).toBe(ids.length);
    const testDir = path.join(__dirname, "rules");
    const srcDir = path.join(__dirname, "..", "..", "..", "lib", "policy", "rules");
    for (const { meta } of ALL_RULES) {
      expect(meta.id).toMatch(/^ZTA-(CTR|IMG|NET|AI)-\d{3}$/);
      expect(meta.title).not.toContain("\n");
      expect(meta.explanation.length).toBeGreaterThan(40);
      expect(meta.fix.length).toBeGreaterThan(10);
      expect(meta.references.length).toBeGreaterThan(0);
      const file = meta.id.replace(/^ZTA-/, "").toLowerCase();
      expect(fs.readdirSync(srcDir).filter((f) => f.startsWith(file))).toHaveLength(1);
      expect(fs.readdirSync(testDir).filter((f) => f.startsWith(file) && f.endsWith(".test.ts"))).toHaveLength(1);
    }
  });

  test("every rule accepts the compliant fixture container", () => {
    const stack = newStack();
    compliantContainer(stack, "ok", { image: PINNED });
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    synthWith(stack, policy);
    expect(policy.results[0].findings).toEqual([]);
  });
});
