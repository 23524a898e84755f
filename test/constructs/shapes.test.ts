import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import {
  ApiGateway,
  AuditLog,
  ChatUi,
  CloudflareTunnel,
  EncryptedBackup,
  Observability,
  SandboxRunner,
  SecureInference,
  TailscaleExposure,
  TailscaleProvider,
} from "../../index";
import { IMAGES } from "../../lib/images";
import { inferenceProps, secretVariable, stackWithProviders } from "../helpers";
import { outcomeOf, withValueAt, wrongShapes } from "../shapes";

const IMAGE = "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f";

/** Runs every derived wrong shape; the result lists only the cases that were not a ConfigError naming the prop. */
function failures(
  valid: (stack: TerraformStack) => Record<string, unknown>,
  build: (stack: TerraformStack, props: Record<string, unknown>) => void,
  makeStack: () => TerraformStack,
  alias?: (path: string) => string,
  minimumCases = 10,
): string[] {
  // The base is valid, so every problem below comes from the one wrong value.
  const base = makeStack();
  build(base, valid(base));
  expect(() => Testing.synth(base)).not.toThrow();
  const cases = wrongShapes(valid(makeStack()));
  expect(cases.length).toBeGreaterThanOrEqual(minimumCases);
  return cases
    .map((c) => {
      const outcome = outcomeOf(
        (stack) => build(stack, withValueAt(valid(stack), c.path, c.value)),
        makeStack,
        c.path,
        alias,
      );
      return outcome === "ok" ? "" : `${c.path} = ${JSON.stringify(c.value)}: ${outcome}`;
    })
    .filter((f) => f !== "");
}

function dockerStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "s");
  new DockerProvider(stack, "docker", {});
  return stack;
}

describe("every prop of the wrong shape is a ConfigError naming it (a JavaScript user's stack)", () => {
  test("SandboxRunner", () => {
    const valid = (stack: TerraformStack) => ({
      image: IMAGE,
      command: ["python", "/workspace/run.py"],
      name: "agent-tests",
      workspace: { hostPath: "/srv/agent/ws", containerPath: "/workspace", writable: false },
      env: [
        { name: "LOG_LEVEL", value: "debug" },
        { name: "GITHUB_TOKEN", value: secretVariable(stack, "gh") },
      ],
      allowedSecretEnv: [{ name: "GITHUB_TOKEN", reason: "the agent opens pull requests; ticket SEC-7" }],
      user: "61000:61000",
      memoryMb: 512,
      cpuLimit: 1,
      cpuShares: 256,
      scratchMb: 64,
      maxProcesses: 128,
      maxOpenFiles: 512,
      allowUnpinnedImages: false,
      privileged: false,
      ipcMode: "private",
    });
    // SandboxRunner names an opt-in's reason by the variable's name.
    const alias = (path: string) => path.replace("allowedSecretEnv[0].reason", "allowedSecretEnv.GITHUB_TOKEN.reason");
    expect(
      failures(valid, (stack, props) => new SandboxRunner(stack, "agent", props as never), dockerStack, alias),
    ).toEqual([]);
  });

  test("ChatUi", () => {
    const valid = () => ({
      hostname: "chat.example.com",
      name: "ai-chat",
      publishOnEdge: true,
      memoryMb: 1024,
      cpuShares: 512,
      maxRequestBodyMb: 25,
      autoProvisionUsers: true,
      allowUnpinnedImages: false,
      image: IMAGES.openWebui.reference,
    });
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = new SecureInference(stack, "inference", inferenceProps(stack));
      new ChatUi(stack, "chat", { inference: ai, ...props } as never);
    };
    expect(failures(valid, build, () => stackWithProviders())).toEqual([]);
  });

  test("SecureInference", () => {
    const valid = (stack: TerraformStack) => ({
      ...inferenceProps(stack),
      replicas: 1,
      routes: ["/v1/chat/completions"],
      vllm: { extraArgs: ["--enforce-eager"], gpus: "none" },
    });
    expect(
      failures(
        valid,
        (stack, props) => new SecureInference(stack, "inference", props as never),
        () => stackWithProviders(),
      ),
    ).toEqual([]);
  });
});

describe("every prop of the wrong shape is a ConfigError naming it: the other constructs", () => {
  const withInference = (stack: TerraformStack, extra: Record<string, unknown> = {}) =>
    new SecureInference(stack, "inference", inferenceProps(stack, { metricsScraper: true, ...extra }));
  const exposureStack = () => {
    const stack = stackWithProviders();
    new CloudflareProvider(stack, "cloudflare", {});
    new TailscaleProvider(stack, "tailscale", {});
    return stack;
  };

  test("TailscaleExposure", () => {
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = withInference(stack);
      new TailscaleExposure(stack, "ts", { target: ai.edge, ...props } as never);
    };
    const valid = (stack: TerraformStack) => ({
      hostname: "ai",
      authKey: secretVariable(stack, "ts_key"),
      tailnetDomain: "tailnet-abc.ts.net",
      tags: ["tag:zta-ai"],
      kernelNetworking: false,
    });
    expect(failures(valid, build, exposureStack, undefined, 8)).toEqual([]);
  });

  test("CloudflareTunnel", () => {
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = withInference(stack);
      const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
      new CloudflareTunnel(stack, "tunnel", { target: chat, ...props } as never);
    };
    const valid = () => ({
      accountId: "0123456789abcdef0123456789abcdef",
      zoneId: "fedcba9876543210fedcba9876543210",
      hostname: "chat.example.com",
      access: { emailDomains: ["example.com"], emails: ["alice@example.org"], sessionHours: 8 },
    });
    expect(failures(valid, build, exposureStack)).toEqual([]);
  });

  test("Observability", () => {
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = withInference(stack);
      new Observability(stack, "obs", { inference: ai, ...props } as never);
    };
    const valid = () => ({
      grafanaHostname: "grafana.example.internal",
      retentionDays: 30,
      retentionSizeMb: 20000,
      scrapeIntervalSeconds: 15,
      alerts: { queueWaitingRequests: 10, kvCacheUsage: 0.9 },
      autoProvisionViewers: false,
    });
    expect(failures(valid, build, () => stackWithProviders())).toEqual([]);
  });

  test("EncryptedBackup", () => {
    const valid = (stack: TerraformStack) => ({
      name: "ai-backup",
      volumes: [{ volumeName: "ai-chat-data", name: "webui-data", sqliteDatabases: ["webui.db"], exclude: ["cache"] }],
      postgres: [
        {
          name: "gateway",
          host: "gateway-db",
          database: "gateway",
          user: "gateway",
          password: secretVariable(stack, "pg"),
        },
      ],
      repository: { localPath: "/srv/backups/ai" },
      // The catalog's restic image has no sqlite3 or pg_dump: databases need the job image of docs/backup.md.
      image: "ghcr.io/example/zta-backup-job:1.0@sha256:" + "a".repeat(64),
    });
    expect(
      failures(
        valid,
        (stack, props) => new EncryptedBackup(stack, "backup", props as never),
        () => stackWithProviders(),
      ),
    ).toEqual([]);
  });

  test("AuditLog", () => {
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = withInference(stack);
      new AuditLog(stack, "audit", { ca: ai.ca, ...props } as never);
    };
    expect(
      failures(
        () => ({ retentionDays: 400, hostPort: 6514, bufferSize: "2m" }),
        build,
        () => stackWithProviders(),
        undefined,
        4,
      ),
    ).toEqual([]);
  });

  test("ApiGateway", () => {
    const build = (stack: TerraformStack, props: Record<string, unknown>) => {
      const ai = withInference(stack);
      new ApiGateway(stack, "gateway", { inference: ai, ...props } as never);
    };
    const valid = () => ({
      hostname: "api.example.internal",
      apps: [
        { name: "nightly", models: ["meta-llama/Llama-3.1-8B-Instruct"], requestsPerMinute: 30, rotateAfterDays: 90 },
      ],
      maxRequestBodyMb: 4,
    });
    expect(failures(valid, build, () => stackWithProviders())).toEqual([]);
  });
});

describe("the wrong-shape checker itself", () => {
  test("derives wrong values per path, nested objects and first list elements included, and replaces one at a time", () => {
    const props = { name: "a", n: 1, list: [{ k: "v" }], obj: { flag: true } };
    const paths = new Set(wrongShapes(props).map((c) => c.path));
    expect([...paths].sort()).toEqual(["list", "list[0]", "list[0].k", "n", "name", "obj", "obj.flag"]);
    expect(withValueAt(props, "list[0].k", 42)).toEqual({ ...props, list: [{ k: 42 }] });
    expect(props.list[0].k).toBe("v");
  });
});
