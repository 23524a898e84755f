import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { ConfigError, SandboxRunner, SecureInference } from "../../index";
import { REVISION, stackWithProviders } from "../helpers";

/**
 * README guarantee 9, checked over inputs instead of examples: put a credential literal into
 * every string a user can pass (each leaf in turn, and as an extra list element) and the stack is
 * either refused with a ConfigError or its synthesized JSON does not contain the literal.
 */

const LITERALS = [
  "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
  "postgres://agent:S3cretPassw0rd@db.example.com/app",
  "AKIAABCDEFGHIJKLMNOP",
  "sk-abcdefghijklmnopqrstuvwxyz012345",
];

/** Every path to a string leaf (and to each list, for appending), with a setter on a deep copy. */
function variants(base: unknown, literal: string): { path: string; props: unknown }[] {
  const out: { path: string; props: unknown }[] = [];
  const visit = (value: unknown, path: (string | number)[]) => {
    if (typeof value === "string") {
      out.push({ path: path.join("."), props: setAt(base, path, () => literal) });
      out.push({ path: `${path.join(".")} (appended)`, props: setAt(base, path, (s: string) => `${s} ${literal}`) });
    } else if (Array.isArray(value)) {
      out.push({ path: `${path.join(".")}[+]`, props: setAt(base, path, (l: unknown[]) => [...l, literal]) });
      value.forEach((v, i) => visit(v, [...path, i]));
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
    }
  };
  visit(base, []);
  return out;
}

function setAt(base: unknown, path: (string | number)[], change: (v: any) => unknown): unknown {
  if (path.length === 0) return change(base);
  const copy: any = Array.isArray(base) ? [...base] : { ...(base as object) };
  copy[path[0]] = setAt(copy[path[0]], path.slice(1), change);
  return copy;
}

function refusedOrAbsent(build: (props: any) => TerraformStack, props: unknown, literal: string): string | undefined {
  let json: string;
  try {
    json = Testing.synth(build(props), true);
  } catch (e) {
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
  return json.includes(literal) ? "the literal is in the synthesized JSON" : undefined;
}

test("SecureInference: no accepted input puts a credential literal into the JSON", () => {
  const base = {
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", revision: REVISION, servedModelName: "llama" },
    domain: "ai.example.internal",
    operators: [{ name: "devops-laptop", email: "devops@example.com" }],
    oidc: {
      issuerUrl: "https://idp.example.com/realms/prod",
      clientId: "local-ai",
      emailDomains: ["example.com"],
      allowedGroups: ["ai"],
    },
    namePrefix: "ai",
    bindAddress: "127.0.0.1",
    routes: ["/v1/chat/completions"],
    vllm: { gpus: "all", extraArgs: ["--enforce-eager"] },
  };
  const build = (props: any) => {
    const stack = stackWithProviders();
    const secret = new TerraformVariable(stack, "s", { type: "string", sensitive: true }).value;
    new SecureInference(stack, "inference", { ...props, oidc: { ...props.oidc, clientSecret: secret } });
    return stack;
  };
  const failures: string[] = [];
  for (const literal of LITERALS) {
    for (const v of variants(base, literal)) {
      const why = refusedOrAbsent(build, v.props, literal);
      if (why) failures.push(`${v.path} <- ${literal.slice(0, 12)}: ${why}`);
    }
  }
  expect(failures).toEqual([]);
});

test("SandboxRunner: no input accepted without allowedSecretEnv puts a credential literal into the JSON", () => {
  const base = {
    image: "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f",
    command: ["python", "/workspace/run.py"],
    workspace: { hostPath: "/srv/agent/repo", containerPath: "/workspace" },
    env: [{ name: "LOG_LEVEL", value: "debug" }],
    name: "agent",
  };
  const build = (props: any) => {
    const stack = new TerraformStack(Testing.app(), "s");
    new DockerProvider(stack, "docker", {});
    new SandboxRunner(stack, "agent", props);
    return stack;
  };
  const failures: string[] = [];
  for (const literal of LITERALS) {
    for (const v of variants(base, literal)) {
      const why = refusedOrAbsent(build, v.props, literal);
      if (why) failures.push(`${v.path} <- ${literal.slice(0, 12)}: ${why}`);
    }
  }
  expect(failures).toEqual([]);
});
