import { Container } from "@cdktf/provider-docker/lib/container";
import { Aspects, TerraformOutput, TerraformVariable, Testing } from "cdktf";
import {
  ChatUi,
  ClientCertMode,
  CloudflareTunnel,
  CloudflareTunnelProps,
  PolicyProfile,
  SecureInference,
  SecurityPolicy,
} from "../../index";
import { IMAGES } from "../../lib/images";
import { CATCH_ALL_SERVICE } from "../../lib/tunnel-ingress";
import { containerNamed, inferenceProps, label, resources, stackWithProviders, synth, uploaded } from "../helpers";
import { allInterfaceAddresses, expectConfigError, hardeningGaps, inferenceStack } from "../exposure-helpers";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";

function tunnelled(props: Partial<CloudflareTunnelProps> = {}, inferenceOverrides = {}) {
  const { stack, ai } = inferenceStack(inferenceOverrides);
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
  const tunnel = new CloudflareTunnel(stack, "tunnel", {
    accountId: ACCOUNT,
    zoneId: ZONE,
    hostname: "chat.example.com",
    target: chat,
    access: { emailDomains: ["example.com"], emails: ["alice@example.org"] },
    ...props,
  });
  return { stack, ai, chat, tunnel, json: synth(stack) };
}

const one = (json: ReturnType<typeof synth>, type: string) => {
  const all = Object.values(resources(json, type));
  expect(all).toHaveLength(1);
  return all[0];
};

describe("CloudflareTunnel: Cloudflare resources", () => {
  const { json } = tunnelled();

  test("a remotely managed tunnel", () => {
    expect(one(json, "cloudflare_zero_trust_tunnel_cloudflared")).toEqual(
      expect.objectContaining({ account_id: ACCOUNT, config_src: "cloudflare", name: "inference-chat-cloudflared" }),
    );
  });

  test("ingress: the hostname to the chat UI over verified TLS with the Access JWT required, then the catch-all 404 last", () => {
    const ingress = one(json, "cloudflare_zero_trust_tunnel_cloudflared_config").config.ingress;
    expect(ingress).toHaveLength(2);
    expect(ingress[1]).toEqual({ service: CATCH_ALL_SERVICE });
    expect(ingress[0]).toEqual({
      hostname: "chat.example.com",
      service: "https://inference-chat:8444",
      origin_request: {
        access: {
          required: true,
          team_name: expect.stringMatching(
            /^\$\{element\(split\("\.", data\.cloudflare_zero_trust_organization\.[^.]+\.auth_domain\), 0\)\}$/,
          ),
          aud_tag: [expect.stringMatching(/^\$\{cloudflare_zero_trust_access_application\.[^.]+\.aud\}$/)],
        },
        ca_pool: "/etc/zta/origin-ca.crt",
        origin_server_name: "chat.zta.internal",
        no_tls_verify: false,
      },
    });
  });

  test("a given team name is used as is", () => {
    const { json: j } = tunnelled({ teamName: "acme" });
    expect(
      one(j, "cloudflare_zero_trust_tunnel_cloudflared_config").config.ingress[0].origin_request.access.team_name,
    ).toBe("acme");
    expect(j).not.toHaveProperty("data.cloudflare_zero_trust_organization");
  });

  test("a proxied CNAME to <tunnel id>.cfargotunnel.com", () => {
    expect(one(json, "cloudflare_dns_record")).toEqual(
      expect.objectContaining({
        zone_id: ZONE,
        name: "chat.example.com",
        type: "CNAME",
        content: expect.stringMatching(
          /^\$\{cloudflare_zero_trust_tunnel_cloudflared\.[^.]+\.id\}\.cfargotunnel\.com$/,
        ),
        proxied: true,
        ttl: 1,
      }),
    );
  });

  test("a self-hosted Access application on the hostname with a session duration and the policy attached", () => {
    const app = one(json, "cloudflare_zero_trust_access_application");
    expect(app).toEqual(
      expect.objectContaining({
        type: "self_hosted",
        destinations: [{ type: "public", uri: "chat.example.com" }],
        session_duration: "8h",
        policies: [
          { id: expect.stringMatching(/^\$\{cloudflare_zero_trust_access_policy\.[^.]+\.id\}$/), precedence: 1 },
        ],
      }),
    );
  });

  test("an allow policy including exactly the emails and email domains given", () => {
    const policy = one(json, "cloudflare_zero_trust_access_policy");
    expect(policy.decision).toBe("allow");
    expect(policy.include).toEqual([
      { email: { email: "alice@example.org" } },
      { email_domain: { domain: "example.com" } },
    ]);
    const { json: g } = tunnelled({ access: { groups: ["0f3c-group-id"] } });
    expect(one(g, "cloudflare_zero_trust_access_policy").include).toEqual([{ group: { id: "0f3c-group-id" } }]);
  });

  test("an empty include set is an error naming access", () => {
    expectConfigError(() => tunnelled({ access: {} }), "access", /Say who may pass Access/);
    expectConfigError(() => tunnelled({ access: { emails: [], emailDomains: [], groups: [] } }), "access");
    expectConfigError(() => tunnelled({ access: { emails: ["not-an-email"] } }), "access.emails");
    expectConfigError(() => tunnelled({ access: { emailDomains: ["@example.com"] } }), "access.emailDomains");
  });

  test("an email from a Terraform variable is not judged at synth (its value is unknown there)", () => {
    const { stack, ai } = inferenceStack();
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    const email = new TerraformVariable(stack, "oncall_email", { type: "string" });
    new CloudflareTunnel(stack, "tunnel", {
      accountId: ACCOUNT,
      zoneId: ZONE,
      hostname: "chat.example.com",
      target: chat,
      access: { emails: [email.stringValue] },
    });
    const policy = one(synth(stack), "cloudflare_zero_trust_access_policy");
    expect(policy.include).toEqual([{ email: { email: "${var.oncall_email}" } }]);
  });
});

describe("CloudflareTunnel: cloudflared", () => {
  const { json } = tunnelled();
  const c = containerNamed(json, "inference-chat-cloudflared");

  test("hardened, pinned, non-root, no autoupdate, metrics on 127.0.0.1, token from a file", () => {
    expect(hardeningGaps(c)).toEqual([]);
    expect(c.user).toBe("65532:65532");
    expect(c.entrypoint).toEqual([
      "cloudflared",
      "--no-autoupdate",
      "tunnel",
      "--metrics",
      "127.0.0.1:2000",
      "run",
      "--token-file",
      "/etc/zta/tunnel-token",
    ]);
    expect(c.healthcheck.test).toEqual(["CMD", "cloudflared", "tunnel", "--metrics", "127.0.0.1:2000", "ready"]);
    expect(Object.values(resources(json, "docker_image")).map((i) => i.name)).toContain(IMAGES.cloudflared.reference);
    expect(allInterfaceAddresses(json)).toEqual([]);
  });

  test("the token is never a literal nor an environment value: a data source reference wrapped in sensitive()", () => {
    expect(c.env).toBeUndefined();
    expect(uploaded(json, "inference-chat-cloudflared-config-loader", "tunnel-token")).toMatch(
      /^\$\{sensitive\(data\.cloudflare_zero_trust_tunnel_cloudflared_token\.[^.]+\.token\)\}$/,
    );
    expect(JSON.stringify(json)).not.toMatch(/TUNNEL_TOKEN=|eyJ[A-Za-z0-9]{20,}/);
  });

  test("outputs carrying the token would have to be sensitive (the check fails on a leaking one)", () => {
    const { stack, json: j } = tunnelled();
    const leaking = (x: typeof j) =>
      Object.entries(x.output ?? {}).filter(
        ([, o]) => /tunnel_cloudflared_token/.test(JSON.stringify(o.value)) && o.sensitive !== true,
      );
    expect(leaking(j)).toEqual([]);
    const token = Object.keys((j as any).data.cloudflare_zero_trust_tunnel_cloudflared_token)[0];
    new TerraformOutput(stack, "leak", {
      value: `\${data.cloudflare_zero_trust_tunnel_cloudflared_token.${token}.token}`,
    });
    expect(leaking(synth(stack)).map(([k]) => k)).toEqual(["leak"]);
  });

  test("on an egress network and an internal network shared with its origin only", () => {
    const networks = resources(json, "docker_network");
    const byRef = (ref: string) => networks[/docker_network\.([^.]+)\.name/.exec(ref)![1]];
    const [egress, origin] = c.networks_advanced.map((n: { name: string }) => byRef(n.name));
    expect(egress.internal).toBe(false);
    expect(origin).toEqual(expect.objectContaining({ internal: true, ipam_config: [{ subnet: "172.31.253.0/28" }] }));
    const onOrigin = Object.values(resources(json, "docker_container")).filter((x) =>
      (x.networks_advanced ?? []).some((n: { name: string }) => n.name === c.networks_advanced[1].name),
    );
    expect(onOrigin.map((x) => x.name).sort()).toEqual(["inference-chat", "inference-chat-cloudflared"]);
  });

  test("the chat UI opens its tunnel listener for that network only and trusts Access's email", () => {
    const { chat, json: j } = tunnelled();
    expect(chat.nginxConfig).toMatch(/listen 8444 ssl;[\s\S]*allow 172\.31\.253\.0\/28;\s+deny all;/);
    expect(uploaded(j, "inference-chat-cloudflared-config-loader", "origin-ca.crt")).toMatch(
      /^\$\{tls_self_signed_cert\./,
    );
    expect(label(c, "zta.tunnel-target")).toBe("chat-ui");
  });

  test("the chat UI trusts the identity header once a tunnel points at it, even without OIDC", () => {
    const { json: j } = tunnelled({}, { oidc: undefined });
    expect(containerNamed(j, "inference-chat").env).toContain("WEBUI_AUTH_TRUSTED_EMAIL_HEADER=X-ZTA-Webui-User");
  });
});

describe("CloudflareTunnel: never the inference API by default", () => {
  test("SecureInference or its edge as the target is refused, naming the opt-in", () => {
    const { stack, ai } = inferenceStack();
    const base = {
      accountId: ACCOUNT,
      zoneId: ZONE,
      hostname: "ai.example.com",
      access: { emailDomains: ["example.com"] },
    };
    expectConfigError(
      () => new CloudflareTunnel(stack, "t1", { ...base, target: ai }),
      "target",
      /allowInferenceApi: true/,
    );
    expectConfigError(
      () => new CloudflareTunnel(stack, "t2", { ...base, target: ai.edge }),
      "target",
      /allowInferenceApi: true/,
    );
    expectConfigError(
      () => new CloudflareTunnel(stack, "t3", { ...base, target: ai.sidecars[0], allowInferenceApi: true }),
      "target",
      /client certificate/,
    );
    expectConfigError(
      () =>
        new CloudflareTunnel(stack, "t4", {
          ...base,
          target: new Container(stack, "x", { name: "x", image: "x" }) as never,
        }),
      "target",
      /ChatUi/,
    );
  });

  test("opted in, an edge that requires client certificates is still refused (cloudflared has none)", () => {
    const { stack, ai } = inferenceStack();
    expectConfigError(
      () =>
        new CloudflareTunnel(stack, "t", {
          accountId: ACCOUNT,
          zoneId: ZONE,
          hostname: "ai.example.com",
          access: { emailDomains: ["example.com"] },
          target: ai,
          allowInferenceApi: true,
        }),
      "target",
      /VERIFY_IF_GIVEN/,
    );
  });

  test("opted in by name with OIDC and VERIFY_IF_GIVEN: allowed, and marked for the policy engine", () => {
    const { stack, ai } = inferenceStack({ clientCertMode: ClientCertMode.VERIFY_IF_GIVEN });
    const t = new CloudflareTunnel(stack, "t", {
      accountId: ACCOUNT,
      zoneId: ZONE,
      hostname: "ai.example.com",
      access: { emailDomains: ["example.com"] },
      target: ai,
      allowInferenceApi: true,
    });
    const json = synth(stack);
    expect(t.exposesInferenceApi).toBe(true);
    const c = containerNamed(json, "inference-edge-cloudflared");
    expect(label(c, "zta.tunnel-target")).toBe("inference-api");
    expect(hardeningGaps(c)).toEqual([]);
    expect(one(json, "cloudflare_zero_trust_tunnel_cloudflared_config").config.ingress[0]).toEqual(
      expect.objectContaining({ service: "https://inference-edge:8443" }),
    );
    expect(ai.edge.hostnames).toContain("ai.example.com");
  });
});

describe("CloudflareTunnel: the policy engine", () => {
  const withPolicy = (stack: import("cdktf").TerraformStack) => {
    const policy = new SecurityPolicy({ profile: PolicyProfile.PRODUCTION, writeReports: false });
    Aspects.of(stack).add(policy);
    let error: unknown;
    try {
      Testing.synth(stack, true);
    } catch (e) {
      error = e;
    }
    const open = policy.results.flatMap((r) => r.findings).filter((f) => !f.suppression);
    return { error, open };
  };

  test("a tunnel to the chat UI raises no finding", () => {
    const { stack } = tunnelled();
    const { error, open } = withPolicy(stack);
    expect(open.map((f) => f.ruleId)).toEqual([]);
    expect(error).toBeUndefined();
  });

  test("the opted-in tunnel to the inference API is flagged (ZTA-AI-003) and fails a production synth", () => {
    const { stack, ai } = inferenceStack({ clientCertMode: ClientCertMode.VERIFY_IF_GIVEN });
    new CloudflareTunnel(stack, "t", {
      accountId: ACCOUNT,
      zoneId: ZONE,
      hostname: "ai.example.com",
      access: { emailDomains: ["example.com"] },
      target: ai,
      allowInferenceApi: true,
    });
    const { error, open } = withPolicy(stack);
    expect(open.map((f) => f.ruleId)).toContain("ZTA-AI-003");
    expect(String(error)).toMatch(/ZTA-AI-003/);
  });
});

describe("CloudflareTunnel: bad props and providers", () => {
  test("ids, hostname, subnet and session duration are checked", () => {
    expectConfigError(() => tunnelled({ accountId: "acct" }), "accountId", /32-hex/);
    expectConfigError(() => tunnelled({ hostname: "Chat.Example.com" }), "hostname");
    // A missing hostname is a ConfigError at synth like any other bad prop (it used to end the
    // constructor with a plain Error from a redundant ingress self-check).
    expectConfigError(() => tunnelled({ hostname: undefined as unknown as string }), "hostname");
    expectConfigError(() => tunnelled({ tunnelSubnet: "0.0.0.0/0" }), "tunnelSubnet");
    expectConfigError(
      () => tunnelled({ access: { emailDomains: ["example.com"], sessionHours: 0 } }),
      "access.sessionHours",
    );
    expectConfigError(() => tunnelled({ image: "cloudflare/cloudflared:latest" }), "image", /Pin the image by digest/);
  });

  test("a missing CloudflareProvider is reported at synth", () => {
    const stack = stackWithProviders();
    const ai = new SecureInference(stack, "inference", inferenceProps(stack));
    const chat = new ChatUi(stack, "chat", { inference: ai, hostname: "chat.example.com" });
    new CloudflareTunnel(stack, "tunnel", {
      accountId: ACCOUNT,
      zoneId: ZONE,
      hostname: "chat.example.com",
      target: chat,
      access: { emailDomains: ["example.com"] },
    });
    expect(() => Testing.synth(stack, true)).toThrow(/needs a CloudflareProvider/);
  });
});

describe("CloudflareTunnel: snapshot", () => {
  test("default props", () => {
    const { json } = tunnelled();
    const own = (type: string) =>
      Object.fromEntries(Object.entries(resources(json, type)).filter(([id]) => id.startsWith("tunnel_")));
    expect({
      cloudflare: Object.fromEntries(
        Object.keys(json.resource)
          .filter((t) => t.startsWith("cloudflare_"))
          .map((t) => [t, json.resource[t]]),
      ),
      containers: own("docker_container"),
      networks: own("docker_network"),
    }).toMatchSnapshot();
  });
});
