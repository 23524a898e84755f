/**
 * The chain: the SecureInference request path assembled from real binaries on loopback, with
 * the configs the constructs render and the files they upload.
 *
 *   client --TLS+client cert--> caddy --forward_auth--> stub gate
 *                                 '--mTLS--> nginx --loopback HTTP--> mock vLLM
 *
 * `startChain` renders, localizes, validates (`caddy validate`, `nginx -t`), starts nginx and then
 * caddy and waits until both serve. Its parts serve tests that assemble chains of their own
 * (ChatUi's, Grafana's): `startSidecar`, `startEdge` (with further sites) and `writeConfigVolume`,
 * which writes a service's directory under exactly the file names its construct uploads.
 * Used by the e2e tests and the benchmarks.
 */
import * as fs from "fs";
import * as path from "path";
import { EDGE_METRICS_FILES } from "../../lib/caddyfile";
import { TLS_FILES } from "../../lib/identities";
import { renderUpstreamAuthInclude } from "../../lib/nginx";
import { CertificateFiles, TestPki, issueWithOpenssl, serviceSubject } from "./pki";
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
  EdgeSite,
  LocalPaths,
  LoopbackPorts,
  RenderedChain,
  hasMetricsListener,
  localizeCaddyfile,
  localizeNginxConfig,
  renderChain,
} from "./render";

// The configs' names in their volumes: writeConfigVolume checks them against the constructs' uploads.
const EDGE_CONFIG_FILE = "Caddyfile";
const SIDECAR_CONFIG_FILE = "nginx.conf";
const SIDECAR_UPSTREAM_AUTH_FILE = "upstream-auth.conf";

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

/**
 * Writes a service's config volume into `dir`: exactly the files the construct uploads, each from
 * `files` (by name). Throws when the two lists differ, so a file the construct adds, drops or
 * renames fails here instead of leaving the local directory unlike the container's.
 */
export function writeConfigVolume(dir: string, uploaded: readonly string[], files: Record<string, string>): void {
  const missing = uploaded.filter((name) => !(name in files));
  const extra = Object.keys(files).filter((name) => !uploaded.includes(name));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `writeConfigVolume(${dir}): the construct uploads [${uploaded.join(", ")}]; ` +
        `no local content for [${missing.join(", ")}], content for files it does not upload [${extra.join(", ")}]`,
    );
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const name of uploaded) fs.writeFileSync(path.join(dir, name), files[name]);
}

/** The certificate files of a config volume: the CA, and a server and/or client identity. */
export function tlsFiles(
  ca: CertificateFiles,
  identity: { server?: CertificateFiles; client?: CertificateFiles },
): Record<string, string> {
  return {
    [TLS_FILES.caCert]: ca.certPem,
    ...(identity.server
      ? { [TLS_FILES.serverCert]: identity.server.certPem, [TLS_FILES.serverKey]: identity.server.keyPem }
      : {}),
    ...(identity.client
      ? { [TLS_FILES.clientCert]: identity.client.certPem, [TLS_FILES.clientKey]: identity.client.keyPem }
      : {}),
  };
}

export interface SidecarOptions {
  readonly rendered: RenderedChain;
  readonly pki: TestPki;
  /** The loopback port of vLLM (the mock). */
  readonly vllmPort: number;
  /** The vLLM API key the sidecar injects (its upstream-auth include). */
  readonly apiKey: string;
  /** The certificate the sidecar serves. @default pki.sidecarServer */
  readonly serverCert?: CertificateFiles;
  /** Changes the localized nginx.conf before it is written (negative controls). Must change something. */
  readonly transformNginxConfig?: (conf: string) => string;
}

export interface RunningSidecar {
  readonly process: ManagedProcess;
  readonly port: number;
  readonly healthPort: number;
  readonly confPath: string;
  readonly paths: Pick<LocalPaths, "sidecarDir" | "sidecarRunDir" | "sidecarAccessLog" | "sidecarErrorLog">;
  /** The sidecar's JSON access log lines, parsed. */
  auditLog(): Array<Record<string, unknown>>;
}

/**
 * The sidecar's nginx with the rendered config under `base`/`name` (its config volume) and
 * `base`/`name`-run (pid file, temp dirs, logs): validated with `nginx -t`, started, and waited
 * for until it has written its pid file (after binding) and its port accepts connections.
 */
export async function startSidecar(base: string, name: string, o: SidecarOptions): Promise<RunningSidecar> {
  const [port, healthPort] = await freePorts(2);
  const paths = {
    sidecarDir: path.join(base, name),
    sidecarRunDir: path.join(base, `${name}-run`),
    sidecarAccessLog: path.join(base, `${name}-access.log`),
    sidecarErrorLog: path.join(base, `${name}-error.log`),
  };
  fs.mkdirSync(paths.sidecarRunDir, { recursive: true, mode: 0o755 });
  let conf = localizeNginxConfig(o.rendered, { sidecar: port, sidecarHealth: healthPort, vllm: o.vllmPort }, paths);
  if (o.transformNginxConfig) {
    const transformed = o.transformNginxConfig(conf);
    if (transformed === conf) throw new Error("startSidecar: transformNginxConfig changed nothing");
    conf = transformed;
  }
  writeConfigVolume(paths.sidecarDir, o.rendered.sidecarFiles, {
    [SIDECAR_CONFIG_FILE]: conf,
    [SIDECAR_UPSTREAM_AUTH_FILE]: renderUpstreamAuthInclude(o.apiKey),
    ...tlsFiles(o.pki.ca, { server: o.serverCert ?? o.pki.sidecarServer }),
  });
  const confPath = path.join(paths.sidecarDir, SIDECAR_CONFIG_FILE);
  nginxTest(confPath, paths.sidecarRunDir, paths.sidecarErrorLog);
  // Ready signals of their own: nginx writes its pid file after binding.
  const nginx = startNginx(confPath, paths.sidecarRunDir, paths.sidecarErrorLog, paths.sidecarAccessLog);
  try {
    await nginx.waitForPort(port, nginxStarted(nginx, paths.sidecarRunDir));
  } catch (err) {
    await nginx.stop();
    throw err;
  }
  return { process: nginx, port, healthPort, confPath, paths, auditLog: () => readJsonLines(paths.sidecarAccessLog) };
}

export interface EdgeOptions {
  readonly rendered: RenderedChain;
  readonly pki: TestPki;
  /** The loopback port of the sidecar the API site proxies to. */
  readonly sidecarPort: number;
  /** The loopback port of the gate; required when the rendering has one. */
  readonly gatePort?: number;
  /** The certificate the edge serves (its hostnames). @default pki.edgeServer */
  readonly serverCert?: CertificateFiles;
  /** Sites besides the API's (ChatUi's, Grafana's), served on the same port. @default none */
  readonly sites?: readonly EdgeSite[];
  /** Changes the localized Caddyfile before it is written (negative controls). Must change something. */
  readonly transformCaddyfile?: (caddyfile: string) => string;
  /** The metrics listener's certificate, when the rendering has one. @default issued for the edge's Docker name */
  readonly metricsServerCert?: CertificateFiles;
}

export interface RunningEdge {
  readonly process: ManagedProcess;
  readonly port: number;
  readonly healthPort: number;
  /** The metrics listener's loopback port, when the rendering has one. */
  readonly metricsPort?: number;
  readonly caddyfilePath: string;
  readonly dir: string;
}

/**
 * Caddy with the rendered Caddyfile under `base`/`name` (its config volume) and
 * `base`/`name`-state (Caddy's XDG dirs): validated with `caddy validate`, started, and waited for
 * until it logs that it serves and its port accepts connections.
 */
export async function startEdge(base: string, name: string, o: EdgeOptions): Promise<RunningEdge> {
  const [port, healthPort, metricsPort] = await freePorts(3);
  const dir = path.join(base, name);
  const stateDir = path.join(base, `${name}-state`);
  const metrics = hasMetricsListener(o.rendered.caddyfile);
  let caddyfile = localizeCaddyfile(
    o.rendered,
    {
      edge: port,
      edgeHealth: healthPort,
      sidecar: o.sidecarPort,
      gate: o.gatePort,
      ...(metrics ? { edgeMetrics: metricsPort } : {}),
    },
    { edgeDir: dir },
    o.sites,
  );
  if (o.transformCaddyfile) {
    const transformed = o.transformCaddyfile(caddyfile);
    if (transformed === caddyfile) throw new Error("startEdge: transformCaddyfile changed nothing");
    caddyfile = transformed;
  }
  // The metrics listener's own certificate: the edge's Docker name, as EdgeProxy issues it.
  const metricsCert = metrics
    ? (o.metricsServerCert ??
      issueWithOpenssl(
        o.pki.dir,
        `${name}-metrics-server`,
        "server",
        serviceSubject(o.rendered.edgeName),
        [o.rendered.edgeName],
        o.pki.ca,
      ))
    : undefined;
  writeConfigVolume(dir, o.rendered.edgeFiles, {
    [EDGE_CONFIG_FILE]: caddyfile,
    ...tlsFiles(o.pki.ca, { server: o.serverCert ?? o.pki.edgeServer, client: o.pki.edgeClient }),
    ...(metricsCert
      ? { [EDGE_METRICS_FILES.serverCert]: metricsCert.certPem, [EDGE_METRICS_FILES.serverKey]: metricsCert.keyPem }
      : {}),
  });
  const caddyfilePath = path.join(dir, EDGE_CONFIG_FILE);
  caddyValidate(caddyfilePath, stateDir);
  const caddy = startCaddy(caddyfilePath, stateDir);
  try {
    await caddy.waitForPort(port, caddyStarted(caddy));
  } catch (err) {
    await caddy.stop();
    throw err;
  }
  return { process: caddy, port, healthPort, caddyfilePath, dir, ...(metrics ? { metricsPort } : {}) };
}

async function launchChain(options: StartChainOptions, rendered: RenderedChain): Promise<Chain> {
  const dir = makeTempDir("zta-e2e-chain-");
  const { pki } = options;
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(dir, "sidecar", {
      rendered,
      pki,
      vllmPort: options.mock.port,
      apiKey: options.apiKey,
      serverCert: options.sidecarServerCert,
      transformNginxConfig: options.transformNginxConfig,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Only now: Caddy health-checks the sidecar at once, and in 2.6 one failed check keeps the
  // upstream out (503 "no upstreams available") until the next check, health_interval later.
  let edge: RunningEdge;
  try {
    edge = await startEdge(dir, "edge", {
      rendered,
      pki,
      sidecarPort: sidecar.port,
      gatePort: options.gate?.port,
      serverCert: options.edgeServerCert,
      transformCaddyfile: options.transformCaddyfile,
    });
  } catch (err) {
    await sidecar.process.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const caddy = edge.process;
  const nginx = sidecar.process;
  return {
    dir,
    rendered,
    ports: {
      edge: edge.port,
      edgeHealth: edge.healthPort,
      sidecar: sidecar.port,
      sidecarHealth: sidecar.healthPort,
      vllm: options.mock.port,
      gate: options.gate?.port,
    },
    paths: { edgeDir: edge.dir, ...sidecar.paths },
    caddyfilePath: edge.caddyfilePath,
    nginxConfPath: sidecar.confPath,
    caddy,
    nginx,
    auditLog: sidecar.auditLog,
    logs: () => `${caddy.logs()}\n${nginx.logs()}`,
    stop: async () => {
      await Promise.all([caddy.stop(), nginx.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
