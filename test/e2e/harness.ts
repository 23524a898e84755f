/**
 * Real-binary harness for the SecureInference chain: real Caddy (edge) and nginx (sidecar) run on
 * loopback with the configs the constructs render, certificates come from openssl, vLLM is a mock
 * and the OIDC gate (oauth2-proxy) is a stub that speaks its forward_auth protocol.
 *
 *   client --TLS+client cert--> caddy --forward_auth--> stub gate
 *                                 '--mTLS--> nginx --loopback HTTP--> mock vLLM
 *
 * Used by the e2e tests and the benchmarks. Everything listens on 127.0.0.1 only. A missing
 * binary is an error, never a skip.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as http2 from "http2";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider";
import { App, TerraformStack, TerraformVariable } from "cdktf";
import { EDGE_HEALTH_PORT, EDGE_PORT } from "../../constructs/edge-proxy";
import { SIDECAR_HEALTH_PORT, SIDECAR_PORT } from "../../constructs/mtls-sidecar";
import { RateLimitProps, SecureInference } from "../../constructs/secure-inference";
import {
  CERT_ORGANIZATION,
  CONFIG_DIR,
  EDGE_CLIENT_CN,
  GATE_SERVER_NAME,
  METRICS_SCRAPER_CN,
  OPERATOR_OU,
  SERVICE_OU,
  SIDECAR_SERVER_NAME,
} from "../../lib/identities";
import { renderUpstreamAuthInclude } from "../../lib/nginx";

// ---------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------

/** Absolute path of a binary on PATH; throws (CI must fail, not skip) when it is missing. */
export function requireBinary(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== "")) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `The e2e suite needs the real '${name}' binary on PATH (Debian: apt-get install ${name}); ` +
      `PATH is ${process.env.PATH}. It fails instead of skipping so CI cannot pass without it.`,
  );
}

/** A fresh directory under the OS temp dir, traversable by nginx's workers (they run as nobody under root). */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Certificates (openssl), to the spec of the tls resources in constructs/internal-ca.ts
// ---------------------------------------------------------------------------------------------

export interface CertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface PkiNames {
  /** The edge's hostname (its certificate's CN and SAN). */
  readonly domain: string;
  /** The sidecar's target hostname (CN and second SAN; the first is SIDECAR_SERVER_NAME). */
  readonly sidecarHostname: string;
  /** The gate's Docker name (CN and second SAN; the first is GATE_SERVER_NAME). */
  readonly gateHostname: string;
  readonly operatorName: string;
  readonly operatorEmail: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateFiles;
  readonly edgeServer: CertificateFiles;
  /** The edge's client identity toward the sidecar and the gate (CN=zta-edge, OU=zta-services). */
  readonly edgeClient: CertificateFiles;
  readonly sidecarServer: CertificateFiles;
  readonly gateServer: CertificateFiles;
  readonly metricsScraper: CertificateFiles;
  /** An operator's client certificate (OU=zta-operators): valid for the edge, not a service identity. */
  readonly operator: CertificateFiles;
  /** A CA nobody configured, and a client certificate it issued. */
  readonly foreignCa: CertificateFiles;
  readonly foreignClient: CertificateFiles;
  /** A server certificate with the sidecar's names, issued by the foreign CA. */
  readonly foreignSidecarServer: CertificateFiles;
}

function openssl(args: string[]): void {
  const result = spawnSync(requireBinary("openssl"), args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed (${result.status}):\n${result.stderr}`);
  }
}

/** An openssl subject string; fields in the DER order Go's pkix.Name writes (O, OU, CN, then email). */
function subjectArg(fields: [string, string][]): string {
  return fields.map(([k, v]) => `/${k}=${v}`).join("");
}

/** The tls provider's allowed_uses, as openssl extensions (Go marks basicConstraints and keyUsage critical). */
function extensions(kind: "ca" | "server" | "client", dnsNames: string[]): string {
  const lines =
    kind === "ca"
      ? ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign, digitalSignature"]
      : [
          "basicConstraints = critical, CA:FALSE",
          "keyUsage = critical, digitalSignature, keyEncipherment",
          `extendedKeyUsage = ${kind === "server" ? "serverAuth" : "clientAuth"}`,
          "authorityKeyIdentifier = keyid",
        ];
  lines.push("subjectKeyIdentifier = hash");
  if (dnsNames.length > 0) lines.push(`subjectAltName = ${dnsNames.map((n) => `DNS:${n}`).join(", ")}`);
  return `[ext]\n${lines.join("\n")}\n`;
}

/** One certificate to the spec of constructs/internal-ca.ts (ECDSA P-256, the same key usages), signed by `issuer` or self-signed. */
export function issueWithOpenssl(
  dir: string,
  name: string,
  kind: "ca" | "server" | "client",
  subject: [string, string][],
  dnsNames: string[],
  issuer?: CertificateFiles,
): CertificateFiles {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const csrPath = path.join(dir, `${name}.csr`);
  const extPath = path.join(dir, `${name}.ext`);
  // ECDSA P-256, as the constructs' tls_private_key resources (never the provider's default P-224).
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]);
  openssl(["req", "-new", "-key", keyPath, "-subj", subjectArg(subject), "-out", csrPath]);
  fs.writeFileSync(extPath, extensions(kind, dnsNames));
  const signer = issuer ? ["-CA", issuer.certPath, "-CAkey", issuer.keyPath] : ["-signkey", keyPath];
  openssl([
    "x509",
    "-req",
    "-in",
    csrPath,
    ...signer,
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    extPath,
    "-extensions",
    "ext",
    "-out",
    certPath,
  ]);
  return { certPath, keyPath, certPem: fs.readFileSync(certPath, "utf8"), keyPem: fs.readFileSync(keyPath, "utf8") };
}

/** Every certificate of the chain, plus an unrelated CA and its client, written under `dir`. */
export function createPki(dir: string, names: PkiNames): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const service = (cn: string): [string, string][] => [
    ["O", CERT_ORGANIZATION],
    ["OU", SERVICE_OU],
    ["CN", cn],
  ];
  const ca = issueWithOpenssl(
    dir,
    "ca",
    "ca",
    [
      ["O", CERT_ORGANIZATION],
      ["CN", "e2e root CA"],
    ],
    [],
  );
  const foreignCa = issueWithOpenssl(
    dir,
    "foreign-ca",
    "ca",
    [
      ["O", "somebody-else"],
      ["CN", "foreign root CA"],
    ],
    [],
  );
  return {
    dir,
    ca,
    edgeServer: issueWithOpenssl(dir, "edge-server", "server", service(names.domain), [names.domain], ca),
    edgeClient: issueWithOpenssl(dir, "edge-client", "client", service(EDGE_CLIENT_CN), [], ca),
    sidecarServer: issueWithOpenssl(
      dir,
      "sidecar-server",
      "server",
      service(names.sidecarHostname),
      [SIDECAR_SERVER_NAME, names.sidecarHostname],
      ca,
    ),
    gateServer: issueWithOpenssl(
      dir,
      "gate-server",
      "server",
      service(names.gateHostname),
      [GATE_SERVER_NAME, names.gateHostname],
      ca,
    ),
    metricsScraper: issueWithOpenssl(dir, "metrics-scraper", "client", service(METRICS_SCRAPER_CN), [], ca),
    operator: issueWithOpenssl(
      dir,
      "operator",
      "client",
      [
        ["O", CERT_ORGANIZATION],
        ["OU", OPERATOR_OU],
        ["CN", names.operatorName],
        ["emailAddress", names.operatorEmail],
      ],
      [],
      ca,
    ),
    foreignCa,
    // Same subjects and names as the chain's own: only the issuer differs.
    foreignClient: issueWithOpenssl(dir, "foreign-client", "client", service(EDGE_CLIENT_CN), [], foreignCa),
    foreignSidecarServer: issueWithOpenssl(
      dir,
      "foreign-sidecar-server",
      "server",
      service(names.sidecarHostname),
      [SIDECAR_SERVER_NAME, names.sidecarHostname],
      foreignCa,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Configs: the construct tree's own renderings, localized for loopback
// ---------------------------------------------------------------------------------------------

export const E2E_DOMAIN = "ai.example.internal";
export const E2E_OPERATOR = { name: "devops-laptop", email: "devops@example.com" };

export interface ChainProps {
  /** Put the OIDC gate in front (forward_auth to the stub). @default true */
  readonly oidc?: boolean;
  readonly rateLimit?: RateLimitProps;
  readonly maxRequestBodyMb?: number;
}

/** What the constructs rendered, before localization. */
export interface RenderedChain {
  readonly caddyfile: string;
  readonly nginxConfig: string;
  /** `host:port` the edge dials for the sidecar, e.g. `inference-vllm-0:8443`. */
  readonly sidecarAddress: string;
  /** vLLM's address as the sidecar sees it, `127.0.0.1:8000`. */
  readonly vllmAddress: string;
  /** `host:port` of the gate, when oidc is on. */
  readonly gateAddress?: string;
  /** The session cookie name the gate is configured with (from its oauth2-proxy arguments). */
  readonly sessionCookieName?: string;
  readonly pkiNames: PkiNames;
}

/** Builds the real construct tree, as a stack file would (stacks/default-stack.ts), and returns its configs. */
export function renderChain(props: ChainProps = {}): RenderedChain {
  const app = new App();
  const stack = new TerraformStack(app, "e2e");
  new DockerProvider(stack, "docker", {});
  new TlsProvider(stack, "tls", {});
  new RandomProvider(stack, "random", {});
  const secret = new TerraformVariable(stack, "oidc_client_secret", { type: "string", sensitive: true });
  const ai = new SecureInference(stack, "inference", {
    model: { name: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775" },
    domain: E2E_DOMAIN,
    operators: [E2E_OPERATOR],
    oidc:
      props.oidc === false
        ? undefined
        : { issuerUrl: "https://idp.example.com/realms/prod", clientId: "local-ai", clientSecret: secret.value },
    metricsScraper: true,
    rateLimit: props.rateLimit,
    maxRequestBodyMb: props.maxRequestBodyMb,
  });
  const sidecar = ai.sidecars[0];
  const cookieArg = ai.gate?.args.find((a) => a.startsWith("--cookie-name="));
  return {
    caddyfile: ai.edge.caddyfile,
    nginxConfig: sidecar.nginxConfig,
    sidecarAddress: sidecar.address,
    vllmAddress: ai.replicas[0].loopbackAddress,
    gateAddress: ai.gate?.address,
    sessionCookieName: cookieArg?.slice("--cookie-name=".length),
    pkiNames: {
      domain: E2E_DOMAIN,
      sidecarHostname: sidecar.address.split(":")[0],
      // Without a gate its certificate is never served; the name only has to be a valid SAN.
      gateHostname: ai.gate ? ai.gate.address.split(":")[0] : GATE_SERVER_NAME,
      operatorName: E2E_OPERATOR.name,
      operatorEmail: E2E_OPERATOR.email,
    },
  };
}

export interface Replacement {
  readonly from: string | RegExp;
  readonly to: string;
  /** Why this part is environment-specific; shown when it no longer matches. */
  readonly why: string;
}

/**
 * Applies each replacement to every occurrence; throws when one matches nothing, so a renderer
 * change that the localization no longer covers is caught instead of silently ignored.
 */
export function localize(text: string, replacements: Replacement[], what: string): string {
  let out = text;
  for (const r of replacements) {
    const pattern = typeof r.from === "string" ? new RegExp(escapeRegExp(r.from), "g") : r.from;
    if (!pattern.global) throw new Error(`localize(${what}): use a /g pattern for ${pattern}`);
    if (out.match(pattern) === null) {
      throw new Error(
        `localize(${what}): ${String(r.from)} matched nothing (${r.why}). Did the renderer change?\n${out}`,
      );
    }
    out = out.replace(pattern, r.to);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface LoopbackPorts {
  readonly edge: number;
  readonly edgeHealth: number;
  readonly sidecar: number;
  readonly sidecarHealth: number;
  readonly vllm: number;
  readonly gate?: number;
}

export interface LocalPaths {
  /** Directory with Caddyfile, ca.crt, server.crt, server.key, client.crt, client.key. */
  readonly edgeDir: string;
  /** Directory with nginx.conf, ca.crt, server.crt, server.key, upstream-auth.conf. */
  readonly sidecarDir: string;
  /** nginx's pid file and temp directories. */
  readonly sidecarRunDir: string;
  readonly sidecarAccessLog: string;
  readonly sidecarErrorLog: string;
}

export function localizeCaddyfile(r: RenderedChain, ports: LoopbackPorts, paths: LocalPaths): string {
  const replacements: Replacement[] = [
    { from: `${CONFIG_DIR}/`, to: `${paths.edgeDir}/`, why: "config volume mount point" },
    // Before the site address: the sidecar's port is the same number as the edge's.
    { from: r.sidecarAddress, to: `127.0.0.1:${ports.sidecar}`, why: "sidecar's Docker DNS name" },
    {
      from: `https://${r.pkiNames.domain}:${EDGE_PORT} {`,
      // In the container the site listens on every interface of its own namespace; here, loopback only.
      to: `https://${r.pkiNames.domain}:${ports.edge} {\n\tbind 127.0.0.1`,
      why: "edge listen port",
    },
    {
      from: `http://127.0.0.1:${EDGE_HEALTH_PORT} {`,
      to: `http://127.0.0.1:${ports.edgeHealth} {`,
      why: "edge health port",
    },
  ];
  if (r.gateAddress) {
    if (ports.gate === undefined) throw new Error("localizeCaddyfile: the chain has a gate but no gate port was given");
    replacements.push({ from: r.gateAddress, to: `127.0.0.1:${ports.gate}`, why: "gate's Docker DNS name" });
  }
  return localize(r.caddyfile, replacements, "Caddyfile");
}

export function localizeNginxConfig(r: RenderedChain, ports: LoopbackPorts, paths: LocalPaths): string {
  return localize(
    r.nginxConfig,
    [
      { from: `${CONFIG_DIR}/`, to: `${paths.sidecarDir}/`, why: "config volume mount point" },
      { from: `listen ${SIDECAR_PORT} ssl;`, to: `listen 127.0.0.1:${ports.sidecar} ssl;`, why: "sidecar listen port" },
      {
        from: `listen 127.0.0.1:${SIDECAR_HEALTH_PORT};`,
        to: `listen 127.0.0.1:${ports.sidecarHealth};`,
        why: "sidecar health port",
      },
      { from: `server ${r.vllmAddress};`, to: `server 127.0.0.1:${ports.vllm};`, why: "vLLM's loopback address" },
      { from: "access_log /dev/stdout ", to: `access_log ${paths.sidecarAccessLog} `, why: "container stdout" },
      { from: "error_log /dev/stderr ", to: `error_log ${paths.sidecarErrorLog} `, why: "container stderr" },
      // runDir: the container's /tmp tmpfs.
      { from: /(pid|_temp_path) \/tmp\//g, to: `$1 ${paths.sidecarRunDir}/`, why: "run dir (tmpfs /tmp)" },
    ],
    "nginx.conf",
  );
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/**
 * `count` distinct free TCP ports on 127.0.0.1, for servers the harness does not bind itself.
 * Drawn at random below Linux's ephemeral range (32768+), so a port released here is not handed
 * to another process's port-0 listener or outgoing connection before nginx or caddy binds it.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let attempt = 0; servers.length < count && attempt < 200; attempt++) {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer();
      const bound = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.listen(port, "127.0.0.1", () => resolve(true));
      });
      if (bound) servers.push(s);
    }
    if (servers.length < count) throw new Error(`freePorts: found only ${servers.length} of ${count} free ports`);
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A child process whose output is kept for failure messages. */
export class ManagedProcess {
  private readonly child: ChildProcess;
  private outputText = "";
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  constructor(
    public readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    /** Log files the process writes itself (e.g. nginx's error log), included in `logs()`. */
    private readonly logFiles: string[] = [],
  ) {
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.outputText += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.outputText += d.toString()));
    this.exitPromise = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
      this.child.once("error", (err) => {
        this.outputText += `\nspawn error: ${err.message}`;
        this.exited = { code: null, signal: null };
        resolve();
      });
    });
  }

  /**
   * Polls, a bounded number of times, until the process says it is serving (`started`, e.g. a log
   * line: so a foreign listener on a reused port is not mistaken for it) and a TCP connect to
   * `port` succeeds; throws with the logs if it exits or never gets there.
   */
  async waitForPort(port: number, started: () => boolean, tries = 100, intervalMs = 50): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (this.exited)
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exited)}) before listening on ${port}\n${this.logs()}`,
        );
      if (started() && (await canConnect(port))) return;
      await sleep(intervalMs);
    }
    throw new Error(`${this.name} did not listen on 127.0.0.1:${port} after ${tries} tries\n${this.logs()}`);
  }

  /** What the process wrote to stdout and stderr so far. */
  get output(): string {
    return this.outputText;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** stdout, stderr and the process's own log files. */
  logs(): string {
    const files = this.logFiles
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${f} ---\n${fs.readFileSync(f, "utf8")}`)
      .join("\n");
    return `=== ${this.name} (pid ${this.child.pid}) output ===\n${this.outputText}\n${files}`;
  }

  /** SIGTERM, then SIGKILL if it has not exited after a bounded wait. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    if (
      (await within(
        this.exitPromise.then(() => true),
        5000,
      )) === undefined
    ) {
      this.child.kill("SIGKILL");
      await this.exitPromise;
    }
  }
}

function runChecked(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: "utf8", env });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}):\n${output}`);
  }
  return output;
}

/** Caddy keeps state under XDG dirs; point them at the test's own directory. */
function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, "data"),
    XDG_CONFIG_HOME: path.join(dir, "config"),
  };
}

function nginxArgs(confPath: string, prefixDir: string, errorLog: string): string[] {
  return ["-c", confPath, "-p", prefixDir, "-e", errorLog];
}

/** `caddy validate`; returns its output, throws with it on failure. */
export function caddyValidate(caddyfilePath: string, stateDir: string): string {
  return runChecked(
    requireBinary("caddy"),
    ["validate", "--config", caddyfilePath, "--adapter", "caddyfile"],
    caddyEnv(stateDir),
  );
}

/** `nginx -t`; returns its output, throws with it on failure. */
export function nginxTest(confPath: string, prefixDir: string, errorLog: string): string {
  return runChecked(requireBinary("nginx"), ["-t", ...nginxArgs(confPath, prefixDir, errorLog)]);
}

export function startCaddy(caddyfilePath: string, stateDir: string): ManagedProcess {
  return new ManagedProcess(
    "caddy",
    requireBinary("caddy"),
    ["run", "--config", caddyfilePath, "--adapter", "caddyfile"],
    caddyEnv(stateDir),
  );
}

/** nginx writes its pid file (`pid <runDir>/nginx.pid` in the rendered configs) after binding its listeners. */
export function nginxStarted(nginx: ManagedProcess, runDir: string): () => boolean {
  const pidFile = path.join(runDir, "nginx.pid");
  return () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() === String(nginx.pid);
}

/** Caddy logs this once its servers are listening. */
export function caddyStarted(caddy: ManagedProcess): () => boolean {
  return () => caddy.output.includes('"msg":"serving initial configuration"');
}

/** The rendered config has no `daemon` directive (the container runs nginx in the foreground); so does this. */
export function startNginx(confPath: string, prefixDir: string, errorLog: string, accessLog?: string): ManagedProcess {
  return new ManagedProcess(
    "nginx",
    requireBinary("nginx"),
    [...nginxArgs(confPath, prefixDir, errorLog), "-g", "daemon off;"],
    process.env,
    [errorLog, ...(accessLog ? [accessLog] : [])],
  );
}

// ---------------------------------------------------------------------------------------------
// Mock vLLM
// ---------------------------------------------------------------------------------------------

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly bodyBytes: number;
}

/** Reads a request's body and records what arrived. */
function receive(req: http.IncomingMessage): Promise<{ record: RecordedRequest; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method ?? "",
        path: (req.url ?? "/").split("?")[0],
        headers: req.headers,
        bodyBytes: body.length,
      };
      resolve({ record, body });
    });
  });
}

/** A loopback HTTP(S) server that records every request it receives. */
abstract class RecordingServer<R extends RecordedRequest> {
  public readonly requests: R[] = [];
  private server?: http.Server;

  get port(): number {
    return (this.server!.address() as net.AddressInfo).port;
  }

  /** Requests whose `x-e2e-case` header is `id`. */
  requestsFor(id: string): R[] {
    return this.requests.filter((r) => r.headers["x-e2e-case"] === id);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;

  /** Listens on 127.0.0.1 (port 0: any free one); returns the port. */
  protected async listenWith(create: (listener: http.RequestListener) => http.Server, port: number): Promise<number> {
    const server = create((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return this.port;
  }
}

export interface MockVllmOptions {
  /** Tokens per streamed answer. @default 5 */
  readonly tokens?: number;
  /** Pause between streamed tokens, ms (benchmarks). @default 0 */
  readonly tokenIntervalMs?: number;
}

/** Holds streams after their first token until released. */
export interface StreamHold {
  /** Resolves when a stream has written its first token and is waiting. */
  readonly reached: Promise<void>;
  /** How many streams are waiting now. */
  readonly holding: () => number;
  /** Lets every held stream finish, and stops holding new ones. */
  readonly release: () => void;
  readonly isReleased: () => boolean;
}

interface ActiveHold {
  readonly wait: () => Promise<void>;
  readonly release: () => void;
}

export const MOCK_MODEL = "Qwen/Qwen2.5-0.5B-Instruct";

/**
 * Stands in for vLLM's HTTP server on 127.0.0.1. Answers the OpenAI routes and also vLLM's
 * unauthenticated admin routes (/tokenize, /pause, /update_weights, /metrics), so a 404 seen by a
 * client comes from the chain, not from here. Records every request.
 */
export class MockVllm extends RecordingServer<RecordedRequest> {
  private hold?: ActiveHold;

  constructor(private readonly options: MockVllmOptions = {}) {
    super();
  }

  start(port = 0): Promise<number> {
    return this.listenWith((listener) => http.createServer(listener), port);
  }

  /** Every streamed answer that starts from now on writes its first token, then waits for `release()`. */
  holdStreams(): StreamHold {
    let resolveReleased!: () => void;
    let resolveReached!: () => void;
    const released = new Promise<void>((resolve) => (resolveReleased = resolve));
    const reached = new Promise<void>((resolve) => (resolveReached = resolve));
    let holding = 0;
    let isReleased = false;
    const hold: ActiveHold = {
      wait: async () => {
        holding++;
        resolveReached();
        await released;
        holding--;
      },
      release: () => {
        isReleased = true;
        if (this.hold === hold) this.hold = undefined;
        resolveReleased();
      },
    };
    this.hold = hold;
    return { reached, holding: () => holding, release: hold.release, isReleased: () => isReleased };
  }

  async stop(): Promise<void> {
    this.hold?.release();
    await super.stop();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { record, body } = await receive(req);
    this.requests.push(record);
    await this.answer(record.method, record.path, body, res);
  }

  private async answer(method: string, urlPath: string, body: Buffer, res: http.ServerResponse): Promise<void> {
    const json = (status: number, value: unknown): void => {
      const text = JSON.stringify(value);
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    };
    switch (`${method} ${urlPath}`) {
      case "GET /health":
        res.writeHead(200, { "Content-Length": 0 });
        res.end();
        return;
      case "GET /v1/models":
        return json(200, { object: "list", data: [{ id: MOCK_MODEL, object: "model", owned_by: "vllm" }] });
      case "POST /v1/chat/completions":
      case "POST /v1/completions": {
        let request: { stream?: boolean } = {};
        try {
          request = JSON.parse(body.toString() || "{}");
        } catch {
          return json(400, { error: { message: "invalid JSON" } });
        }
        const chat = urlPath === "/v1/chat/completions";
        if (request.stream) return this.stream(chat, res);
        const text = this.tokenTexts().join("");
        return json(
          200,
          chat
            ? {
                id: "chatcmpl-mock",
                object: "chat.completion",
                model: MOCK_MODEL,
                choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
              }
            : {
                id: "cmpl-mock",
                object: "text_completion",
                model: MOCK_MODEL,
                choices: [{ index: 0, text, finish_reason: "stop" }],
              },
        );
      }
      case "POST /tokenize":
        return json(200, { tokens: [1, 2, 3], count: 3 });
      case "POST /pause":
        return json(200, { paused: true });
      case "POST /update_weights":
        return json(200, { updated: true });
      case "GET /metrics":
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end("# HELP vllm:num_requests_running mock\nvllm:num_requests_running 0\n");
        return;
      default:
        return json(404, { error: { message: `mock vLLM: no route ${method} ${urlPath}` } });
    }
  }

  private tokenTexts(): string[] {
    return Array.from({ length: this.options.tokens ?? 5 }, (_, i) => `tok${i} `);
  }

  /** SSE as vLLM writes it: one `data: {json}\n\n` event per token, then `data: [DONE]`. No X-Accel-Buffering header. */
  private async stream(chat: boolean, res: http.ServerResponse): Promise<void> {
    const hold = this.hold;
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    const interval = this.options.tokenIntervalMs ?? 0;
    const texts = this.tokenTexts();
    for (let i = 0; i < texts.length; i++) {
      if (res.destroyed) return;
      const event = chat
        ? {
            id: "chatcmpl-mock",
            object: "chat.completion.chunk",
            model: MOCK_MODEL,
            choices: [{ index: 0, delta: { content: texts[i] } }],
          }
        : { id: "cmpl-mock", object: "text_completion", model: MOCK_MODEL, choices: [{ index: 0, text: texts[i] }] };
      res.write(`data: ${JSON.stringify(event)}\n\n`);
      if (i === 0 && hold) {
        await hold.wait();
      } else if (interval > 0 && i < texts.length - 1) {
        await sleep(interval);
      }
    }
    res.end("data: [DONE]\n\n");
  }
}

// ---------------------------------------------------------------------------------------------
// Stub OIDC gate (oauth2-proxy's forward_auth protocol)
// ---------------------------------------------------------------------------------------------

export interface GateRecordedRequest extends RecordedRequest {
  /** Subject of the client certificate the caller presented, if any. */
  readonly clientCertSubject?: string;
}

/** Marker body of the stub's sign-in routes. */
export const GATE_MARKER = "stub-gate";

/**
 * oauth2-proxy as the edge sees it: `/oauth2/auth` answers 202 with X-Auth-Request-User/Email when
 * the session cookie is `valid-<user>` or the bearer token is `valid-<user>`, else 401;
 * users named `noemail-*` get no email header (a machine token without an email claim);
 * `/oauth2/start` and `/oauth2/callback` answer 200 with a marker body. HTTPS with the gate's
 * certificate; the caller's certificate is requested (not required, as oauth2-proxy) and recorded.
 */
export class StubGate extends RecordingServer<GateRecordedRequest> {
  constructor(
    private readonly pki: TestPki,
    private readonly sessionCookieName: string,
    /** The certificate the gate serves. @default pki.gateServer */
    private readonly serverCert: CertificateFiles = pki.gateServer,
  ) {
    super();
  }

  start(port = 0): Promise<number> {
    const tlsOptions: https.ServerOptions = {
      cert: this.serverCert.certPem,
      key: this.serverCert.keyPem,
      ca: this.pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    };
    return this.listenWith((listener) => https.createServer(tlsOptions, listener), port);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
    const subject =
      peer && peer.subject ? `CN=${peer.subject.CN},OU=${peer.subject.OU},O=${peer.subject.O}` : undefined;
    const { record } = await receive(req);
    this.requests.push({ ...record, clientCertSubject: subject });
    const urlPath = record.path;
    if (urlPath === "/oauth2/auth") {
      const user = this.userOf(req.headers);
      if (user) {
        // Like oauth2-proxy for a token without an email claim: users named noemail-* get no email header.
        const email = user.startsWith("noemail-") ? {} : { "X-Auth-Request-Email": `${user}@example.com` };
        res.writeHead(202, { "X-Auth-Request-User": user, ...email, "Content-Length": 0 });
      } else {
        res.writeHead(401, { "Content-Type": "text/plain" });
      }
      res.end();
    } else if (urlPath === "/oauth2/start" || urlPath === "/oauth2/callback") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(`${GATE_MARKER} ${urlPath}`);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end(`${GATE_MARKER}: no route ${urlPath}`);
    }
  }

  private userOf(headers: http.IncomingHttpHeaders): string | undefined {
    const cookies = (headers.cookie ?? "").split(";").map((c) => c.trim());
    for (const c of cookies) {
      const m = c.match(/^([^=]+)=valid-([a-z0-9-]+)$/);
      if (m && m[1] === this.sessionCookieName) return m[2];
    }
    const bearer = (headers.authorization ?? "").match(/^Bearer valid-([a-z0-9-]+)$/);
    return bearer?.[1];
  }
}

// ---------------------------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------------------------

/** A server the chain dials on 127.0.0.1; MockVllm and StubGate are ones, so is one running in another process. */
export interface LoopbackListener {
  readonly port: number;
}

export interface StartChainOptions extends ChainProps {
  readonly pki: TestPki;
  /** The mock vLLM (a MockVllm, or one started in another process, as the benchmarks do). */
  readonly mock: LoopbackListener;
  /** The stub gate (a StubGate or one in another process). Required when oidc is on. */
  readonly gate?: LoopbackListener;
  /** The vLLM API key the sidecar injects (written to upstream-auth.conf). */
  readonly apiKey: string;
  /** The certificate the sidecar serves (negative controls). @default pki.sidecarServer */
  readonly sidecarServerCert?: CertificateFiles;
  /** Changes the localized nginx.conf before it is written (negative controls). Must change something. */
  readonly transformNginxConfig?: (conf: string) => string;
  /** The certificate the edge serves (negative controls). @default pki.edgeServer */
  readonly edgeServerCert?: CertificateFiles;
  /** Changes the localized Caddyfile before it is written (negative controls). Must change something. */
  readonly transformCaddyfile?: (caddyfile: string) => string;
}

/** A running edge + sidecar in front of a mock vLLM (and a stub gate). */
export interface Chain {
  readonly dir: string;
  readonly rendered: RenderedChain;
  readonly ports: LoopbackPorts;
  readonly paths: LocalPaths;
  readonly caddyfilePath: string;
  readonly nginxConfPath: string;
  readonly caddy: ManagedProcess;
  readonly nginx: ManagedProcess;
  /** The sidecar's JSON access log lines, parsed. */
  auditLog(): Array<Record<string, unknown>>;
  /** Process output and log files, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/** Renders the constructs, localizes the configs, validates them, starts nginx and caddy and waits until both listen. */
export async function startChain(options: StartChainOptions): Promise<Chain> {
  const rendered = renderChain(options);
  if (rendered.gateAddress && !options.gate) throw new Error("startChain: oidc is on; pass a StubGate");
  // A port chosen free can still be taken by another process before nginx or caddy binds it: retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchChain(options, rendered);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

async function launchChain(options: StartChainOptions, rendered: RenderedChain): Promise<Chain> {
  const dir = makeTempDir("zta-e2e-chain-");
  const edgeDir = path.join(dir, "edge");
  const sidecarDir = path.join(dir, "sidecar");
  const sidecarRunDir = path.join(dir, "sidecar-run");
  for (const d of [edgeDir, sidecarDir, sidecarRunDir]) fs.mkdirSync(d, { mode: 0o755 });
  const paths: LocalPaths = {
    edgeDir,
    sidecarDir,
    sidecarRunDir,
    sidecarAccessLog: path.join(dir, "sidecar-access.log"),
    sidecarErrorLog: path.join(dir, "sidecar-error.log"),
  };
  const [edge, edgeHealth, sidecar, sidecarHealth] = await freePorts(4);
  const ports: LoopbackPorts = {
    edge,
    edgeHealth,
    sidecar,
    sidecarHealth,
    vllm: options.mock.port,
    gate: options.gate?.port,
  };

  // The files the constructs upload, under the names they upload them as.
  const { pki } = options;
  const write = (d: string, name: string, content: string): void => fs.writeFileSync(path.join(d, name), content);
  write(edgeDir, "ca.crt", pki.ca.certPem);
  const edgeServerCert = options.edgeServerCert ?? pki.edgeServer;
  write(edgeDir, "server.crt", edgeServerCert.certPem);
  write(edgeDir, "server.key", edgeServerCert.keyPem);
  write(edgeDir, "client.crt", pki.edgeClient.certPem);
  write(edgeDir, "client.key", pki.edgeClient.keyPem);
  write(sidecarDir, "ca.crt", pki.ca.certPem);
  const sidecarServerCert = options.sidecarServerCert ?? pki.sidecarServer;
  write(sidecarDir, "server.crt", sidecarServerCert.certPem);
  write(sidecarDir, "server.key", sidecarServerCert.keyPem);
  write(sidecarDir, "upstream-auth.conf", renderUpstreamAuthInclude(options.apiKey));

  const caddyfilePath = path.join(edgeDir, "Caddyfile");
  const nginxConfPath = path.join(sidecarDir, "nginx.conf");
  let caddyfile = localizeCaddyfile(rendered, ports, paths);
  if (options.transformCaddyfile) {
    const transformed = options.transformCaddyfile(caddyfile);
    if (transformed === caddyfile) throw new Error("startChain: transformCaddyfile changed nothing");
    caddyfile = transformed;
  }
  write(edgeDir, "Caddyfile", caddyfile);
  let nginxConf = localizeNginxConfig(rendered, ports, paths);
  if (options.transformNginxConfig) {
    const transformed = options.transformNginxConfig(nginxConf);
    if (transformed === nginxConf) throw new Error("startChain: transformNginxConfig changed nothing");
    nginxConf = transformed;
  }
  write(sidecarDir, "nginx.conf", nginxConf);

  const caddyState = path.join(dir, "caddy-state");
  nginxTest(nginxConfPath, sidecarRunDir, paths.sidecarErrorLog);
  caddyValidate(caddyfilePath, caddyState);

  // Ready signals of their own: nginx writes its pid file after binding, caddy logs once serving.
  const nginx = startNginx(nginxConfPath, sidecarRunDir, paths.sidecarErrorLog, paths.sidecarAccessLog);
  try {
    await nginx.waitForPort(sidecar, nginxStarted(nginx, sidecarRunDir));
  } catch (err) {
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Only now: Caddy health-checks the sidecar at once, and in 2.6 one failed check keeps the
  // upstream out (503 "no upstreams available") until the next check, health_interval later.
  const caddy = startCaddy(caddyfilePath, caddyState);
  const chain: Chain = {
    dir,
    rendered,
    ports,
    paths,
    caddyfilePath,
    nginxConfPath,
    caddy,
    nginx,
    auditLog: () => readJsonLines(paths.sidecarAccessLog),
    logs: () => `${caddy.logs()}\n${nginx.logs()}`,
    stop: async () => {
      await Promise.all([caddy.stop(), nginx.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await caddy.waitForPort(edge, caddyStarted(caddy));
  } catch (err) {
    await chain.stop();
    throw err;
  }
  return chain;
}

function readJsonLines(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls until `find` returns a value (bounded tries), e.g. for a log line written just after the response. */
export async function eventually<T>(find: () => T | undefined, what: string, tries = 40, intervalMs = 25): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(intervalMs);
  }
  throw new Error(`gave up waiting for ${what} after ${tries} tries`);
}

// ---------------------------------------------------------------------------------------------
// HTTPS client
// ---------------------------------------------------------------------------------------------

export interface ClientRequest {
  readonly port: number;
  readonly path: string;
  /** @default "GET" */
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Send the body with chunked transfer encoding (no Content-Length). @default false */
  readonly chunked?: boolean;
  /** Client certificate to present. @default none */
  readonly clientCert?: CertificateFiles;
  /** CA to verify the server against. */
  readonly ca: string;
  /** SNI and the name the server certificate must carry; also the Host header. */
  readonly servername: string;
  /** Speak HTTP/2 (the edge offers h1 and h2). @default false: HTTP/1.1 */
  readonly http2?: boolean;
}

export interface Exchange {
  readonly request: ClientRequest;
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What a response delivers, in order: `head`, `data`*, `end`; or `error` at any point. */
interface ResponseHandlers {
  head(status: number, headers: http.IncomingHttpHeaders): void;
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

function contentLength(r: ClientRequest): Record<string, number> {
  return r.body !== undefined && !r.chunked ? { "content-length": Buffer.byteLength(r.body) } : {};
}

/** HTTP/1.1 on a fresh connection (no pooled TLS session hides a handshake outcome). */
function dispatchHttp1(r: ClientRequest, h: ResponseHandlers): void {
  const req = https.request(
    {
      host: "127.0.0.1",
      port: r.port,
      path: r.path,
      method: r.method ?? "GET",
      headers: { Host: r.servername, ...(r.headers ?? {}), ...contentLength(r) },
      ca: r.ca,
      servername: r.servername,
      cert: r.clientCert?.certPem,
      key: r.clientCert?.keyPem,
      agent: false,
    },
    (res) => {
      h.head(res.statusCode ?? 0, res.headers);
      res.on("data", (c: Buffer) => h.data(c));
      res.on("end", () => h.end());
      res.on("error", (err) => h.error(err));
    },
  );
  req.on("error", (err) => h.error(err));
  req.end(r.body);
}

/** HTTP/2 (ALPN h2) on its own session, closed when the response ends. */
function dispatchHttp2(r: ClientRequest, h: ResponseHandlers): void {
  const session = http2.connect(`https://127.0.0.1:${r.port}`, {
    ca: r.ca,
    servername: r.servername,
    cert: r.clientCert?.certPem,
    key: r.clientCert?.keyPem,
  });
  session.on("error", (err) => h.error(err));
  const lowercased = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const stream = session.request({
    ":method": r.method ?? "GET",
    ":path": r.path,
    ":authority": r.servername,
    ...lowercased,
    ...contentLength(r),
  });
  stream.on("response", (headers) => {
    const { ":status": status, ...rest } = headers;
    h.head(Number(status), rest as http.IncomingHttpHeaders);
  });
  stream.on("data", (c: Buffer) => h.data(c));
  stream.on("end", () => {
    session.close();
    h.end();
  });
  stream.on("error", (err) => {
    session.destroy();
    h.error(err);
  });
  stream.end(r.body);
}

function dispatch(r: ClientRequest, h: ResponseHandlers): void {
  (r.http2 ? dispatchHttp2 : dispatchHttp1)(r, h);
}

/** One HTTPS request; rejects on TLS or connection errors (e.g. a refused client certificate). */
export function send(r: ClientRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    dispatch(r, {
      head: (s, hs) => ((status = s), (headers = hs)),
      data: (c) => chunks.push(c),
      end: () => resolve({ request: r, status, headers, body: Buffer.concat(chunks).toString() }),
      error: reject,
    });
  });
}

export interface StreamingExchange {
  /** Resolves with the first `data:` event when it reaches the client. */
  readonly firstEvent: Promise<string>;
  /** Resolves when the whole response has arrived. */
  readonly done: Promise<Exchange>;
}

/** Sends a request whose response is an SSE stream; tells when the first `data:` event arrives. */
export function sendStreaming(r: ClientRequest): StreamingExchange {
  let resolveFirst!: (e: string) => void;
  let rejectFirst!: (e: Error) => void;
  const firstEvent = new Promise<string>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const done = new Promise<Exchange>((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let body = "";
    dispatch(r, {
      head: (s, hs) => ((status = s), (headers = hs)),
      data: (c) => {
        body += c.toString();
        // A complete event: "data: ...\n\n" at the start of the body or after a blank line.
        const event = /(?:^|\n\n)(data:[^\n]*)\n\n/.exec(body);
        if (event) resolveFirst(event[1]);
      },
      end: () => {
        rejectFirst(new Error(`stream ended without a data event: status ${status}, body ${JSON.stringify(body)}`));
        resolve({ request: r, status, headers, body });
      },
      error: (err) => {
        rejectFirst(err);
        reject(err);
      },
    });
  });
  // Whoever awaits only one of them must not see an unhandled rejection from the other.
  firstEvent.catch(() => undefined);
  done.catch(() => undefined);
  return { firstEvent, done };
}

/** Resolves with the value, or with `undefined` after `ms` (a bound for negative controls, not a timing assertion). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Failure messages
// ---------------------------------------------------------------------------------------------

function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

/** What was sent and what came back, for assertion messages. */
export function formatExchange(ex: Exchange): string {
  const r = ex.request;
  const sentBody =
    r.body === undefined
      ? ""
      : `\n  body (${r.body.length} bytes${r.chunked ? ", chunked" : ""}): ${clip(r.body.toString(), 300)}`;
  return [
    `sent: ${r.method ?? "GET"} https://${r.servername}:${r.port}${r.path}${r.http2 ? " (HTTP/2)" : ""}`,
    `  client cert: ${r.clientCert ? path.basename(r.clientCert.certPath) : "none"}`,
    `  headers: ${JSON.stringify(r.headers ?? {})}${sentBody}`,
    `received: ${ex.status}`,
    `  headers: ${JSON.stringify(ex.headers)}`,
    `  body: ${clip(ex.body)}`,
  ].join("\n");
}

/** Throws with the exchange (and optional context, e.g. process logs) unless `condition` holds. */
export function check(condition: boolean, expectation: string, ex?: Exchange, context?: () => string): void {
  if (condition) return;
  const parts = [`expected ${expectation}`];
  if (ex) parts.push(formatExchange(ex));
  if (context) parts.push(context());
  throw new Error(parts.join("\n"));
}

/** A request to the chain's edge as the operator (valid client certificate), tagged with a case id. */
export function edgeRequest(chain: Chain, pki: TestPki, id: string, r: Partial<ClientRequest> = {}): ClientRequest {
  return {
    port: chain.ports.edge,
    ca: pki.ca.certPem,
    servername: chain.rendered.pkiNames.domain,
    path: "/v1/models",
    clientCert: pki.operator,
    ...r,
    headers: { "X-E2E-Case": id, ...(r.headers ?? {}) },
  };
}

/** A request straight to the chain's sidecar as the edge dials it (the edge's client certificate by default). */
export function sidecarRequest(chain: Chain, pki: TestPki, id: string, r: Partial<ClientRequest> = {}): ClientRequest {
  return {
    port: chain.ports.sidecar,
    ca: pki.ca.certPem,
    servername: SIDECAR_SERVER_NAME,
    path: "/v1/models",
    clientCert: pki.edgeClient,
    ...r,
    headers: { "X-E2E-Case": id, ...(r.headers ?? {}) },
  };
}

/** A unique id for one test's requests (sent as `x-e2e-case`, recorded by the mock). */
export function caseId(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}
