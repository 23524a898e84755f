/**
 * The chat UI's proxy against real binaries: nginx 1.22 runs the config ChatUi renders (client
 * mode toward the inference sidecar, the edge listener, the tunnel listener), in front of the real
 * sidecar nginx the harness runs (test/e2e/harness.ts) and behind the real Caddy edge with the
 * chat site EdgeProxy renders. Open WebUI is a small recording HTTP server, vLLM the harness mock.
 *
 *   Open WebUI (mock) --http, loopback--> chat proxy --mTLS (zta-chat)--> sidecar --> mock vLLM
 *   browser --TLS--> caddy (+ stub gate) --mTLS (zta-edge)--> chat proxy --> Open WebUI (mock)
 *   cloudflared (a test client) --TLS--> chat proxy tunnel listener --> Open WebUI (mock)
 *
 * Certificates come from openssl: the harness's PKI plus the chat UI's own two (made here with the
 * same recipe; the harness does not export its issuer). Missing binaries fail, never skip.
 */
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import {
  CHAT_CLIENT_PORT,
  CHAT_EDGE_PORT,
  CHAT_HEALTH_PORT,
  CHAT_TUNNEL_PORT,
  ChatUi,
  WEBUI_PORT,
} from "../../constructs/chat-ui";
import { CloudflareTunnel } from "../../constructs/cloudflare-tunnel";
import { EDGE_PORT } from "../../constructs/edge-proxy";
import { SecureInference } from "../../constructs/secure-inference";
import {
  CERT_ORGANIZATION,
  CHAT_CLIENT_CN,
  CHAT_SERVER_NAME,
  CONFIG_DIR,
  SERVICE_OU,
  SIDECAR_SERVER_NAME,
} from "../../lib/identities";
import { renderUpstreamAuthInclude } from "../../lib/nginx";
import { caseId, check, send } from "../support/client";
import { MockVllm, StubGate } from "../support/mocks";
import { CertificateFiles, TestPki, createPki } from "../support/pki";
import {
  ManagedProcess,
  caddyStarted,
  caddyValidate,
  eventually,
  freePorts,
  makeTempDir,
  nginxStarted,
  nginxTest,
  requireBinary,
  startCaddy,
  startNginx,
} from "../support/processes";
import {
  E2E_DOMAIN,
  E2E_OPERATOR,
  LocalPaths,
  LoopbackPorts,
  RenderedChain,
  localize,
  localizeCaddyfile,
  localizeNginxConfig,
  renderChain,
} from "../support/render";

const API_KEY = `e2e-vllm-key-${randomBytes(12).toString("hex")}`;
const CHAT_HOST = "chat.example.com";
const ACCOUNT = "0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// Rendering: the real construct tree, as examples/team.ts builds it
// ---------------------------------------------------------------------------------------------

interface RenderedChat {
  readonly chain: RenderedChain;
  readonly chatConfig: string;
  readonly chatName: string;
}

function renderChatStack(tunnelSubnet?: string): RenderedChat {
  const app = new App();
  const stack = new TerraformStack(app, "e2e-chat");
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  new CloudflareProvider(stack, "cloudflare", {});
  const secret = new TerraformVariable(stack, "oidc_client_secret", { type: "string", sensitive: true });
  const ai = new SecureInference(stack, "inference", {
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
    domain: E2E_DOMAIN,
    operators: [E2E_OPERATOR],
    oidc: { issuerUrl: "https://idp.example.com/realms/prod", clientId: "local-ai", clientSecret: secret.value },
  });
  const chat = new ChatUi(stack, "chat", { inference: ai, hostname: CHAT_HOST });
  new CloudflareTunnel(stack, "tunnel", {
    accountId: ACCOUNT,
    zoneId: ACCOUNT,
    hostname: CHAT_HOST,
    target: chat,
    access: { emailDomains: ["example.com"] },
    teamName: "acme",
    tunnelSubnet,
  });
  const sidecar = ai.sidecars[0];
  return {
    chain: {
      caddyfile: ai.edge.caddyfile,
      nginxConfig: sidecar.nginxConfig,
      sidecarAddress: sidecar.address,
      vllmAddress: ai.replicas[0].loopbackAddress,
      gateAddress: ai.gate?.address,
      sessionCookieName: ai.gate?.args.find((a) => a.startsWith("--cookie-name="))?.slice("--cookie-name=".length),
      pkiNames: {
        domain: E2E_DOMAIN,
        sidecarHostname: sidecar.address.split(":")[0],
        gateHostname: ai.gate!.address.split(":")[0],
        operatorName: E2E_OPERATOR.name,
        operatorEmail: E2E_OPERATOR.email,
      },
    },
    chatConfig: chat.nginxConfig,
    chatName: chat.name,
  };
}

// ---------------------------------------------------------------------------------------------
// The chat UI's certificates (same recipe as the harness: ECDSA P-256, tls provider's key usages)
// ---------------------------------------------------------------------------------------------

function openssl(args: string[]): void {
  const r = spawnSync(requireBinary("openssl"), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${r.stderr}`);
}

function issue(
  dir: string,
  name: string,
  use: "serverAuth" | "clientAuth",
  cn: string,
  dnsNames: string[],
  ca: CertificateFiles,
): CertificateFiles {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
  openssl(["req", "-new", "-key", keyPath, "-subj", `/O=${CERT_ORGANIZATION}/OU=${SERVICE_OU}/CN=${cn}`, "-out", csr]);
  const san = dnsNames.length > 0 ? `\nsubjectAltName = ${dnsNames.map((n) => `DNS:${n}`).join(", ")}` : "";
  fs.writeFileSync(
    ext,
    `[ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = ${use}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid${san}\n`,
  );
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.certPath,
    "-CAkey",
    ca.keyPath,
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    ext,
    "-extensions",
    "ext",
    "-out",
    certPath,
  ]);
  return { certPath, keyPath, certPem: fs.readFileSync(certPath, "utf8"), keyPem: fs.readFileSync(keyPath, "utf8") };
}

// ---------------------------------------------------------------------------------------------
// Open WebUI stand-in: records what reaches it
// ---------------------------------------------------------------------------------------------

class MockWebui {
  public readonly requests: { path: string; headers: http.IncomingHttpHeaders }[] = [];
  private server?: http.Server;

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      this.requests.push({ path: req.url ?? "/", headers: req.headers });
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve()));
    return (this.server!.address() as net.AddressInfo).port;
  }

  requestsFor(id: string) {
    return this.requests.filter((r) => r.headers["x-e2e-case"] === id);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

interface ChatProxyPorts {
  readonly client: number;
  readonly edge: number;
  readonly tunnel: number;
  readonly health: number;
}

interface RunningNginx {
  readonly process: ManagedProcess;
  readonly confPath: string;
  readonly runDir: string;
  readonly errorLog: string;
  readonly accessLog: string;
}

/** The chat proxy's config, localized for loopback (each replacement must match: renderer drift fails). */
function localizeChatConfig(
  r: RenderedChat,
  dir: string,
  runDir: string,
  sidecarPort: number,
  webuiPort: number,
  ports: ChatProxyPorts,
): string {
  return localize(
    r.chatConfig,
    [
      { from: `${CONFIG_DIR}/`, to: `${dir}/`, why: "config volume mount point" },
      {
        from: `server ${r.chain.sidecarAddress};`,
        to: `server 127.0.0.1:${sidecarPort};`,
        why: "sidecar's Docker DNS name",
      },
      {
        from: `server 127.0.0.1:${WEBUI_PORT};`,
        to: `server 127.0.0.1:${webuiPort};`,
        why: "Open WebUI's loopback port",
      },
      {
        from: `listen 127.0.0.1:${CHAT_CLIENT_PORT};`,
        to: `listen 127.0.0.1:${ports.client};`,
        why: "client-mode port",
      },
      {
        from: `listen ${CHAT_EDGE_PORT} ssl;`,
        to: `listen 127.0.0.1:${ports.edge} ssl;`,
        why: "edge listener (all interfaces of the shared namespace)",
      },
      { from: `listen ${CHAT_TUNNEL_PORT} ssl;`, to: `listen 127.0.0.1:${ports.tunnel} ssl;`, why: "tunnel listener" },
      { from: `listen 127.0.0.1:${CHAT_HEALTH_PORT};`, to: `listen 127.0.0.1:${ports.health};`, why: "health port" },
      { from: "access_log /dev/stdout ", to: `access_log ${runDir}/access.log `, why: "container stdout" },
      { from: "error_log /dev/stderr ", to: `error_log ${runDir}/error.log `, why: "container stderr" },
      { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${runDir}/`, why: "run dir (tmpfs /tmp)" },
    ],
    "chat nginx.conf",
  );
}

async function startChatProxy(
  base: string,
  name: string,
  r: RenderedChat,
  pki: TestPki,
  clientCert: CertificateFiles,
  serverCert: CertificateFiles,
  sidecarPort: number,
  webuiPort: number,
): Promise<RunningNginx & { ports: ChatProxyPorts }> {
  const dir = path.join(base, name);
  const runDir = path.join(base, `${name}-run`);
  for (const d of [dir, runDir]) fs.mkdirSync(d, { mode: 0o755 });
  const [client, edge, tunnel, health] = await freePorts(4);
  const ports = { client, edge, tunnel, health };
  fs.writeFileSync(path.join(dir, "ca.crt"), pki.ca.certPem);
  fs.writeFileSync(path.join(dir, "client.crt"), clientCert.certPem);
  fs.writeFileSync(path.join(dir, "client.key"), clientCert.keyPem);
  fs.writeFileSync(path.join(dir, "server.crt"), serverCert.certPem);
  fs.writeFileSync(path.join(dir, "server.key"), serverCert.keyPem);
  const confPath = path.join(dir, "nginx.conf");
  fs.writeFileSync(confPath, localizeChatConfig(r, dir, runDir, sidecarPort, webuiPort, ports));
  const errorLog = path.join(runDir, "error.log");
  const accessLog = path.join(runDir, "access.log");
  nginxTest(confPath, runDir, errorLog);
  const process = startNginx(confPath, runDir, errorLog, accessLog);
  await process.waitForPort(ports.client, nginxStarted(process, runDir));
  await process.waitForPort(ports.tunnel, nginxStarted(process, runDir));
  return { process, confPath, runDir, errorLog, accessLog, ports };
}

/** A sidecar nginx running the given rendering's config in front of the mock vLLM. */
async function startSidecar(base: string, name: string, r: RenderedChain, pki: TestPki, vllmPort: number) {
  const dir = path.join(base, name);
  const runDir = path.join(base, `${name}-run`);
  for (const d of [dir, runDir]) fs.mkdirSync(d, { mode: 0o755 });
  const [sidecar, sidecarHealth] = await freePorts(2);
  const ports: LoopbackPorts = { edge: 0, edgeHealth: 0, sidecar, sidecarHealth, vllm: vllmPort };
  const paths: LocalPaths = {
    edgeDir: "",
    sidecarDir: dir,
    sidecarRunDir: runDir,
    sidecarAccessLog: path.join(runDir, "access.log"),
    sidecarErrorLog: path.join(runDir, "error.log"),
  };
  fs.writeFileSync(path.join(dir, "ca.crt"), pki.ca.certPem);
  fs.writeFileSync(path.join(dir, "server.crt"), pki.sidecarServer.certPem);
  fs.writeFileSync(path.join(dir, "server.key"), pki.sidecarServer.keyPem);
  fs.writeFileSync(path.join(dir, "upstream-auth.conf"), renderUpstreamAuthInclude(API_KEY));
  const confPath = path.join(dir, "nginx.conf");
  fs.writeFileSync(confPath, localizeNginxConfig(r, ports, paths));
  nginxTest(confPath, runDir, paths.sidecarErrorLog);
  const process = startNginx(confPath, runDir, paths.sidecarErrorLog, paths.sidecarAccessLog);
  await process.waitForPort(sidecar, nginxStarted(process, runDir));
  return { process, port: sidecar, accessLog: paths.sidecarAccessLog };
}

function jsonLines(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}

/** Open WebUI's side of client mode: plain HTTP to the proxy's loopback port; streams the answer. */
function postFromWebui(port: number, headers: Record<string, string>, body: string) {
  let resolveFirst!: (e: string) => void;
  const firstEvent = new Promise<string>((resolve) => (resolveFirst = resolve));
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/chat/completions",
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
          const event = /(?:^|\n\n)(data:[^\n]*)\n\n/.exec(text);
          if (event) resolveFirst(event[1]);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  return { firstEvent, done };
}

// ---------------------------------------------------------------------------------------------

describe("ChatUi: Open WebUI -> chat proxy (zta-chat) -> sidecar -> vLLM, and edge/tunnel -> chat proxy -> Open WebUI", () => {
  const rendered = renderChatStack();
  let base: string;
  let pki: TestPki;
  let chatClient: CertificateFiles;
  let chatServer: CertificateFiles;
  let mock: MockVllm;
  let webui: MockWebui;
  let webuiPort: number;
  let gate: StubGate;
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  let proxy: Awaited<ReturnType<typeof startChatProxy>>;
  let caddy: ManagedProcess;
  let edgePort: number;
  const extra: ManagedProcess[] = [];

  beforeAll(async () => {
    base = makeTempDir("zta-e2e-chat-");
    pki = createPki(path.join(base, "pki"), rendered.chain.pkiNames);
    chatClient = issue(pki.dir, "chat-client", "clientAuth", CHAT_CLIENT_CN, [], pki.ca);
    chatServer = issue(
      pki.dir,
      "chat-server",
      "serverAuth",
      rendered.chatName,
      [CHAT_SERVER_NAME, rendered.chatName],
      pki.ca,
    );
    mock = new MockVllm();
    await mock.start();
    webui = new MockWebui();
    webuiPort = await webui.start();
    gate = new StubGate(pki, rendered.chain.sessionCookieName!);
    await gate.start();
    sidecar = await startSidecar(base, "sidecar", rendered.chain, pki, mock.port);
    proxy = await startChatProxy(base, "chat", rendered, pki, chatClient, chatServer, sidecar.port, webuiPort);

    // The edge with the chat site, as EdgeProxy renders it; its certificate names both sites.
    const edgeDir = path.join(base, "edge");
    fs.mkdirSync(edgeDir, { mode: 0o755 });
    const edgeServer = issue(pki.dir, "edge-both", "serverAuth", E2E_DOMAIN, [E2E_DOMAIN, CHAT_HOST], pki.ca);
    for (const [f, pem] of [
      ["ca.crt", pki.ca.certPem],
      ["server.crt", edgeServer.certPem],
      ["server.key", edgeServer.keyPem],
      ["client.crt", pki.edgeClient.certPem],
      ["client.key", pki.edgeClient.keyPem],
    ])
      fs.writeFileSync(path.join(edgeDir, f), pem);
    const [edge, edgeHealth] = await freePorts(2);
    edgePort = edge;
    const ports: LoopbackPorts = {
      edge,
      edgeHealth,
      sidecar: sidecar.port,
      sidecarHealth: 0,
      vllm: mock.port,
      gate: gate.port,
    };
    const paths: LocalPaths = { edgeDir, sidecarDir: "", sidecarRunDir: "", sidecarAccessLog: "", sidecarErrorLog: "" };
    const caddyfile = localize(
      localizeCaddyfile(rendered.chain, ports, paths),
      [
        {
          from: `https://${CHAT_HOST}:${EDGE_PORT} {`,
          to: `https://${CHAT_HOST}:${edge} {\n\tbind 127.0.0.1`,
          why: "chat site port",
        },
        {
          from: `${rendered.chatName}:${CHAT_EDGE_PORT}`,
          to: `127.0.0.1:${proxy.ports.edge}`,
          why: "chat proxy's Docker DNS name",
        },
      ],
      "Caddyfile",
    );
    const caddyfilePath = path.join(edgeDir, "Caddyfile");
    fs.writeFileSync(caddyfilePath, caddyfile);
    caddyValidate(caddyfilePath, path.join(base, "caddy-state"));
    caddy = startCaddy(caddyfilePath, path.join(base, "caddy-state"));
    await caddy.waitForPort(edge, caddyStarted(caddy));
  });

  afterAll(async () => {
    await Promise.all([caddy?.stop(), proxy?.process.stop(), sidecar?.process.stop(), ...extra.map((p) => p.stop())]);
    await Promise.all([gate?.stop(), mock?.stop(), webui?.stop()]);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  const logs = (): string => [proxy, sidecar].map((p) => p.process.logs()).join("\n") + (caddy ? caddy.logs() : "");
  const chatBody = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] });

  test("nginx -t passes on the rendered chat proxy config (and fails on a broken copy); caddy validate passes with the chat site", () => {
    expect(nginxTest(proxy.confPath, proxy.runDir, proxy.errorLog)).toMatch(/test is successful/);
    const broken = path.join(base, "broken.conf");
    fs.writeFileSync(
      broken,
      fs.readFileSync(proxy.confPath, "utf8").replace("proxy_ssl_verify on;", "proxy_ssl_verify maybe;"),
    );
    expect(() => nginxTest(broken, proxy.runDir, proxy.errorLog)).toThrow(/proxy_ssl_verify/);
    expect(rendered.chain.caddyfile).toContain(`https://${CHAT_HOST}:${EDGE_PORT} {`);
  });

  test("with the ChatUi identity: a streamed answer, unbuffered; the sidecar logs caller chat and the user's email; vLLM gets the sidecar's key", async () => {
    const id = caseId("chat-stream");
    const hold = mock.holdStreams();
    try {
      const stream = postFromWebui(
        proxy.ports.client,
        {
          "X-E2E-Case": id,
          "X-OpenWebUI-User-Email": "alice@example.com",
          "X-OpenWebUI-User-Name": "Alice",
          Authorization: "Bearer webui-placeholder",
        },
        chatBody,
      );
      const first = await stream.firstEvent;
      // Deterministic: the mock has written token 0 only and waits for release().
      expect(hold.isReleased()).toBe(false);
      expect(first).toContain('"content":"tok0 "');
      hold.release();
      const done = await stream.done;
      check(
        done.status === 200 && done.body.includes("tok4 ") && done.body.trimEnd().endsWith("data: [DONE]"),
        `the whole stream, got ${JSON.stringify(done)}`,
        undefined,
        logs,
      );
    } finally {
      hold.release();
    }
    const seen = mock.requestsFor(id);
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(seen[0].headers["x-openwebui-user-name"]).toBeUndefined();
    const line = await eventually(
      () =>
        jsonLines(sidecar.accessLog).find(
          (l) => l.route === "/v1/chat/completions" && l.identity === "alice@example.com",
        ),
      "the sidecar's audit line",
    );
    expect(line.caller).toBe("chat");
    expect(line.client_cert).toBe(`CN=${CHAT_CLIENT_CN},OU=${SERVICE_OU},O=${CERT_ORGANIZATION}`);
  });

  test("without the ChatUi identity the sidecar refuses: no certificate or another CA's 400, an operator's certificate 403", async () => {
    const toSidecar = (clientCert?: CertificateFiles) =>
      send({ port: sidecar.port, ca: pki.ca.certPem, servername: SIDECAR_SERVER_NAME, path: "/v1/models", clientCert });
    const none = await send({
      port: sidecar.port,
      ca: pki.ca.certPem,
      servername: SIDECAR_SERVER_NAME,
      path: "/v1/models",
    });
    check(none.status === 400, "400 without a client certificate", none, logs);
    const operator = await toSidecar(pki.operator);
    check(operator.status === 403, "403 for a CA-valid certificate that is not a configured service", operator, logs);
    const foreign = await toSidecar(pki.foreignClient);
    check(
      foreign.status === 400 && foreign.body.includes("SSL certificate error"),
      "400 for a certificate from another CA",
      foreign,
      logs,
    );
    const chat = await toSidecar(chatClient);
    check(chat.status === 200, "200 for the chat identity itself (the control)", chat, logs);
  });

  test("a chat proxy holding another certificate gets 403 through the same config", async () => {
    const wrong = await startChatProxy(
      base,
      "chat-wrong-cert",
      rendered,
      pki,
      pki.operator,
      chatServer,
      sidecar.port,
      webuiPort,
    );
    extra.push(wrong.process);
    const id = caseId("wrong-cert");
    const res = await postFromWebui(
      wrong.ports.client,
      { "X-E2E-Case": id, "X-OpenWebUI-User-Email": "eve@example.com" },
      chatBody,
    ).done;
    check(res.status === 403, `403 from the sidecar, got ${JSON.stringify(res)}`, undefined, () =>
      wrong.process.logs(),
    );
    expect(mock.requestsFor(id)).toEqual([]);
  });

  test("a sidecar rendered without ChatUi (no addCaller) refuses the chat identity: the registration is what admits it", async () => {
    const plain = await startSidecar(base, "sidecar-without-chat", renderChain(), pki, mock.port);
    extra.push(plain.process);
    expect(renderChain().nginxConfig).not.toContain(CHAT_CLIENT_CN);
    const res = await send({
      port: plain.port,
      ca: pki.ca.certPem,
      servername: SIDECAR_SERVER_NAME,
      path: "/v1/models",
      clientCert: chatClient,
    });
    check(res.status === 403, "403 for zta-chat on a sidecar that does not list it", res, () => plain.process.logs());
  });

  test("through the edge: the gate's email becomes the trusted header; a client copy never reaches Open WebUI", async () => {
    const id = caseId("edge-chat");
    const res = await send({
      port: edgePort,
      ca: pki.ca.certPem,
      servername: CHAT_HOST,
      path: "/api/v1/auths/",
      clientCert: pki.operator,
      headers: {
        "X-E2E-Case": id,
        Cookie: `${rendered.chain.sessionCookieName}=valid-alice`,
        "X-ZTA-Webui-User": "mallory@evil.example",
        "X-ZTA-Identity": "mallory@evil.example",
      },
    });
    check(res.status === 200, "200 from Open WebUI through the edge", res, logs);
    const seen = webui.requestsFor(id);
    expect(seen).toHaveLength(1);
    expect(seen[0].headers["x-zta-webui-user"]).toBe("alice@example.com");
    expect(seen[0].headers["x-zta-identity"]).toBeUndefined();
    expect(seen[0].headers["x-forwarded-proto"]).toBe("https");
  });

  test("through the edge without a session: a browser redirect to sign-in, nothing reaches Open WebUI", async () => {
    const id = caseId("edge-nosession");
    const res = await send({
      port: edgePort,
      ca: pki.ca.certPem,
      servername: CHAT_HOST,
      path: "/",
      headers: { "X-E2E-Case": id },
    });
    check(
      res.status === 302 && String(res.headers.location).startsWith("/oauth2/start?rd="),
      "302 to /oauth2/start",
      res,
      logs,
    );
    expect(webui.requestsFor(id)).toEqual([]);
  });

  test("the edge listener admits only the edge's certificate, and signs in only email-shaped identities", async () => {
    const direct = (clientCert: CertificateFiles | undefined, identity: string, id: string) =>
      send({
        port: proxy.ports.edge,
        ca: pki.ca.certPem,
        servername: CHAT_SERVER_NAME,
        path: "/",
        clientCert,
        headers: { "X-E2E-Case": id, "X-ZTA-Identity": identity },
      });
    const asOperator = await direct(pki.operator, "bob@example.com", caseId("op"));
    check(asOperator.status === 403, "403 for an operator certificate on the edge listener", asOperator, logs);
    const noCert = await direct(undefined, "bob@example.com", caseId("nocert"));
    check(noCert.status === 400, "400 without a certificate", noCert, logs);
    const emailId = caseId("edge-email");
    await direct(pki.edgeClient, "bob@example.com", emailId);
    expect(webui.requestsFor(emailId)[0].headers["x-zta-webui-user"]).toBe("bob@example.com");
    const dnId = caseId("edge-dn");
    await direct(pki.edgeClient, "CN=devops-laptop,OU=zta-operators,O=cdktf-zero-trust-ai", dnId);
    expect(webui.requestsFor(dnId)[0].headers["x-zta-webui-user"]).toBeUndefined();
  });

  test("the tunnel listener refuses addresses outside the tunnel network (loopback is outside 172.31.253.0/28)", async () => {
    const id = caseId("tunnel-denied");
    const res = await send({
      port: proxy.ports.tunnel,
      ca: pki.ca.certPem,
      servername: CHAT_SERVER_NAME,
      path: "/",
      headers: { "X-E2E-Case": id, "Cf-Access-Authenticated-User-Email": "carol@example.com" },
    });
    check(res.status === 403, "403 from deny all", res, logs);
    expect(webui.requestsFor(id)).toEqual([]);
  });

  test("from the tunnel network, Access's email is the trusted header and a client copy is overwritten", async () => {
    // Rendered by the construct with the tunnel network set to loopback, so this test client is on it.
    const onLoopback = renderChatStack("127.0.0.1/32");
    const tunnelProxy = await startChatProxy(
      base,
      "chat-tunnel",
      onLoopback,
      pki,
      chatClient,
      chatServer,
      sidecar.port,
      webuiPort,
    );
    extra.push(tunnelProxy.process);
    const id = caseId("tunnel-ok");
    const res = await send({
      port: tunnelProxy.ports.tunnel,
      ca: pki.ca.certPem,
      servername: CHAT_SERVER_NAME,
      path: "/",
      headers: {
        "X-E2E-Case": id,
        "Cf-Access-Authenticated-User-Email": "carol@example.com",
        "X-ZTA-Webui-User": "mallory@evil.example",
      },
    });
    check(res.status === 200, "200 from the tunnel network", res, () => tunnelProxy.process.logs());
    const seen = webui.requestsFor(id);
    expect(seen[0].headers["x-zta-webui-user"]).toBe("carol@example.com");
    expect(seen[0].headers["cf-access-authenticated-user-email"]).toBeUndefined();
  });
});
