/**
 * The chat UI's proxy against real binaries: nginx 1.22 runs the config ChatUi renders (client
 * mode toward the inference sidecar, the edge listener, the tunnel listener), in front of the real
 * sidecar nginx (test/support/chain.ts) and behind the real Caddy edge with the chat site
 * EdgeProxy renders. Open WebUI is a small recording HTTP server, vLLM the suite's mock.
 *
 *   Open WebUI (mock) --http, loopback--> chat proxy --mTLS (zta-chat)--> sidecar --> mock vLLM
 *   browser --TLS--> caddy (+ stub gate) --mTLS (zta-edge)--> chat proxy --> Open WebUI (mock)
 *   cloudflared (a test client) --TLS--> chat proxy tunnel listener --> Open WebUI (mock)
 *
 * Certificates come from openssl: the suite's PKI plus the chat UI's own two. Missing binaries
 * fail, never skip.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { CloudflareProvider } from "@cdktf/provider-cloudflare/lib/provider";
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
import {
  CERT_ORGANIZATION,
  CHAT_CLIENT_CN,
  CHAT_SERVER_NAME,
  CONFIG_DIR,
  SERVICE_OU,
  SIDECAR_SERVER_NAME,
} from "../../lib/identities";
import { RunningEdge, RunningSidecar, startEdge, startSidecar, tlsFiles, writeConfigVolume } from "../support/chain";
import { caseId, check, send, sendStreaming } from "../support/client";
import { MockVllm, RecordedRequest, RecordingServer, StubGate, receive } from "../support/mocks";
import { CertificateFiles, TestPki, createPki, issueWithOpenssl, serviceSubject } from "../support/pki";
import {
  ManagedProcess,
  eventually,
  freePorts,
  makeTempDir,
  nginxStarted,
  nginxTest,
  startNginx,
} from "../support/processes";
import {
  E2E_DOMAIN,
  RenderedChain,
  e2eInference,
  e2eStack,
  localize,
  renderChain,
  renderedChainOf,
  uploadedFileNames,
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
  /** The names of the files the chat proxy uploads to its config volume. */
  readonly chatFiles: readonly string[];
  readonly chatName: string;
}

function renderChatStack(tunnelSubnet?: string): RenderedChat {
  const stack = e2eStack("e2e-chat");
  new CloudflareProvider(stack, "cloudflare", {});
  const ai = e2eInference(stack);
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
  return {
    chain: renderedChainOf(ai),
    chatConfig: chat.nginxConfig,
    chatFiles: uploadedFileNames(chat.proxyService),
    chatName: chat.name,
  };
}

// ---------------------------------------------------------------------------------------------
// Open WebUI stand-in: records what reaches it
// ---------------------------------------------------------------------------------------------

class MockWebui extends RecordingServer<RecordedRequest> {
  start(): Promise<number> {
    return this.listenWith((listener) => http.createServer(listener), 0);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { record } = await receive(req);
    this.requests.push(record);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: true }));
  }
}

// ---------------------------------------------------------------------------------------------
// The chat proxy
// ---------------------------------------------------------------------------------------------

interface ChatProxyPorts {
  readonly client: number;
  readonly edge: number;
  readonly tunnel: number;
  readonly health: number;
}

interface RunningChatProxy {
  readonly process: ManagedProcess;
  readonly confPath: string;
  readonly runDir: string;
  readonly errorLog: string;
  readonly ports: ChatProxyPorts;
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
): Promise<RunningChatProxy> {
  const dir = path.join(base, name);
  const runDir = path.join(base, `${name}-run`);
  fs.mkdirSync(runDir, { mode: 0o755 });
  const [client, edge, tunnel, health] = await freePorts(4);
  const ports = { client, edge, tunnel, health };
  writeConfigVolume(dir, r.chatFiles, {
    "nginx.conf": localizeChatConfig(r, dir, runDir, sidecarPort, webuiPort, ports),
    ...tlsFiles(pki.ca, { server: serverCert, client: clientCert }),
  });
  const confPath = path.join(dir, "nginx.conf");
  const errorLog = path.join(runDir, "error.log");
  nginxTest(confPath, runDir, errorLog);
  const process = startNginx(confPath, runDir, errorLog, path.join(runDir, "access.log"));
  await process.waitForPort(ports.client, nginxStarted(process, runDir));
  await process.waitForPort(ports.tunnel, nginxStarted(process, runDir));
  return { process, confPath, runDir, errorLog, ports };
}

/** Open WebUI's side of client mode: plain HTTP to the proxy's loopback port; streams the answer. */
function postFromWebui(port: number, headers: Record<string, string>, body: string) {
  return sendStreaming({
    port,
    plaintext: true,
    servername: "127.0.0.1",
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
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
  let sidecar: RunningSidecar;
  let proxy: RunningChatProxy;
  let edge: RunningEdge;
  const extra: ManagedProcess[] = [];

  beforeAll(async () => {
    base = makeTempDir("zta-e2e-chat-");
    pki = createPki(path.join(base, "pki"), rendered.chain.pkiNames);
    chatClient = issueWithOpenssl(pki.dir, "chat-client", "client", serviceSubject(CHAT_CLIENT_CN), [], pki.ca);
    chatServer = issueWithOpenssl(
      pki.dir,
      "chat-server",
      "server",
      serviceSubject(rendered.chatName),
      [CHAT_SERVER_NAME, rendered.chatName],
      pki.ca,
    );
    mock = new MockVllm();
    await mock.start();
    webui = new MockWebui();
    webuiPort = await webui.start();
    gate = new StubGate(pki, rendered.chain.sessionCookieName!);
    await gate.start();
    sidecar = await startSidecar(base, "sidecar", {
      rendered: rendered.chain,
      pki,
      vllmPort: mock.port,
      apiKey: API_KEY,
    });
    proxy = await startChatProxy(base, "chat", rendered, pki, chatClient, chatServer, sidecar.port, webuiPort);

    // The edge with the chat site, as EdgeProxy renders it; its certificate names both sites.
    edge = await startEdge(base, "edge", {
      rendered: rendered.chain,
      pki,
      sidecarPort: sidecar.port,
      gatePort: gate.port,
      serverCert: issueWithOpenssl(
        pki.dir,
        "edge-both",
        "server",
        serviceSubject(E2E_DOMAIN),
        [E2E_DOMAIN, CHAT_HOST],
        pki.ca,
      ),
      sites: [{ hostname: CHAT_HOST, upstream: `${rendered.chatName}:${CHAT_EDGE_PORT}`, port: proxy.ports.edge }],
    });
  });

  afterAll(async () => {
    await Promise.all([
      edge?.process.stop(),
      proxy?.process.stop(),
      sidecar?.process.stop(),
      ...extra.map((p) => p.stop()),
    ]);
    await Promise.all([gate?.stop(), mock?.stop(), webui?.stop()]);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  const logs = (): string => [proxy, sidecar, edge].map((p) => p?.process.logs() ?? "").join("\n");
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
        "the whole stream",
        done,
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
      () => sidecar.auditLog().find((l) => l.route === "/v1/chat/completions" && l.identity === "alice@example.com"),
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
    check(res.status === 403, "403 from the sidecar", res, () => wrong.process.logs());
    expect(mock.requestsFor(id)).toEqual([]);
  });

  test("a sidecar rendered without ChatUi (no addCaller) refuses the chat identity: the registration is what admits it", async () => {
    const plain = await startSidecar(base, "sidecar-without-chat", {
      rendered: renderChain(),
      pki,
      vllmPort: mock.port,
      apiKey: API_KEY,
    });
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
      port: edge.port,
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
      port: edge.port,
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
