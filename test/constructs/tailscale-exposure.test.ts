import { TerraformOutput, TerraformVariable, Testing } from "cdktf";
import { SecureInference, SecurityPolicy, TailscaleExposure } from "../../index";
import { IMAGES } from "../../lib/images";
import {
  containerNamed,
  inferenceProps,
  label,
  resources,
  secretVariable,
  stackWithProviders,
  synth,
  synthInference,
  uploaded,
} from "../helpers";
import { allInterfaceAddresses, expectConfigError, hardeningGaps, inferenceStack } from "../exposure-helpers";

function exposed(props: Partial<ConstructorParameters<typeof TailscaleExposure>[2]> = {}, inferenceOverrides = {}) {
  const { stack, ai } = inferenceStack(inferenceOverrides);
  const ts = new TailscaleExposure(stack, "tailnet", {
    target: ai.edge,
    hostname: "ai",
    authKey: secretVariable(stack, "ts_auth_key"),
    ...props,
  });
  return { stack, ai, ts, json: synth(stack) };
}

describe("TailscaleExposure: no port open to the world", () => {
  test("the edge publishes no host port once it is on the tailnet; without it, it publishes 127.0.0.1:443", () => {
    const { json, ai } = exposed();
    expect(containerNamed(json, "inference-edge").ports).toBeUndefined();
    expect(ai.edge.publishesHostPort).toBe(false);

    const { stack, ai: plain } = inferenceStack();
    const before = synth(stack);
    expect(containerNamed(before, "inference-edge").ports).toEqual([
      expect.objectContaining({ ip: "127.0.0.1", external: 443, internal: 8443 }),
    ]);
    expect(plain.edge.publishesHostPort).toBe(true);
  });

  test("no container publishes a port and nothing binds every interface; an all-interfaces edge is caught", () => {
    const { json } = exposed();
    for (const c of Object.values(resources(json, "docker_container"))) expect(c.ports ?? []).toEqual([]);
    expect(allInterfaceAddresses(json)).toEqual([]);
    const { json: open } = synthInference({ bindAddress: "0.0.0.0", allowAllInterfaces: true });
    expect(allInterfaceAddresses(open)).toContain("0.0.0.0");
  });

  test("serve forwards tailnet TCP 443 to the edge's TLS port (TLS and client certificates stay with Caddy)", () => {
    const { json, ts } = exposed();
    expect(JSON.parse(ts.serveConfig)).toEqual({ TCP: { "443": { TCPForward: "inference-edge:8443" } } });
    expect(uploaded(json, "inference-edge-ts-ai-config-loader", "serve.json")).toBe(ts.serveConfig);
    expect(containerNamed(json, "inference-edge-ts-ai").env).toContain("TS_SERVE_CONFIG=/etc/zta/serve.json");
  });

  test("the tailnet name joins the edge's API site and certificate", () => {
    const { ai, ts, json } = exposed({ tailnetDomain: "tailnet-abc.ts.net" });
    expect(ts.tailnetName).toBe("ai.tailnet-abc.ts.net");
    expect(ai.edge.hostnames).toContain("ai.tailnet-abc.ts.net");
    expect(ai.edge.caddyfile).toContain("https://ai.example.internal:8443, https://ai.tailnet-abc.ts.net:8443 {");
    expect(json.output?.inference_edge_ts_ai_tailnet_url).toEqual(
      expect.objectContaining({ value: "https://ai.tailnet-abc.ts.net" }),
    );
  });
});

describe("TailscaleExposure: the container", () => {
  test("hardened, pinned, userspace networking: no capability, no TUN device, health on 127.0.0.1 only", () => {
    const { json } = exposed();
    const c = containerNamed(json, "inference-edge-ts-ai");
    expect(hardeningGaps(c)).toEqual([]);
    expect(c.capabilities).toEqual({ drop: ["ALL"] });
    expect(c.devices).toBeUndefined();
    expect(c.env).toEqual(
      expect.arrayContaining(["TS_USERSPACE=true", "TS_ENABLE_HEALTH_CHECK=true", "TS_LOCAL_ADDR_PORT=127.0.0.1:9002"]),
    );
    expect(c.healthcheck.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9002/healthz"]);
    expect(Object.values(resources(json, "docker_image")).map((i) => i.name)).toContain(IMAGES.tailscale.reference);
    expect(label(c, "zta.role")).toBe("tailscale");
  });

  test("state on a named volume; tags come from the key (created with them); on the edge's own network only", () => {
    const { json } = exposed({ tags: ["tag:zta-ai", "tag:gpu"], authKey: undefined, createAuthKey: {} });
    const c = containerNamed(json, "inference-edge-ts-ai");
    expect(c.volumes).toEqual(
      expect.arrayContaining([expect.objectContaining({ container_path: "/var/lib/tailscale", read_only: false })]),
    );
    expect(Object.values(resources(json, "tailscale_tailnet_key"))[0].tags).toEqual(["tag:zta-ai", "tag:gpu"]);
    // Not TS_EXTRA_ARGS: some containerboot releases hand it to `tailscale set`, which has no --advertise-tags.
    expect(c.env.some((e: string) => e.startsWith("TS_EXTRA_ARGS="))).toBe(false);
    expect(c.networks_advanced).toEqual([{ name: expect.stringMatching(/edge_network/) }]);
  });

  test("kernel mode only when asked, with exactly NET_ADMIN and NET_RAW and the TUN device", () => {
    const { json } = exposed({ kernelNetworking: true });
    const c = containerNamed(json, "inference-edge-ts-ai");
    expect(c.capabilities).toEqual({ drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] });
    expect(c.devices).toEqual([{ host_path: "/dev/net/tun", container_path: "/dev/net/tun", permissions: "rwm" }]);
    expect(c.env).toContain("TS_USERSPACE=false");
  });

  test("the policy report records both exceptions with their reasons; userspace mode needs only the root one", () => {
    const suppressions = (ts: TailscaleExposure) =>
      SecurityPolicy.suppressionsOn(ts.container)
        .map((x) => x.ruleId)
        .sort();
    expect(suppressions(exposed({ kernelNetworking: true }).ts)).toEqual(["ZTA-CTR-003", "ZTA-CTR-011"]);
    expect(suppressions(exposed().ts)).toEqual(["ZTA-CTR-011"]);
  });
});

describe("TailscaleExposure: a hostname from a Terraform variable", () => {
  test("is not judged at synth, and the default Docker name leaves it out", () => {
    const { stack, ai } = inferenceStack();
    const hostname = new TerraformVariable(stack, "ts_hostname", { type: "string" });
    new TailscaleExposure(stack, "ts", {
      target: ai.edge,
      hostname: hostname.stringValue,
      authKey: secretVariable(stack, "k"),
    });
    const c = containerNamed(synth(stack), "inference-edge-ts");
    expect(c.env).toContain("TS_HOSTNAME=${var.ts_hostname}");
  });
});

describe("TailscaleExposure: the auth key is sensitive end to end", () => {
  test("a passed key reaches tailscale as a file wrapped in sensitive(), never an environment value", () => {
    const { json } = exposed();
    const c = containerNamed(json, "inference-edge-ts-ai");
    expect(c.env).toContain("TS_AUTHKEY=file:/etc/zta/authkey");
    expect(JSON.stringify(c.env)).not.toMatch(/var\.ts_auth_key|tskey-/);
    expect(uploaded(json, "inference-edge-ts-ai-config-loader", "authkey")).toBe("${sensitive(var.ts_auth_key)}");
  });

  test("a literal key is refused; so are none and both", () => {
    const { stack, ai } = inferenceStack();
    expectConfigError(
      () => new TailscaleExposure(stack, "t1", { target: ai.edge, hostname: "ai", authKey: "tskey-auth-abc123" }),
      "authKey",
      /Terraform reference/,
    );
    expectConfigError(
      () => new TailscaleExposure(stack, "t2", { target: ai.edge, hostname: "ai" }),
      "authKey",
      /exactly one/,
    );
    expectConfigError(
      () =>
        new TailscaleExposure(stack, "t3", {
          target: ai.edge,
          hostname: "ai",
          authKey: secretVariable(stack, "k"),
          createAuthKey: {},
        }),
      "authKey",
      /exactly one/,
    );
  });

  test("a provider-created key is single-use, preauthorized, tagged and short-lived by default", () => {
    const { json } = exposed({ authKey: undefined, createAuthKey: {} });
    const keys = Object.values(resources(json, "tailscale_tailnet_key"));
    expect(keys).toEqual([
      expect.objectContaining({
        reusable: false,
        ephemeral: false,
        preauthorized: true,
        tags: ["tag:zta-ai"],
        expiry: 3600,
      }),
    ]);
    expect(uploaded(json, "inference-edge-ts-ai-config-loader", "authkey")).toMatch(
      /^\$\{sensitive\(tailscale_tailnet_key\.[^.]+\.key\)\}$/,
    );
    expect(json.provider?.tailscale).toBeDefined();
  });

  test("outputs never carry a key, and any output that did would have to be sensitive", () => {
    const { json, stack, ts } = exposed({ authKey: undefined, createAuthKey: {}, tailnetDomain: "tailnet-abc.ts.net" });
    const leaking = (j: typeof json) =>
      Object.entries(j.output ?? {}).filter(
        ([, o]) => /tailnet_key|auth_key/.test(JSON.stringify(o.value)) && o.sensitive !== true,
      );
    expect(leaking(json)).toEqual([]);
    new TerraformOutput(stack, "oops", { value: ts.tailnetKey!.key });
    expect(leaking(synth(stack)).map(([k]) => k)).toEqual(["oops"]);
  });

  test("a provider-created key needs a TailscaleProvider in the stack", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    new TailscaleExposure(stack, "tailnet", { target: ai.edge, hostname: "ai", createAuthKey: {} });
    expect(() => Testing.synth(stack, true)).toThrow(/needs?.*TailscaleProvider|add new TailscaleProvider/);
  });

  test("bad tags, hostname, expiry are refused", () => {
    const { stack, ai } = inferenceStack();
    const key = secretVariable(stack, "k");
    expectConfigError(
      () => new TailscaleExposure(stack, "a", { target: ai.edge, hostname: "ai", authKey: key, tags: ["zta-ai"] }),
      "tags",
      /tag:/,
    );
    expectConfigError(
      () => new TailscaleExposure(stack, "b", { target: ai.edge, hostname: "ai.example.com", authKey: key }),
      "hostname",
    );
    expectConfigError(
      () =>
        new TailscaleExposure(stack, "c", {
          target: ai.edge,
          hostname: "ai",
          createAuthKey: { expirySeconds: 30 * 86400 },
        }),
      "createAuthKey.expirySeconds",
    );
  });
});

describe("TailscaleExposure: suggested ACL", () => {
  test("grants only the chosen users/groups, only the tagged node's port 443", () => {
    const acl = JSON.parse(TailscaleExposure.renderAcl(["tag:zta-ai"], ["group:ml", "alice@example.com"]));
    expect(acl.acls).toEqual([{ action: "accept", src: ["group:ml", "alice@example.com"], dst: ["tag:zta-ai:443"] }]);
    expect(acl.tagOwners).toEqual({ "tag:zta-ai": ["autogroup:admin"] });
  });

  test("only exposed as JSON unless apply: true, which creates tailscale_acl", () => {
    const { json, ts } = exposed({ acl: { allow: ["group:ml"] } });
    expect(ts.suggestedAcl).toContain("tag:zta-ai:443");
    expect(resources(json, "tailscale_acl")).toEqual({});
    const { json: applied } = exposed({ acl: { allow: ["group:ml"], apply: true } });
    expect(Object.values(resources(applied, "tailscale_acl"))).toEqual([{ acl: ts.suggestedAcl }]);
  });

  test("an empty or wildcard allow list is refused", () => {
    const { stack, ai } = inferenceStack();
    const key = secretVariable(stack, "k");
    expectConfigError(
      () => new TailscaleExposure(stack, "a", { target: ai.edge, hostname: "ai", authKey: key, acl: { allow: [] } }),
      "acl.allow",
    );
    expectConfigError(
      () => new TailscaleExposure(stack, "b", { target: ai.edge, hostname: "ai", authKey: key, acl: { allow: ["*"] } }),
      "acl.allow",
      /every device/,
    );
  });
});

describe("TailscaleExposure: snapshot", () => {
  test("default props", () => {
    const { json } = exposed({ tailnetDomain: "tailnet-abc.ts.net" });
    const own = (type: string) =>
      Object.fromEntries(Object.entries(resources(json, type)).filter(([id]) => id.startsWith("tailnet_")));
    expect({
      containers: own("docker_container"),
      volumes: own("docker_volume"),
      edge: containerNamed(json, "inference-edge").ports ?? null,
    }).toMatchSnapshot();
  });
});
