import { Network } from "@cdktf/provider-docker/lib/network";
import { Construct } from "constructs";
import {
  ClientCertMode,
  EdgeProxy,
  HardenedService,
  InternalCa,
  MtlsSidecar,
  OidcGate,
  ServiceIdentities,
} from "../../index";

const APP_IMAGE = { reference: `app:1@sha256:${"a".repeat(64)}`, user: "1000:1000" };
/** A user's own service, the sidecar's target ("Default": its container's logical id is just its scope's). */
function appService(scope: Construct, id: string, name: string): HardenedService {
  const holder = new Construct(scope, id);
  return new HardenedService(holder, "Default", {
    name,
    role: "app",
    catalogImage: APP_IMAGE,
    hardening: { memoryMb: 256, cpuShares: 256, healthcheck: ["true"] },
    ids: { container: "Default" },
  });
}
import { containerNamed, label, secretVariable, stackWithProviders, synth, uploaded } from "../helpers";
import { synthOf } from "../helpers";
import { GATE_AUTH_LOG_FORMAT, GATE_REQUEST_LOG_FORMAT } from "../../constructs/oidc-gate";

/** EdgeProxy, MtlsSidecar and OidcGate used on their own, the way a user composing them would. */
function parts() {
  const stack = stackWithProviders();
  const ca = new InternalCa(stack, "ca");
  const egress = new Network(stack, "egress", { name: "egress" });
  const app = appService(stack, "app", "app");
  const sidecar = new MtlsSidecar(stack, "sidecar", {
    ca,
    name: "app-mtls",
    target: app,
    targetHostname: "app",
    upstream: "127.0.0.1:8000",
    upstreamApiKey: secretVariable(stack, "app_key"),
    routes: ["/v1/models"],
    callers: [
      {
        role: "edge",
        subjectDn: "CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai",
        forwardsIdentity: true,
        mayScrapeMetrics: false,
      },
    ],
    maxRequestBodyMb: 1,
    rateLimit: { requestsPerMinute: 10, burst: 1, maxConcurrent: 1 },
    generationTimeoutSeconds: 60,
  });
  const gate = new OidcGate(stack, "gate", {
    ca,
    name: "gate",
    egressNetwork: egress,
    publicHostname: "ai.example.internal",
    oidc: {
      issuerUrl: "https://idp.example.com",
      clientId: "c",
      clientSecret: secretVariable(stack, "cs"),
      emailDomains: ["example.com"],
    },
  });
  const edge = new EdgeProxy(stack, "edge", {
    ca,
    name: "edge",
    hostnames: ["ai.example.internal"],
    upstreams: [sidecar.address],
    upstreamServerName: sidecar.serverName,
    routes: ["/v1/models"],
    gate,
  });
  return { stack, ca, egress, app, sidecar, gate, edge };
}

describe("MtlsSidecar", () => {
  const { stack, sidecar } = parts();
  const json = synth(stack);

  test("joins its target's namespace and nothing else", () => {
    const c = containerNamed(json, "app-mtls");
    expect(c.network_mode).toMatch(/^container:\$\{docker_container\.app\.id\}$/);
    expect(c.entrypoint).toEqual(["nginx", "-c", "/etc/zta/nginx.conf", "-g", "daemon off;"]);
    expect(label(c, "zta.role")).toBe("mtls-sidecar");
  });

  test("its certificate names the target and the shared sidecar name", () => {
    expect(sidecar.address).toBe("app:8443");
    expect(JSON.stringify(json.resource.tls_cert_request)).toContain('"dns_names":["sidecar.zta.internal","app"]');
  });

  test("callers can be added later (a chat UI) but never twice; each gets its own network to the target", () => {
    const chat = appService(stack, "chat", "chat");
    sidecar.allowCaller(chat, { identity: ServiceIdentities.CHAT, forwardsIdentity: true });
    expect(sidecar.nginxConfig).toContain('"CN=zta-chat,OU=zta-services,O=cdktf-zero-trust-ai" chat;');
    const j = synth(stack);
    expect(uploaded(j, "app-mtls-config-loader", "nginx.conf")).toBe(sidecar.nginxConfig);
    expect(Object.values(j.resource.docker_network).map((n) => (n as { name: string }).name)).toContain("chat-to-app");
    sidecar.allowCaller(chat, { identity: ServiceIdentities.CHAT, forwardsIdentity: true });
    expect(synth(stack)).toEqual(j);
    sidecar.allowCaller(chat, { identity: ServiceIdentities.METRICS_SCRAPER });
    expect(() => synth(stack)).toThrow(
      /caller: received "chat". chat may already call app-mtls on 8443 with other options: allow each flow once/,
    );
  });

  test("an unpinned image or empty allowlist is refused", () => {
    const s = stackWithProviders();
    const target = appService(s, "t", "t");
    expect(() =>
      synthOf(
        new MtlsSidecar(s, "sc", {
          ca: new InternalCa(s, "ca"),
          name: "t-mtls",
          target,
          targetHostname: "t",
          upstream: "127.0.0.1:8000",
          upstreamApiKey: secretVariable(s, "k"),
          routes: [],
          callers: [],
          maxRequestBodyMb: 1,
          rateLimit: { requestsPerMinute: 1, burst: 0, maxConcurrent: 1 },
          generationTimeoutSeconds: 1,
          image: "nginx:latest",
        }),
      ),
    ).toThrow(/routes: received an empty list[\s\S]*image: received "nginx:latest"/);
  });

  test("snapshot", () => expect(containerNamed(json, "app-mtls")).toMatchSnapshot());
});

describe("OidcGate", () => {
  const { stack, gate } = parts();
  const json = synth(stack);
  const c = containerNamed(json, "gate");

  test("secure cookies, PKCE, JWT bearer for machines, TLS only, secrets from a file", () => {
    for (const arg of [
      "--cookie-secure=true",
      "--cookie-httponly=true",
      "--cookie-name=__Host-zta-session",
      "--code-challenge-method=S256",
      "--skip-jwt-bearer-tokens=true",
      "--set-xauthrequest=true",
      "--email-domain=example.com",
      "--redirect-url=https://ai.example.internal/oauth2/callback",
      "--config=/etc/zta/oauth2-proxy.cfg",
    ]) {
      expect(c.command).toContain(arg);
    }
    expect(c.command.some((a: string) => a.startsWith("--http-address"))).toBe(false);
    expect(JSON.stringify([c.command, c.env ?? []])).not.toMatch(/var\.cs|random_password/);
    const cfg = uploaded(json, "gate-config-loader", "oauth2-proxy.cfg");
    expect(cfg).toMatch(
      /^client_secret = \$\{jsonencode\(var\.cs\)\}\ncookie_secret = \$\{jsonencode\(random_password\.gate_cookie-secret_[A-Z0-9]+\.result\)\}\n$/,
    );
    expect(Object.values(json.resource.random_password)[0]).toMatchObject({ length: 32, special: false });
  });

  test("auth and request logs are JSON lines of the audit schema's keys, with UTC times (docs/audit.md)", () => {
    for (const arg of [
      "--auth-logging=true",
      `--auth-logging-format=${GATE_AUTH_LOG_FORMAT}`,
      "--request-logging=true",
      `--request-logging-format=${GATE_REQUEST_LOG_FORMAT}`,
      "--logging-local-time=false",
    ]) {
      expect(c.command).toContain(arg);
    }
    // Each flag once: oauth2-proxy would take the last one.
    expect(c.command.filter((a: string) => a.startsWith("--auth-logging-format="))).toHaveLength(1);
  });

  test("an egress network toward the IdP, and the edge->gate network (its only caller, as itself), no ports", () => {
    expect(c.networks_advanced).toEqual([
      { name: "${docker_network.egress.name}" },
      {
        name: expect.stringMatching(/^\$\{docker_network\.zta-trust_edge-to-gate_[0-9A-F]+\.name\}$/),
        aliases: ["gate"],
      },
    ]);
    expect(c.ports).toBeUndefined();
    expect(gate.address).toBe("gate:4443");
  });

  test("who may sign in must be said; literals and plain-http issuers are refused", () => {
    const s = stackWithProviders();
    const net = new Network(s, "n", { name: "n", internal: true });
    expect(() =>
      synthOf(
        new OidcGate(s, "g", {
          ca: new InternalCa(s, "ca"),
          name: "g",
          egressNetwork: net,
          publicHostname: "ai.example.internal",
          oidc: { issuerUrl: "http://idp.example.com", clientId: "c", clientSecret: "hunter2" },
        }),
      ),
    ).toThrow(
      /oidc\.issuerUrl: received "http:\/\/idp\.example\.com"[\s\S]*oidc\.clientSecret: received "a literal string"[\s\S]*oidc\.emailDomains/,
    );
  });

  test("a second sign-in hostname drops the fixed callback URL and allows both redirect targets", () => {
    const { gate: g } = parts();
    expect(g.args).toContain("--redirect-url=https://ai.example.internal/oauth2/callback");
    g.addHostname("chat.example.internal");
    expect(g.args.filter((a) => a.startsWith("--redirect-url"))).toEqual([]);
    expect(g.args).toEqual(
      expect.arrayContaining(["--whitelist-domain=ai.example.internal", "--whitelist-domain=chat.example.internal"]),
    );
    expect(() => g.addHostname("Chat!")).toThrow(/hostname: received "Chat!"/);
  });

  test("snapshot", () => expect(c).toMatchSnapshot());
});

describe("EdgeProxy", () => {
  const { stack, edge } = parts();
  edge.addHostname("ai.tailnet-1234.ts.net");
  const json = synth(stack);
  const c = containerNamed(json, "edge");

  test("hostnames added later join the certificate and the site", () => {
    expect(edge.caddyfile).toContain("https://ai.example.internal:8443, https://ai.tailnet-1234.ts.net:8443 {");
    const requests = Object.entries(json.resource.tls_cert_request).filter(([id]) => id.startsWith("edge_server"));
    expect(requests[0][1].dns_names).toEqual(["ai.example.internal", "ai.tailnet-1234.ts.net"]);
    expect(() => edge.addHostname("bad host")).toThrow(/hostname: received "bad host"/);
  });

  test("runs caddy on the mounted config as a non-root user with its state on tmpfs", () => {
    expect(c.command).toEqual(["caddy", "run", "--config", "/etc/zta/Caddyfile", "--adapter", "caddyfile"]);
    expect(c.user).toBe("65532:65532");
    expect(Object.keys(c.tmpfs).sort()).toEqual(["/config", "/data", "/tmp"]);
  });

  test("a browser site with a relaxed mode needs the gate, which this edge has", () => {
    edge.addSite({
      hostnames: ["chat.example.internal"],
      paths: [],
      upstreams: ["chat:8443"],
      upstreamServerName: "chat.zta.internal",
      browser: true,
      clientCertMode: ClientCertMode.VERIFY_IF_GIVEN,
    });
    expect(edge.caddyfile).toContain("https://chat.example.internal:8443 {");
    expect(edge.hostnames).toContain("chat.example.internal");
  });

  test("without a gate, a browser site may not relax client certificates", () => {
    const s = stackWithProviders();
    const lone = new EdgeProxy(s, "edge", {
      ca: new InternalCa(s, "ca"),
      name: "lone",
      hostnames: ["ai.example.internal"],
      upstreams: ["x:8443"],
      upstreamServerName: "sidecar.zta.internal",
      routes: ["/v1/models"],
    });
    const site = {
      hostnames: ["chat.example.internal"],
      paths: [],
      upstreams: ["chat:8443"],
      upstreamServerName: "c",
      browser: true,
    };
    expect(() => lone.addSite({ ...site, clientCertMode: ClientCertMode.VERIFY_IF_GIVEN })).toThrow(
      /clientCertMode: received "verify_if_given"/,
    );
    expect(() => lone.addSite({ ...site, clientCertMode: ClientCertMode.REQUIRE_AND_VERIFY })).not.toThrow();
    expect(() => lone.addSite({ ...site, clientCertMode: ClientCertMode.REQUIRE_AND_VERIFY })).toThrow(
      /Each hostname belongs to one site/,
    );
  });

  test("snapshot", () => expect(c).toMatchSnapshot());
});
