/**
 * ApiGateway end to end on real binaries: the real Caddy runs the edge's Caddyfile with the gateway
 * site, nginx runs the gateway proxy's and the sidecar's configs, PostgreSQL 15 (Debian's, as nobody)
 * holds the keys, and LiteLLM is the contract mock (test/engine/standins/litellm.py) reading the
 * config.yaml the construct renders. Every config is taken from the synthesized stack (the config
 * volumes' uploads), with the generated secrets substituted and Docker names mapped to loopback.
 *
 *   app --TLS + app cert + Bearer key--> caddy --mTLS (zta-edge)--> gateway nginx --> LiteLLM mock
 *   LiteLLM mock --> gateway nginx --mTLS (zta-gateway, X-ZTA-Identity gateway:<app>)--> sidecar nginx --> mock vLLM
 *   LiteLLM mock --psql, scram-sha-256--> PostgreSQL 15
 *   reconcile.py (the job's script) --master key--> LiteLLM mock
 *
 * Missing binaries fail, never skip. Network traffic: loopback only.
 */
import { execFile, spawnSync } from "child_process";
import { promisify } from "util";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Testing } from "cdktf";
import { ApiGateway, GatewayAppProps } from "../../index";
import { EDGE_HEALTH_PORT, EDGE_PORT } from "../../constructs/edge-proxy";
import { GATEWAY_CLIENT_PORT, GATEWAY_EDGE_PORT, GATEWAY_HEALTH_PORT, GATEWAY_SERVER_NAME } from "../../constructs/api-gateway";
import { CERT_ORGANIZATION, CONFIG_DIR, OPERATOR_OU, SERVICE_OU } from "../../lib/identities";
import { LITELLM_PORT } from "../../lib/litellm";
import { renderUpstreamAuthInclude } from "../../lib/nginx";
import { StackJson, containerNamed, resources, synth, uploaded, REVISION } from "../helpers";
import { inferenceStack } from "../exposure-helpers";
import { LITELLM_SPEND_LOGS_DDL } from "../support/litellm-spend-logs";
import {
  CertificateFiles,
  ClientRequest,
  ManagedProcess,
  MockVllm,
  RenderedChain,
  StubGate,
  TestPki,
  caddyStarted,
  caddyValidate,
  caseId,
  check,
  createPki,
  eventually,
  freePorts,
  issueWithOpenssl,
  localize,
  localizeNginxConfig,
  makeTempDir,
  nginxStarted,
  nginxTest,
  requireBinary,
  send,
  sendStreaming,
  startCaddy,
  startNginx,
  within,
} from "./harness";
import { PG_BIN, requirePostgres, RUN_AS } from "../support/postgres";

const execFileAsync = promisify(execFile);
const MOCK = path.join(__dirname, "..", "engine", "standins", "litellm.py");
for (const b of ["caddy", "nginx", "openssl", "runuser", "python3", "curl"]) requireBinary(b);
requirePostgres(["initdb", "pg_ctl", "psql"]);

const API_HOST = "api.example.internal";
const DOMAIN = "ai.example.internal";
const VLLM_KEY = `e2e-vllm-${randomBytes(12).toString("hex")}`;
const MODELS = [
  { name: "qwen-0.5b", inputCostPerMillionTokensUsd: 2000, outputCostPerMillionTokensUsd: 2000 },
  { name: "qwen-b-only" },
];
const APPS: GatewayAppProps[] = [
  { name: "nightly-summaries", models: ["qwen-0.5b"], requestsPerMinute: 100 },
  { name: "ide-assistant", models: ["qwen-b-only"], requestsPerMinute: 2, rotateAfterDays: 90 },
  // 2000 USD per million tokens: the mock call's 7 tokens cost 0.014 USD, so one call spends this budget.
  { name: "frugal", models: ["qwen-0.5b"], monthlyBudgetUsd: 0.01 },
];

// ---------------------------------------------------------------------------------------------
// The synthesized stack, its secrets substituted
// ---------------------------------------------------------------------------------------------

interface Rendered {
  readonly json: StackJson;
  readonly caddyfile: string;
  readonly sidecarConf: string;
  readonly gatewayConf: string;
  readonly litellmConfig: string;
  readonly saltKey: string;
  readonly keysJson: string;
  readonly masterKeyFile: string;
  readonly reconcileScript: string;
  readonly dbPassword: string;
}

/** One value per random_password logical id, stable across renders of the same construct tree. */
const secrets = new Map<string, string>();
function secretFor(id: string): string {
  if (!secrets.has(id)) secrets.set(id, randomBytes(24).toString("hex"));
  return secrets.get(id)!;
}
function resolveSecrets(text: string): string {
  return text.replace(/\$\{random_password\.([^.}]+)\.result\}/g, (_, id: string) => secretFor(id));
}

function render(apps: GatewayAppProps[]): Rendered {
  const { stack, ai } = inferenceStack({ model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, servedModelName: "qwen-0.5b" } });
  new ApiGateway(stack, "gateway", { inference: ai, hostname: API_HOST, apps, models: MODELS });
  const json = synth(stack);
  const file = (loader: string, name: string) => resolveSecrets(uploaded(json, loader, name));
  const dbId = Object.keys(resources(json, "random_password")).find((id) => id.includes("db-password"))!;
  expect(Testing.synth(stack)).toBeTruthy();
  return {
    json,
    caddyfile: file("inference-edge-config-loader", "Caddyfile"),
    sidecarConf: file("inference-vllm-0-mtls-config-loader", "nginx.conf"),
    gatewayConf: file("inference-gateway-proxy-config-loader", "nginx.conf"),
    litellmConfig: file("inference-gateway-config-loader", "config.yaml"),
    saltKey: file("inference-gateway-config-loader", "salt-key"),
    keysJson: file("inference-gateway-keys-config-loader", "keys.json"),
    masterKeyFile: file("inference-gateway-keys-config-loader", "master-key"),
    reconcileScript: file("inference-gateway-keys-config-loader", "reconcile.py"),
    dbPassword: secretFor(dbId),
  };
}

/** The key value of an app, as `terraform output -raw gateway_key_<app>` would print it. */
function keyOf(r: Rendered, app: string): string {
  const k = JSON.parse(r.keysJson).keys.find((d: { alias: string }) => d.alias === app);
  if (!k) throw new Error(`no key for ${app}`);
  return k.key;
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

function asNobody(args: string[]): void {
  const r = spawnSync("runuser", ["-u", RUN_AS, "--", "env", `PATH=${PG_BIN}:/usr/bin:/bin`, "HOME=/nonexistent", ...args], { encoding: "utf8", timeout: 120000 });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
}

interface Ports {
  edge: number;
  edgeHealth: number;
  sidecar: number;
  sidecarHealth: number;
  gwEdge: number;
  gwClient: number;
  gwHealth: number;
  litellm: number;
  pg: number;
}

interface Pki extends TestPki {
  readonly edgeBoth: CertificateFiles;
  readonly gatewayServer: CertificateFiles;
  readonly gatewayClient: CertificateFiles;
  readonly apps: Record<string, CertificateFiles>;
}

let dir: string;
let pki: Pki;
let ports: Ports;
let rendered: Rendered;
let vllm: MockVllm;
let gate: StubGate;
let caddy: ManagedProcess;
let sidecar: ManagedProcess;
let gateway: ManagedProcess;
let litellm: ManagedProcess;
let pgdata: string;
const gwDir = () => path.join(dir, "gateway");

function write(d: string, name: string, content: string): string {
  fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(d, name), content);
  return path.join(d, name);
}

function localCaddyfile(r: Rendered): string {
  return localize(
    r.caddyfile,
    [
      { from: `${CONFIG_DIR}/`, to: `${path.join(dir, "edge")}/`, why: "config volume mount point" },
      { from: "inference-vllm-0:8443", to: `127.0.0.1:${ports.sidecar}`, why: "sidecar's Docker DNS name" },
      { from: `inference-gateway:${GATEWAY_EDGE_PORT}`, to: `127.0.0.1:${ports.gwEdge}`, why: "gateway proxy's Docker DNS name" },
      { from: "inference-gate:4443", to: `127.0.0.1:${gate.port}`, why: "gate's Docker DNS name" },
      { from: `https://${DOMAIN}:${EDGE_PORT} {`, to: `https://${DOMAIN}:${ports.edge} {\n\tbind 127.0.0.1`, why: "API site" },
      { from: `https://${API_HOST}:${EDGE_PORT} {`, to: `https://${API_HOST}:${ports.edge} {\n\tbind 127.0.0.1`, why: "gateway site" },
      { from: `http://127.0.0.1:${EDGE_HEALTH_PORT} {`, to: `http://127.0.0.1:${ports.edgeHealth} {`, why: "edge health port" },
    ],
    "Caddyfile",
  );
}

function localGatewayConf(r: Rendered): string {
  const run = path.join(dir, "gateway-run");
  fs.mkdirSync(run, { recursive: true });
  return localize(
    r.gatewayConf,
    [
      { from: `${CONFIG_DIR}/`, to: `${gwDir()}/`, why: "config volume mount point" },
      { from: `listen ${GATEWAY_EDGE_PORT} ssl;`, to: `listen 127.0.0.1:${ports.gwEdge} ssl;`, why: "edge listener" },
      { from: `listen 127.0.0.1:${GATEWAY_CLIENT_PORT};`, to: `listen 127.0.0.1:${ports.gwClient};`, why: "client listener" },
      { from: `listen 127.0.0.1:${GATEWAY_HEALTH_PORT};`, to: `listen 127.0.0.1:${ports.gwHealth};`, why: "health port" },
      { from: `server 127.0.0.1:${LITELLM_PORT};`, to: `server 127.0.0.1:${ports.litellm};`, why: "LiteLLM's loopback port" },
      { from: "server inference-vllm-0:8443;", to: `server 127.0.0.1:${ports.sidecar};`, why: "sidecar's Docker DNS name" },
      { from: "access_log /dev/stdout ", to: `access_log ${path.join(dir, "gateway-access.log")} `, why: "container stdout" },
      { from: "error_log /dev/stderr ", to: `error_log ${path.join(dir, "gateway-error.log")} `, why: "container stderr" },
      { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${run}/`, why: "run dir" },
    ],
    "gateway nginx.conf",
  );
}

function localLitellmConfig(r: Rendered): string {
  return localize(
    r.litellmConfig,
    [
      { from: `http://127.0.0.1:${GATEWAY_CLIENT_PORT}/v1`, to: `http://127.0.0.1:${ports.gwClient}/v1`, why: "the proxy's client listener" },
      { from: "@inference-gateway-db:5432/", to: `@127.0.0.1:${ports.pg}/`, why: "Postgres' Docker DNS name" },
    ],
    "config.yaml",
  );
}

async function startLitellm(r: Rendered): Promise<ManagedProcess> {
  const config = write(gwDir(), "config.yaml", localLitellmConfig(r));
  const p = new ManagedProcess("litellm-mock", "python3", [MOCK, "--config", config, "--host", "127.0.0.1", "--port", String(ports.litellm), "--num_workers", "1"], {
    ...process.env,
    // What the container's entrypoint exports from the salt-key file.
    LITELLM_SALT_KEY: r.saltKey,
    ZTA_PSQL: path.join(PG_BIN, "psql"),
  });
  await p.waitForPort(ports.litellm, () => p.output.includes("listening on"), 200);
  return p;
}

/** Runs the reconcile job's script as nobody (the job's uid), with its three files, against the mock. */
function reconcile(r: Rendered): string {
  const jobDir = path.join(dir, `job-${randomBytes(3).toString("hex")}`);
  write(jobDir, "keys.json", r.keysJson);
  write(jobDir, "master-key", r.masterKeyFile);
  const script = write(jobDir, "reconcile.py", r.reconcileScript);
  const res = spawnSync("runuser", ["-u", RUN_AS, "--", "env", `ZTA_CONFIG_DIR=${jobDir}`, `ZTA_LITELLM_URL=http://127.0.0.1:${ports.litellm}`, "ZTA_WAIT_SECONDS=30", "python3", script], {
    encoding: "utf8",
    timeout: 120000,
  });
  if (res.status !== 0) throw new Error(`reconcile failed (${res.status}):\n${res.stdout}${res.stderr}\n${litellm.logs()}`);
  return res.stdout;
}

function psql(sql: string): string {
  const url = `postgresql://litellm:${rendered.dbPassword}@127.0.0.1:${ports.pg}/litellm`;
  const r = spawnSync(path.join(PG_BIN, "psql"), [url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

function logs(): string {
  return [caddy, sidecar, gateway, litellm].map((p) => p?.logs() ?? "").join("\n");
}

function readJsonLines(file: string): Record<string, any>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** A request through the edge to the gateway site as an app: its bundle and its key. */
function appRequest(app: string | undefined, key: string | undefined, id: string, r: Partial<ClientRequest> = {}): ClientRequest {
  return {
    port: ports.edge,
    ca: pki.ca.certPem,
    servername: API_HOST,
    path: "/v1/chat/completions",
    method: "POST",
    clientCert: app ? pki.apps[app] : undefined,
    body: JSON.stringify({ model: "qwen-0.5b", messages: [{ role: "user", content: "hello there" }] }),
    ...r,
    headers: { "Content-Type": "application/json", "X-E2E-Case": id, ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(r.headers ?? {}) },
  };
}

beforeAll(async () => {
  dir = makeTempDir("zta-e2e-gateway-");
  rendered = render(APPS);
  const [edge, edgeHealth, side, sideHealth, gwEdge, gwClient, gwHealth, lite, pg] = await freePorts(9);
  ports = { edge, edgeHealth, sidecar: side, sidecarHealth: sideHealth, gwEdge, gwClient, gwHealth, litellm: lite, pg };

  // Certificates to the construct's spec (openssl, the harness's recipe).
  const base = createPki(path.join(dir, "pki"), {
    domain: DOMAIN,
    sidecarHostname: "inference-vllm-0",
    gateHostname: "inference-gate",
    operatorName: "devops-laptop",
    operatorEmail: "devops@example.com",
  });
  const service = (cn: string): [string, string][] => [["O", CERT_ORGANIZATION], ["OU", SERVICE_OU], ["CN", cn]];
  const apps: Record<string, CertificateFiles> = {};
  for (const a of APPS) {
    apps[a.name] = issueWithOpenssl(base.dir, `app-${a.name}`, "client", [["O", CERT_ORGANIZATION], ["OU", OPERATOR_OU], ["CN", `app-${a.name}`]], [], base.ca);
  }
  pki = {
    ...base,
    edgeBoth: issueWithOpenssl(base.dir, "edge-both", "server", service(DOMAIN), [DOMAIN, API_HOST], base.ca),
    gatewayServer: issueWithOpenssl(base.dir, "gateway-server", "server", service("inference-gateway"), [GATEWAY_SERVER_NAME, "inference-gateway"], base.ca),
    gatewayClient: issueWithOpenssl(base.dir, "gateway-client", "client", service("zta-gateway"), [], base.ca),
    apps,
  };

  // PostgreSQL 15 as the image's entrypoint sets it up: user and database "litellm", the generated password, scram.
  pgdata = path.join(dir, "pg");
  const sock = path.join(dir, "pg-sock");
  fs.mkdirSync(sock);
  const pwfile = write(path.join(dir, "pgpw"), "pw", rendered.dbPassword);
  spawnSync("chown", ["-R", `${RUN_AS}:nogroup`, sock, path.dirname(pwfile)]);
  fs.mkdirSync(pgdata);
  spawnSync("chown", [`${RUN_AS}:nogroup`, pgdata]);
  asNobody(["initdb", "-D", pgdata, "-U", "litellm", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256"]);
  asNobody(["pg_ctl", "-D", pgdata, "-w", "-l", path.join(sock, "pg.log"), "-o", `-c listen_addresses=127.0.0.1 -p ${pg} -k ${sock}`, "start"]);
  asNobody(["psql", "-q", "-h", sock, "-p", String(pg), "-U", "litellm", "-d", "postgres", "-c", "CREATE DATABASE litellm"]);

  vllm = new MockVllm();
  await vllm.start();
  gate = new StubGate(pki, "_zta_session");
  await gate.start();

  // Sidecar: the synthesized config, localized as the harness does for its own chain.
  const sidecarDir = path.join(dir, "sidecar");
  const sidecarRun = path.join(dir, "sidecar-run");
  fs.mkdirSync(sidecarRun, { recursive: true });
  write(sidecarDir, "ca.crt", pki.ca.certPem);
  write(sidecarDir, "server.crt", pki.sidecarServer.certPem);
  write(sidecarDir, "server.key", pki.sidecarServer.keyPem);
  write(sidecarDir, "upstream-auth.conf", renderUpstreamAuthInclude(VLLM_KEY));
  const chainLike = { nginxConfig: rendered.sidecarConf, vllmAddress: "127.0.0.1:8000" } as RenderedChain;
  const sidecarConf = write(
    sidecarDir,
    "nginx.conf",
    localizeNginxConfig(chainLike, { edge, edgeHealth, sidecar: side, sidecarHealth: sideHealth, vllm: vllm.port }, {
      edgeDir: "",
      sidecarDir,
      sidecarRunDir: sidecarRun,
      sidecarAccessLog: path.join(dir, "sidecar-access.log"),
      sidecarErrorLog: path.join(dir, "sidecar-error.log"),
    }),
  );
  nginxTest(sidecarConf, sidecarRun, path.join(dir, "sidecar-error.log"));
  sidecar = startNginx(sidecarConf, sidecarRun, path.join(dir, "sidecar-error.log"), path.join(dir, "sidecar-access.log"));
  await sidecar.waitForPort(side, nginxStarted(sidecar, sidecarRun));

  // The gateway proxy: its files as the config volume holds them.
  write(gwDir(), "ca.crt", pki.ca.certPem);
  write(gwDir(), "server.crt", pki.gatewayServer.certPem);
  write(gwDir(), "server.key", pki.gatewayServer.keyPem);
  write(gwDir(), "client.crt", pki.gatewayClient.certPem);
  write(gwDir(), "client.key", pki.gatewayClient.keyPem);
  const gwConf = write(gwDir(), "nginx.conf", localGatewayConf(rendered));
  const gwRun = path.join(dir, "gateway-run");
  nginxTest(gwConf, gwRun, path.join(dir, "gateway-error.log"));
  gateway = startNginx(gwConf, gwRun, path.join(dir, "gateway-error.log"), path.join(dir, "gateway-access.log"));
  await gateway.waitForPort(gwEdge, nginxStarted(gateway, gwRun));

  litellm = await startLitellm(rendered);

  const edgeDir = path.join(dir, "edge");
  write(edgeDir, "ca.crt", pki.ca.certPem);
  write(edgeDir, "server.crt", pki.edgeBoth.certPem);
  write(edgeDir, "server.key", pki.edgeBoth.keyPem);
  write(edgeDir, "client.crt", pki.edgeClient.certPem);
  write(edgeDir, "client.key", pki.edgeClient.keyPem);
  const caddyfile = write(edgeDir, "Caddyfile", localCaddyfile(rendered));
  caddyValidate(caddyfile, path.join(dir, "caddy-state"));
  caddy = startCaddy(caddyfile, path.join(dir, "caddy-state"));
  await caddy.waitForPort(edge, caddyStarted(caddy));
}, 180000);

afterAll(async () => {
  await Promise.all([caddy, sidecar, gateway, litellm].filter(Boolean).map((p) => p.stop()));
  await vllm?.stop();
  await gate?.stop();
  if (pgdata && fs.existsSync(path.join(pgdata, "postmaster.pid"))) asNobody(["pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Tests (in order: the reconcile runs first, later cases change the declared apps)
// ---------------------------------------------------------------------------------------------

describe("ApiGateway on real Caddy, nginx and PostgreSQL 15, LiteLLM as the contract mock", () => {
  test("the reconcile job creates every declared key; Postgres holds their hashes, never a key value", () => {
    const out = reconcile(rendered);
    for (const a of APPS) expect(out).toContain(`reconcile: created ${a.name}`);
    const rows = psql("SELECT key_alias FROM zta_mock_keys ORDER BY key_alias").split("\n");
    expect(rows).toEqual(["frugal", "ide-assistant", "nightly-summaries"]);
    const dump = psql("SELECT data::text FROM zta_mock_keys");
    for (const a of APPS) expect(dump).not.toContain(keyOf(rendered, a.name));
    expect(psql("SELECT data->>'rpm_limit' FROM zta_mock_keys WHERE key_alias = 'ide-assistant'")).toBe("2");
    expect(psql("SELECT data->>'max_budget' FROM zta_mock_keys WHERE key_alias = 'frugal'")).toBe("0.01");
    expect(psql("SELECT data->>'expires' IS NOT NULL FROM zta_mock_keys WHERE key_alias = 'ide-assistant'")).toBe("t");
  });

  test("running it again changes nothing: every key is updated in place, none created", () => {
    const out = reconcile(rendered);
    expect(out).not.toContain("created");
    expect(out.match(/reconcile: updated/g)?.length).toBe(3);
    expect(psql("SELECT count(*) FROM zta_mock_keys")).toBe("3");
  });

  test("an app's bundle and key: edge -> gateway -> LiteLLM -> gateway -> sidecar -> vLLM, attributed to gateway:<app>", async () => {
    const id = caseId("path");
    const ex = await send(appRequest("nightly-summaries", keyOf(rendered, "nightly-summaries"), id, { headers: { "X-ZTA-Identity": "admin@example.com", "x-litellm-user_api_key_alias": "ide-assistant" } }));
    check(ex.status === 200, "200 through the whole chain", ex, logs);
    expect(JSON.parse(ex.body).choices[0].message.content).toContain("tok0");
    const [seen] = vllm.requestsFor(id);
    // vLLM sees the sidecar's injected key, not the app's; the upstream model name, not the gateway's.
    expect(seen.headers.authorization).toBe(`Bearer ${VLLM_KEY}`);
    const audit = await eventually(() => readJsonLines(path.join(dir, "sidecar-access.log")).find((l) => l.route === "/v1/chat/completions" && l.caller === "gateway"), "sidecar audit line");
    // A client's forged identity or alias header changed nothing: the key's alias wins.
    expect(audit.identity).toBe("gateway:nightly-summaries");
    expect(audit.client_cert).toBe("CN=zta-gateway,OU=zta-services,O=cdktf-zero-trust-ai");
    expect(gate.requests.filter((r) => r.headers["x-e2e-case"] === id)).toEqual([]);
    // LiteLLM's spend log gets the app, model and token counts (written after the answer, as LiteLLM's callbacks do).
    const spend = await eventually(
      () =>
        psql(`SELECT metadata->>'user_api_key_alias', model_group, prompt_tokens, completion_tokens, total_tokens, call_type, status FROM "LiteLLM_SpendLogs"`)
          .split("\n")
          .find((l) => l.startsWith("nightly-summaries|")),
      "spend log row",
      80,
    );
    expect(spend).toBe("nightly-summaries|qwen-0.5b|2|5|7|acompletion|success");
  });

  test("the mock's spend log table is the one DDL file's (LiteLLM's migration), column by column", () => {
    psql(`CREATE SCHEMA IF NOT EXISTS prisma_ref; SET search_path = prisma_ref; ${LITELLM_SPEND_LOGS_DDL}`);
    const columns = (schema: string) =>
      psql(`SELECT column_name, data_type, datetime_precision, is_nullable, column_default FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = 'LiteLLM_SpendLogs' ORDER BY ordinal_position`);
    expect(columns("public").split("\n").length).toBeGreaterThan(25);
    expect(columns("public")).toBe(columns("prisma_ref"));
    psql("DROP SCHEMA prisma_ref CASCADE");
  });

  test("streaming survives every hop: the first token reaches the app while vLLM still holds the rest", async () => {
    const id = caseId("stream");
    const hold = vllm.holdStreams();
    const stream = sendStreaming(
      appRequest("nightly-summaries", keyOf(rendered, "nightly-summaries"), id, {
        body: JSON.stringify({ model: "qwen-0.5b", stream: true, messages: [{ role: "user", content: "hi" }] }),
      }),
    );
    try {
      await hold.reached;
      const first = await within(stream.firstEvent, 5000);
      expect(first).toMatch(/^data: .*tok0/);
      expect(hold.holding()).toBe(1);
    } finally {
      hold.release();
    }
    const done = await stream.done;
    check(done.status === 200 && done.body.includes("[DONE]"), "the whole stream", done, logs);
  });

  test("a key for app A is refused for a model only app B may use, with LiteLLM's 401; vLLM sees nothing", async () => {
    const id = caseId("model");
    const ex = await send(
      appRequest("nightly-summaries", keyOf(rendered, "nightly-summaries"), id, { body: JSON.stringify({ model: "qwen-b-only", messages: [{ role: "user", content: "x" }] }) }),
    );
    check(ex.status === 401, "LiteLLM's model refusal", ex, logs);
    expect(JSON.parse(ex.body).error).toMatchObject({ type: "key_model_access_denied", message: expect.stringContaining("This key can only access models=['qwen-0.5b']") });
    expect(vllm.requestsFor(id)).toEqual([]);
    const b = await send(appRequest("ide-assistant", keyOf(rendered, "ide-assistant"), caseId("model-b"), { body: JSON.stringify({ model: "qwen-b-only", messages: [{ role: "user", content: "x" }] }) }));
    check(b.status === 200, "app B may use its model", b, logs);
    const models = await send(appRequest("ide-assistant", keyOf(rendered, "ide-assistant"), caseId("models"), { path: "/v1/models", method: "GET", body: undefined }));
    expect(JSON.parse(models.body).data.map((m: { id: string }) => m.id)).toEqual(["qwen-b-only"]);
  });

  test("refusals: no key 401, a wrong key 401, no app certificate no TLS, key management never routed", async () => {
    const noKey = await send(appRequest("nightly-summaries", undefined, caseId("nokey")));
    expect(noKey.status).toBe(401);
    const wrong = await send(appRequest("nightly-summaries", `sk-${"0".repeat(48)}`, caseId("wrong")));
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body).error.type).toBe("auth_error");
    await expect(send(appRequest(undefined, keyOf(rendered, "nightly-summaries"), caseId("nocert")))).rejects.toThrow();
    // Even with the master key, /key/* is not a route of the gateway site (the edge answers 404).
    const master = rendered.masterKeyFile.trim();
    for (const p of ["/key/generate", "/key/list", "/ui", "/metrics", "/health/readiness"]) {
      const ex = await send(appRequest("nightly-summaries", master, caseId("mgmt"), { path: p, method: p === "/key/generate" ? "POST" : "GET" }));
      check(ex.status === 404, `404 for ${p}`, ex);
    }
  });

  test("behind the edge only: the gateway's edge listener refuses an app certificate (only the edge's subject)", async () => {
    const ex = await send({
      port: ports.gwEdge,
      ca: pki.ca.certPem,
      servername: GATEWAY_SERVER_NAME,
      path: "/v1/models",
      clientCert: pki.apps["nightly-summaries"],
      headers: { Authorization: `Bearer ${keyOf(rendered, "nightly-summaries")}` },
    });
    expect(ex.status).toBe(403);
  });

  test("nothing unattributed reaches the sidecars: the loopback listener refuses a call without a declared app alias", async () => {
    // Asynchronous: the mock vLLM answering the last call runs in this process.
    const call = async (alias?: string) =>
      (await execFileAsync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...(alias ? ["-H", `x-litellm-user_api_key_alias: ${alias}`] : []), `http://127.0.0.1:${ports.gwClient}/v1/models`])).stdout;
    expect(await call()).toBe("403");
    expect(await call("not-an-app")).toBe("403");
    expect(await call("nightly-summaries")).toBe("200");
  });

  test("rate limit: the third call in a minute of an app with requestsPerMinute 2 gets LiteLLM's 429", async () => {
    const statuses: number[] = [];
    let last;
    // ide-assistant made one call above; minute windows may roll over, so allow up to 4 calls to see a 429.
    for (let i = 0; i < 4 && !statuses.includes(429); i++) {
      last = await send(appRequest("ide-assistant", keyOf(rendered, "ide-assistant"), caseId("rpm"), { body: JSON.stringify({ model: "qwen-b-only", messages: [{ role: "user", content: "x" }] }) }));
      statuses.push(last.status);
    }
    check(statuses.includes(429), "a 429", last, logs);
    expect(JSON.parse(last!.body).error.message).toMatch(/Crossed TPM \/ RPM/);
  });

  test("budget: an app over its 30-day budget gets LiteLLM's budget_exceeded; vLLM sees nothing", async () => {
    const first = await send(appRequest("frugal", keyOf(rendered, "frugal"), caseId("budget-1")));
    check(first.status === 200, "the first call within budget", first, logs);
    // Spend is counted after the answer (LiteLLM's success callback): wait until it is, as a next call would.
    await eventually(() => (Number(psql("SELECT data->>'spend' FROM zta_mock_keys WHERE key_alias = 'frugal'")) >= 0.01 ? true : undefined), "frugal's spend", 80);
    const id = caseId("budget-2");
    const second = await send(appRequest("frugal", keyOf(rendered, "frugal"), id));
    check(second.status === 400, "budget refusal", second, logs);
    expect(JSON.parse(second.body).error).toMatchObject({ type: "budget_exceeded", message: expect.stringContaining("Budget has been exceeded!") });
    expect(vllm.requestsFor(id)).toEqual([]);
  });

  test("declared changes reconcile: a raised limit is updated, a rotated value replaces the old key, a removed app is revoked", async () => {
    const rotatedId = Object.keys(resources(rendered.json, "random_password")).find((id) => id.includes("key-ide-assistant"))!;
    const oldKey = keyOf(rendered, "ide-assistant");
    const oldFrugal = keyOf(rendered, "frugal");
    // A plan in the rotation window: the clock is re-created, so is the password (a new value).
    secrets.set(rotatedId, randomBytes(24).toString("hex"));
    const next = render([{ ...APPS[0], requestsPerMinute: 500 }, APPS[1]]);
    expect(keyOf(next, "ide-assistant")).not.toBe(oldKey);
    const out = reconcile(next);
    expect(out).toContain("reconcile: updated nightly-summaries");
    expect(out).toContain("reconcile: revoked previous key of ide-assistant");
    expect(out).toContain("reconcile: created ide-assistant");
    expect(out).toContain("reconcile: revoked frugal");
    expect(psql("SELECT data->>'rpm_limit' FROM zta_mock_keys WHERE key_alias = 'nightly-summaries'")).toBe("500");
    expect(psql("SELECT key_alias FROM zta_mock_keys ORDER BY key_alias").split("\n")).toEqual(["ide-assistant", "nightly-summaries"]);
    const body = JSON.stringify({ model: "qwen-b-only", messages: [{ role: "user", content: "x" }] });
    const old = await send(appRequest("ide-assistant", oldKey, caseId("old"), { body }));
    check(old.status === 401, "the old value refused", old, logs);
    const fresh = await send(appRequest("ide-assistant", keyOf(next, "ide-assistant"), caseId("new"), { path: "/v1/models", method: "GET", body: undefined }));
    check(fresh.status === 200, "the rotated key works", fresh, logs);
    const revoked = await send(appRequest("frugal", oldFrugal, caseId("revoked"), { path: "/v1/models", method: "GET", body: undefined }));
    expect(revoked.status).toBe(401);
    // The gateway proxy still admits only declared aliases: the rendered map lost frugal.
    expect(next.gatewayConf).not.toContain('"frugal"');
    expect(containerNamed(next.json, "inference-gateway-keys")).toBeTruthy();
  });
});
