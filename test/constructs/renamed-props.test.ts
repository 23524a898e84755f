import {
  ChatUi,
  CloudflareTunnel,
  EdgeProxy,
  InternalCa,
  MtlsSidecar,
  SandboxRunner,
  stackProblems,
} from "../../index";
import { expectConfigError, inferenceStack } from "../exposure-helpers";
import { secretVariable, stackWithProviders, synth } from "../helpers";

const IMAGE = "python:3.12-slim@sha256:05cda9777409a9c3ffddd94a4c476b79f0769a0b4857f0c7ed9226b6800b0d6f";

/**
 * One name per idea (issue 16): the props renamed in 0.2 are refused under their old names with the new
 * name in the fix, so a stack written for 0.1 (or a JavaScript stack) never loses a setting silently.
 */
describe("renamed props: the old name is a ConfigError naming the new one", () => {
  test("SandboxRunner allowUnpinnedImage -> allowUnpinnedImages", () => {
    const stack = stackWithProviders();
    expectConfigError(
      () => new SandboxRunner(stack, "a", { image: IMAGE, command: ["true"], allowUnpinnedImage: true } as never),
      "allowUnpinnedImage",
      /now called allowUnpinnedImages/,
    );
    // The new name works: an unpinned image is accepted only with it.
    const ok = stackWithProviders();
    new SandboxRunner(ok, "a", { image: "python:3.12-slim", command: ["true"], allowUnpinnedImages: true });
    expect(() => synth(ok)).not.toThrow();
  });

  test("ChatUi maxUploadMb -> maxRequestBodyMb", () => {
    const { stack, ai } = inferenceStack();
    expectConfigError(
      () => new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com", maxUploadMb: 50 } as never),
      "maxUploadMb",
      /now called maxRequestBodyMb/,
    );
  });

  test("EdgeProxy maxBodyMb -> maxRequestBodyMb", () => {
    const stack = stackWithProviders();
    const ca = new InternalCa(stack, "ca", {});
    expectConfigError(
      () =>
        new EdgeProxy(stack, "edge", {
          ca,
          name: "edge",
          hostnames: ["ai.example.internal"],
          upstreams: ["sidecar:8443"],
          routes: ["/v1/models"],
          maxBodyMb: 8,
        } as never),
      "maxBodyMb",
      /now called maxRequestBodyMb/,
    );
  });

  test("CloudflareTunnel access.sessionDuration -> access.sessionHours", () => {
    const { stack, ai } = inferenceStack();
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    expectConfigError(
      () =>
        new CloudflareTunnel(stack, "tunnel", {
          accountId: "0123456789abcdef0123456789abcdef",
          zoneId: "fedcba9876543210fedcba9876543210",
          hostname: "chat.example.com",
          target: chat,
          access: { emailDomains: ["example.com"], sessionDuration: "8h" } as never,
        }),
      "access.sessionDuration",
      /now called access.sessionHours/,
    );
  });
});

describe("limits are declared once and passed through", () => {
  test("the sidecars apply SecureInference's limits; ChatUi's proxy waits as long as the sidecars allow", () => {
    const { stack, ai } = inferenceStack({
      rateLimit: { requestsPerMinute: 30, burst: 5, maxConcurrent: 2 },
      maxRequestBodyMb: 7,
      generationTimeoutSeconds: 600,
    });
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    expect(ai.limits).toEqual({
      requestsPerMinute: 30,
      burst: 5,
      maxConcurrent: 2,
      maxRequestBodyMb: 7,
      generationTimeoutSeconds: 600,
    });
    for (const sidecar of ai.sidecars) expect(sidecar.limits).toEqual(ai.limits);
    const conf = ai.sidecars[0].nginxConfig;
    expect(conf).toContain("rate=30r/m");
    expect(conf).toContain("client_max_body_size 7m;");
    expect(conf).toContain("limit_conn zta_conn 2;");
    expect(chat.nginxConfig).toContain("proxy_read_timeout 600s;");
    expect(chat.nginxConfig).not.toContain("1800s");
  });

  test("a sidecar on its own applies the documented defaults, and refuses a bad limit under the same prop name", () => {
    const stack = stackWithProviders();
    const ca = new InternalCa(stack, "ca", {});
    const { ai } = inferenceStack();
    const base = {
      ca,
      target: ai.replicas[0].service,
      targetHostname: "t",
      upstream: "127.0.0.1:8000",
      upstreamApiKey: secretVariable(stack, "k"),
      routes: ["/v1/models"],
      callers: [],
    };
    expect(new MtlsSidecar(stack, "s1", { ...base, name: "s1" }).limits).toEqual({
      requestsPerMinute: 60,
      burst: 20,
      maxConcurrent: 8,
      maxRequestBodyMb: 4,
      generationTimeoutSeconds: 1800,
    });
    expectConfigError(
      () => new MtlsSidecar(stack, "s2", { ...base, name: "s2", rateLimit: { maxConcurrent: 0 } }),
      "rateLimit.maxConcurrent",
      /from 1 to 1024/,
    );
  });
});

describe("a construct reports its own props, also from its inner service", () => {
  test("an unpinned image on a standalone EdgeProxy is EdgeProxy's `image`, not its HardenedService's", () => {
    const stack = stackWithProviders();
    const ca = new InternalCa(stack, "ca", {});
    new EdgeProxy(stack, "edge", {
      ca,
      name: "edge",
      hostnames: ["ai.example.internal"],
      upstreams: ["sidecar:8443"],
      upstreamServerName: "sidecar.zta.internal",
      routes: ["/v1/models"],
      image: "caddy:latest",
    });
    const image = stackProblems(stack).filter((p) => p.prop === "image");
    expect(image.map((p) => p.where)).toEqual([`EdgeProxy "${stack.node.path}/edge"`]);
  });
});
