/**
 * The chain: the SecureInference request path assembled from real binaries on loopback, with
 * the configs the constructs render and the files they upload.
 *
 *   client --TLS+client cert--> caddy --forward_auth--> stub gate
 *                                 '--mTLS--> nginx --loopback HTTP--> mock vLLM
 *
 * `startChain` renders, localizes, validates (`caddy validate`, `nginx -t`), starts nginx and then
 * caddy and waits until both serve. Used by the e2e tests and the benchmarks.
 */
import * as fs from "fs";
import * as path from "path";
import { renderUpstreamAuthInclude } from "../../lib/nginx";
import { CertificateFiles, TestPki } from "./pki";
import {
  ManagedProcess,
  caddyStarted,
  caddyValidate,
  freePorts,
  makeTempDir,
  nginxStarted,
  nginxTest,
  readJsonLines,
  startCaddy,
  startNginx,
} from "./processes";
import {
  ChainProps,
  LocalPaths,
  LoopbackPorts,
  RenderedChain,
  localizeCaddyfile,
  localizeNginxConfig,
  renderChain,
} from "./render";

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
