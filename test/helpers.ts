import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { Construct } from "constructs";
import { ConfigError, SecureInference, SecureInferenceProps } from "../index";
import { containerFindings } from "../lib/policy/hardened";

/** A 40-hex commit sha for tests. */
export const REVISION = "0e9e39f249a16976918f6564b8830bc894c89659";

/** The Terraform JSON of one stack, parsed. */
export interface StackJson {
  resource: Record<string, Record<string, Record<string, any>>>;
  output?: Record<string, { value: unknown; sensitive?: boolean; description?: string }>;
  variable?: Record<string, { sensitive?: boolean }>;
  provider?: Record<string, unknown>;
}

/** A stack with the three providers SecureInference needs. */
export function stackWithProviders(id = "test"): TerraformStack {
  const app = Testing.app();
  const stack = new TerraformStack(app, id);
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  return stack;
}

export function secretVariable(stack: TerraformStack, name: string): string {
  return new TerraformVariable(stack, name, { type: "string", sensitive: true }).value;
}

/** Minimal props in the shape the README shows, overridable per test. */
export function inferenceProps(stack: TerraformStack, overrides: Partial<SecureInferenceProps> = {}): SecureInferenceProps {
  return {
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", revision: REVISION },
    domain: "ai.example.internal",
    operators: [{ name: "devops-laptop", email: "devops@example.com" }],
    oidc: {
      issuerUrl: "https://idp.example.com/realms/prod",
      clientId: "local-ai",
      clientSecret: secretVariable(stack, "oidc_client_secret"),
    },
    ...overrides,
  };
}

export function synth(stack: TerraformStack): StackJson {
  const json = JSON.parse(Testing.synth(stack, true)) as StackJson;
  // Remember where each container came from, so hardeningGaps can honour its suppressions.
  for (const [logicalId, c] of Object.entries(json.resource?.docker_container ?? {})) ORIGINS.set(c, { stack, logicalId });
  return json;
}

/** The stack and logical id of every container object `synth` returned. */
const ORIGINS = new WeakMap<object, { stack: TerraformStack; logicalId: string }>();

/** SecureInference in a fresh stack, synthesized. */
export function synthInference(overrides: Partial<SecureInferenceProps> = {}): {
  json: StackJson;
  ai: SecureInference;
  stack: TerraformStack;
} {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack, overrides));
  return { json: synth(stack), ai, stack };
}

/** Every resource of a type, keyed by its logical id. */
export function resources(json: StackJson, type: string): Record<string, Record<string, any>> {
  return json.resource[type] ?? {};
}

/** The one docker_container with this Docker name. */
export function containerNamed(json: StackJson, name: string): Record<string, any> {
  const found = Object.values(resources(json, "docker_container")).filter((c) => c.name === name);
  if (found.length !== 1) {
    const names = Object.values(resources(json, "docker_container")).map((c) => c.name);
    throw new Error(`expected one container named ${name}, found ${found.length} among ${names.join(", ")}`);
  }
  return found[0];
}

/** The label value of a container, or undefined. */
export function label(container: Record<string, any>, key: string): string | undefined {
  return (container.labels ?? []).find((l: { label: string }) => l.label === key)?.value;
}

/** Containers that run (every container except never-started config loaders). */
export function runningContainers(json: StackJson): Record<string, any>[] {
  return Object.values(resources(json, "docker_container")).filter((c) => c.start !== false);
}

/** The uploaded content of a file in a loader container named `<loaderName>`. */
export function uploaded(json: StackJson, loaderName: string, file: string): string {
  const loader = containerNamed(json, loaderName);
  const entry = (loader.upload ?? []).find((u: { file: string }) => u.file.endsWith(`/${file}`));
  if (!entry) throw new Error(`${loaderName} uploads no ${file}`);
  return entry.content;
}

/**
 * Why a synthesized container is not hardened, one `"<rule id> <title>: <detail>"` per open
 * finding of the container rules (ZTA-CTR-*, lib/policy/hardened.ts); empty = hardened. The
 * policy engine decides, so this cannot drift from SecurityPolicy. For a container object that
 * `synth` returned, suppressions on its construct (e.g. the edge's NET_BIND_SERVICE, vLLM's uid 0)
 * are honoured as the aspect honours them, and `c` is judged as given (a test may alter a copy);
 * any other object is judged alone, with no suppression.
 */
export function hardeningGaps(c: Record<string, any>): string[] {
  const origin = ORIGINS.get(c);
  let findings;
  if (origin) {
    const json = origin.stack.toTerraform() as StackJson;
    const own = json.resource.docker_container[origin.logicalId];
    json.resource.docker_container[origin.logicalId] = { ...c, "//": own["//"] };
    findings = containerFindings(json as unknown as Record<string, unknown>, { scope: origin.stack, select: (r) => r.logicalId === origin.logicalId });
  } else {
    findings = containerFindings({ resource: { docker_container: { container: c } } });
  }
  return findings.map((f) => `${f.ruleId} ${f.title}: ${f.detail}`);
}

/** The rule ids of `hardeningGaps(c)`. */
export function gapRuleIds(c: Record<string, any>): string[] {
  return hardeningGaps(c).map((g) => g.split(" ")[0]);
}

/**
 * Synthesizes the stack of whatever `value` is (a construct, or a stack), the way any synth
 * would: constructors record problems, synthesis throws them (lib/errors.ts).
 */
export function synthOf(value: unknown): void {
  if (value instanceof Construct) Testing.synth(TerraformStack.of(value));
}

/**
 * Runs `fn` and synthesizes the construct it returns, expects a ConfigError with a problem on
 * `prop` whose text matches `fragment`.
 */
export function expectConfigError(fn: () => unknown, prop: string, fragment?: RegExp): ConfigError {
  let caught: unknown;
  try {
    synthOf(fn());
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof ConfigError)) throw new Error(`expected a ConfigError, got: ${String(caught)}`);
  const onProp = caught.problems.filter((p) => p.prop === prop);
  if (onProp.length === 0) throw new Error(`expected a problem with ${prop}, got:\n${caught.message}`);
  // Several problems may name one prop; one of them must say what the test expects.
  if (fragment && !onProp.some((p) => fragment.test(`${p.received} ${p.fix}`))) {
    expect(onProp.map((p) => `${p.received} ${p.fix}`).join("\n")).toMatch(fragment);
  }
  return caught;
}
