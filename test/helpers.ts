import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { Construct } from "constructs";
import { ConfigError, SecureInference, SecureInferenceProps } from "../index";

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
  return JSON.parse(Testing.synth(stack, true)) as StackJson;
}

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
 * What a hardened service container must have; returns the missing items (empty = hardened).
 * The model fetch is a one-shot job: it alone has no healthcheck. Only the edge publishes a port.
 */
export function hardeningGaps(c: Record<string, any>): string[] {
  const gaps: string[] = [];
  const job = label(c, "zta.role") === "model-fetch";
  if (c.read_only !== true) gaps.push("read_only");
  if (JSON.stringify(c.capabilities?.drop) !== '["ALL"]') gaps.push("capabilities.drop ALL");
  if (!(c.security_opts ?? []).includes("no-new-privileges:true")) gaps.push("no-new-privileges");
  if (!(c.memory > 0) || c.memory_swap !== c.memory) gaps.push("memory (and no swap)");
  if (!(c.cpu_shares > 0)) gaps.push("cpu_shares");
  if (c.restart !== "on-failure" || !(c.max_retry_count > 0)) gaps.push("bounded restart");
  if (c.log_driver !== "json-file" || !c.log_opts?.["max-size"] || !c.log_opts?.["max-file"]) gaps.push("log rotation");
  if (!c.tmpfs || Object.keys(c.tmpfs).length === 0) gaps.push("tmpfs");
  if (!job && !(c.healthcheck?.test?.length > 1)) gaps.push("healthcheck");
  if (c.privileged === true) gaps.push("privileged");
  if ((c.ports ?? []).length > 0 && label(c, "zta.role") !== "edge") gaps.push("publishes a host port");
  return gaps;
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
