import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { Container } from "@cdktf/provider-docker/lib/container";
import { Aspects, TerraformStack, TerraformVariable, Testing } from "cdktf";
import {
  ChatUi,
  CloudflareTunnel,
  ConfigError,
  EdgeProxy,
  InternalCa,
  SandboxRunner,
  SecureInference,
  SecurityPolicy,
  TailscaleExposure,
} from "../../index";
import {
  secretVariable,
  expectConfigError,
  inferenceProps,
  stackWithProviders,
  synth,
  synthInference,
} from "../helpers";

/**
 * The bad inputs a new user writes, each refused at synth with a ConfigError naming the
 * construct's own prop, the value and the fix (or accepted and correct). Wrong shapes are passed
 * with `as any`, the way a plain JavaScript stack (or `ts-node --transpile-only`) passes them.
 */

const IMAGE = "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f";
const ACCOUNT = "0123456789abcdef0123456789abcdef";

function errorOf(fn: () => unknown): ConfigError {
  try {
    const made = fn();
    if (made instanceof TerraformStack) Testing.synth(made);
    else if (made && typeof made === "object" && "node" in (made as object))
      Testing.synth(TerraformStack.of(made as any));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("wrong shapes are ConfigErrors naming the prop, never TypeErrors", () => {
  const inference = (overrides: Record<string, unknown>) => () => {
    const stack = stackWithProviders();
    return new SecureInference(stack, "inference", { ...inferenceProps(stack), ...overrides } as any);
  };

  test.each([
    ["operators", { operators: "devops-laptop" }, /Give a list/],
    ["operators", { operators: undefined }, /It is required/],
    ["domain", { domain: undefined }, /It is required/],
    ["model.revision", { model: { name: "Qwen/Qwen2.5-0.5B-Instruct" } }, /It is required/],
    ["model", { model: "Qwen/Qwen2.5-0.5B-Instruct" }, /Give an object/],
    ["routes", { routes: "/v1/chat/completions" }, /Give a list/],
    ["replicas", { replicas: "2" }, /whole number from 1 to 64/],
    ["vllm.extraArgs", { vllm: { extraArgs: "--enforce-eager" } }, /Give a list/],
  ])("SecureInference %s", (prop, overrides, fix) => {
    const err = expectConfigError(inference(overrides), prop, fix);
    expect(err.problems.filter((p) => p.prop.startsWith("routes"))).toHaveLength(prop === "routes" ? 1 : 0);
  });

  test("a model given as a string reports the model, not a missing revision", () => {
    const err = errorOf(inference({ model: "Qwen/Qwen2.5-0.5B-Instruct" }));
    expect(err.problems.map((p) => p.prop)).toContain("model");
    expect(err.problems.map((p) => p.prop)).not.toContain("model.revision");
  });

  test("a missing clientSecret is described as missing, not as a literal", () => {
    const stack = stackWithProviders();
    const err = errorOf(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, { oidc: { issuerUrl: "https://idp.example.com/realms/prod", clientId: "c" } as any }),
        ),
    );
    expect(err.message).toContain("oidc.clientSecret: received nothing (the prop is missing)");
  });

  const sandbox = (overrides: Record<string, unknown>) => () => {
    const stack = new TerraformStack(Testing.app(), "s");
    new DockerProvider(stack, "docker", {});
    return new SandboxRunner(stack, "agent", { image: IMAGE, command: ["python", "x.py"], ...overrides } as any);
  };
  test.each([
    ["env", { env: { LOG_LEVEL: "debug" } }],
    ["workspace", { workspace: "/" }],
    ["command", { command: "python x.py" }],
    ["memoryMb", { memoryMb: "1024" }],
  ])("SandboxRunner %s", (prop, overrides) => {
    expectConfigError(sandbox(overrides), prop);
  });

  test("TailscaleExposure given the SecureInference instead of its edge says to pass ai.edge", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    expectConfigError(
      () =>
        new TailscaleExposure(stack, "ts", { target: ai as any, hostname: "ai", authKey: secretVariable(stack, "k") }),
      "target",
      /ai\.edge/,
    );
  });
});

describe("vLLM flags are checked the way vLLM parses them", () => {
  test.each([
    ["--trust_remote_code"],
    ["--trust-remote"],
    ["--api_key=sk-abcdefghijklmnopqrstuvwx"],
    ["--ho=0.0.0.0"],
    ["--model=other/model"],
    ["--config"],
    ["--tokenizer"],
  ])("%s is refused as an owned flag", (arg) => {
    const err = expectConfigError(
      () => synthInference({ vllm: { extraArgs: [arg, "x"] } }),
      "vllm.extraArgs",
      /owned by SecureInference/,
    );
    expect(err.message).not.toContain("sk-abcdefghijklmnopqrstuvwx");
  });

  test("two arguments in one element are refused; separate elements and values with spaces are accepted", () => {
    expectConfigError(
      () => synthInference({ vllm: { extraArgs: ["--gpu-memory-utilization 0.85"] } }),
      "vllm.extraArgs",
      /its own element/,
    );
    const { json } = synthInference({
      vllm: {
        extraArgs: ["--gpu-memory-utilization", "0.85", "--chat-template={% for m in messages %}{{ m }}{% endfor %}"],
      },
    });
    const vllm = Object.values(json.resource.docker_container).find((c) => c.name === "inference-vllm-0")!;
    expect(vllm.command).toEqual(expect.arrayContaining(["--gpu-memory-utilization", "0.85"]));
    expect(vllm.command).not.toContain("--trust-remote-code");
  });

  test("a credential in an argument value is refused and not echoed", () => {
    const err = expectConfigError(
      () => synthInference({ vllm: { extraArgs: ["--lora-modules", "x=https://u:S3cretPass@example.com/lora"] } }),
      "vllm.extraArgs",
      /literal credential/,
    );
    expect(err.message).not.toContain("S3cretPass");
  });
});

describe("semantic mistakes", () => {
  test.each(["0:0:0:0:0:0:0:0", "::ffff:0.0.0.0", "0.0.0.00", "[::]"])(
    "bindAddress %s binds every interface: refused without the opt-in",
    (address) => {
      expectConfigError(() => synthInference({ bindAddress: address }), "bindAddress");
    },
  );

  test("an IP address as domain is refused with the reason", () => {
    expectConfigError(() => synthInference({ domain: "10.0.0.5" }), "domain", /IP address is not a DNS name/);
  });

  test("the OIDC discovery URL as issuer is refused, naming the issuer to use", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () =>
        new SecureInference(
          stack,
          "inference",
          inferenceProps(stack, {
            oidc: {
              issuerUrl: "https://idp.example.com/realms/prod/.well-known/openid-configuration",
              clientId: "c",
              clientSecret: secretVariable(stack, "s"),
            },
          }),
        ),
      "oidc.issuerUrl",
      /https:\/\/idp\.example\.com\/realms\/prod\)/,
    );
  });

  test("replicas sharing the host's GPUs are refused; one device each is accepted", () => {
    expectConfigError(() => synthInference({ replicas: 2 }), "vllm.gpus", /replicaGpus/);
    expectConfigError(
      () => synthInference({ replicas: 2, vllm: { replicaGpus: ["device=0", "device=0"] } }),
      "vllm.replicaGpus",
      /its own GPUs/,
    );
    const { json } = synthInference({ replicas: 2, vllm: { replicaGpus: ["device=0", "device=1"] } });
    const gpus = Object.values(json.resource.docker_container)
      .filter((c) => /-vllm-\d$/.test(c.name))
      .map((c) => c.gpus);
    expect(gpus).toEqual(["device=0", "device=1"]);
    expect(() => synthInference({ replicas: 2, vllm: { gpus: "none" } })).not.toThrow();
  });

  test("a request body limit has an upper bound", () => {
    expectConfigError(() => synthInference({ maxRequestBodyMb: 10000 }), "maxRequestBodyMb", /1 to 512 MB/);
    expect(() => synthInference({ maxRequestBodyMb: 512 })).not.toThrow();
  });

  test("ChatUi on the API's own hostname is reported by ChatUi, as its hostname", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    const err = expectConfigError(
      () => new ChatUi(stack, "chat", { inference: ai, hostname: "ai.example.internal" }),
      "hostname",
      /its own/,
    );
    expect(err.problems[0].where).toBe('ChatUi "test/chat"');
  });

  test("a tunnel hostname other than the chat hostname is refused (the UI's origin would not match)", () => {
    const stack = stackWithProviders();
    new CloudflareProvider(stack, "cloudflare", {});
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com", publishOnEdge: false });
    expectConfigError(
      () =>
        new CloudflareTunnel(stack, "tunnel", {
          accountId: ACCOUNT,
          zoneId: ACCOUNT,
          hostname: "other.example.com",
          target: chat,
          access: { emailDomains: ["example.com"] },
        }),
      "hostname",
      /same hostname/,
    );
  });

  test("EdgeProxy used directly reports its own props: hostnames and image", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    const err = errorOf(
      () =>
        new EdgeProxy(stack, "edge2", {
          ca: ai.ca,
          name: "edge2",
          hostnames: ["Bad Host"],
          upstreams: ["x:1"],
          upstreamServerName: "x",
          routes: ["/v1/models"],
          image: "caddy:latest",
        }),
    );
    expect(err.problems.map((p) => p.prop).sort()).toEqual(["hostnames", "image"]);
  });

  test("SandboxRunner finds credentials by shape: in a value with an innocent name, and in its command", () => {
    const base = { image: IMAGE, command: ["python", "x.py"] };
    const stack = new TerraformStack(Testing.app(), "s");
    new DockerProvider(stack, "docker", {});
    const err = errorOf(() => {
      new SandboxRunner(stack, "a", {
        ...base,
        env: [{ name: "DATABASE_URL", value: "postgres://agent:S3cret@db/app" }],
      });
      return new SandboxRunner(stack, "b", {
        ...base,
        command: ["sh", "-c", "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 ./run"],
      });
    });
    expect(err.problems.map((p) => p.prop)).toEqual(["env.DATABASE_URL", "command"]);
    expect(err.message).not.toMatch(/S3cret|ghp_/);
  });

  test("SandboxRunner without a DockerProvider names the DockerProvider", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    expectConfigError(
      () => new SandboxRunner(stack, "a", { image: IMAGE, command: ["true"] }),
      "dockerProvider",
      /new DockerProvider/,
    );
  });
});

describe("problems are listed together, each once", () => {
  test("problems of every constructor of the stack come in one ConfigError", () => {
    const stack = stackWithProviders();
    const err = errorOf(() => {
      // A bad revision no longer hides a literal secret, nor the next construct's problem.
      new SecureInference(
        stack,
        "inference",
        inferenceProps(stack, {
          model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "main" },
          oidc: { issuerUrl: "https://idp.example.com", clientId: "c", clientSecret: "hunter2" },
        }),
      );
      new InternalCa(stack, "ca2", { leafValidityHours: 0 });
      return stack;
    });
    expect(err.problems.map((p) => `${p.where} ${p.prop}`)).toEqual([
      'SecureInference "test/inference" model.revision',
      'OidcGate "test/inference/gate" oidc.clientSecret',
      'InternalCa "test/ca2" leafValidityHours',
      'InternalCa "test/ca2" leafEarlyRenewalHours',
    ]);
    expect(err.message).not.toContain("hunter2");
    // Printed once each: Node shows no enumerable dump of the problems array.
    expect(Object.keys(err)).not.toContain("problems");
  });

  test("a problem a parent reports is not repeated by the sub-construct it passed the value to", () => {
    const err = errorOf(() => synthInference({ domain: "Bad Domain", images: { caddy: "caddy:latest" } }));
    expect(err.problems.map((p) => p.prop)).toEqual(["domain", "images.caddy"]);
  });

  test("a construct used directly still fails every synthesis path, validations or not", () => {
    const stack = stackWithProviders();
    new InternalCa(stack, "ca", { caValidityHours: -1 });
    expect(() => Testing.synth(stack)).toThrow(ConfigError);
    expect(() => stack.toTerraform()).toThrow(ConfigError);
    expect(() => Testing.synth(stack, true)).toThrow(ConfigError);
  });

  test("duplicate Docker names anywhere in the stack name both constructs", () => {
    const stack = stackWithProviders();
    const props = inferenceProps(stack, { namePrefix: "ai" });
    new SecureInference(stack, "a", props);
    new SecureInference(stack, "b", props);
    new Container(stack, "mine", { name: "ai-edge", image: "x" });
    const err = errorOf(() => stack);
    const edge = err.problems.filter((p) => p.received === '"ai-edge"');
    expect(edge.map((p) => p.fix)).toEqual([
      expect.stringContaining('"test/a/edge/container" and "test/b/edge/container"'),
      expect.stringContaining('"test/a/edge/container" and "test/mine"'),
    ]);
    expect(() => synth(stackWithProviders())).not.toThrow();
  });
});

describe("a SecurityPolicy on the App", () => {
  test("is refused loudly (cdktf never runs App-level aspects); on the stack it runs", () => {
    const stack = stackWithProviders();
    new SecureInference(stack, "inference", inferenceProps(stack));
    const app = stack.node.scope!;
    Aspects.of(app).add(new SecurityPolicy({ writeReports: false }));
    expectConfigError(() => stack, "Aspects.of(app)", /Add it to each stack/);

    const ok = stackWithProviders();
    new SecureInference(ok, "inference", inferenceProps(ok));
    const policy = new SecurityPolicy({ writeReports: false });
    Aspects.of(ok).add(policy);
    Testing.synth(ok);
    expect(policy.results).toHaveLength(1);
  });
});

test("unresolved tokens are not judged as literals: a tailnet hostname and Access emails from variables", () => {
  const stack = stackWithProviders();
  new CloudflareProvider(stack, "cloudflare", {});
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  const hostname = new TerraformVariable(stack, "ts_host", { type: "string" }).value;
  new TailscaleExposure(stack, "ts", { target: ai.edge, hostname, name: "ai-ts", authKey: secretVariable(stack, "k") });
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com", publishOnEdge: false });
  const email = new TerraformVariable(stack, "who", { type: "string" }).value;
  new CloudflareTunnel(stack, "tunnel", {
    accountId: ACCOUNT,
    zoneId: ACCOUNT,
    hostname: "chat.example.com",
    target: chat,
    access: { emails: [email] },
  });
  expect(() => synth(stack)).not.toThrow();
});

test("TailscaleExposure: tags and acl.allow given as strings are one problem each, not one per character", () => {
  const stack = stackWithProviders();
  const ai = new SecureInference(stack, "inference", inferenceProps(stack));
  const err = errorOf(
    () =>
      new TailscaleExposure(stack, "ts", {
        target: ai.edge,
        hostname: "ai",
        authKey: secretVariable(stack, "k"),
        tags: "tag:zta-ai",
        acl: { allow: "group:ai" },
      } as any),
  );
  expect(err.problems.map((p) => p.prop)).toEqual(["tags", "acl.allow"]);
});
