/**
 * Real-binary helpers for the observability tests: Debian's Prometheus 2.42 and promtool, bcrypt
 * hashes from `caddy hash-password` (the same bcrypt Prometheus' web config verifies), and the files
 * the Observability construct uploads, materialized with openssl certificates. Loopback only; a
 * missing binary is an error, never a skip.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { GRAFANA_CLIENT_CN, PROMETHEUS_SERVER_NAME, SERVICE_OU, CERT_ORGANIZATION } from "../../lib/identities";
import {
  PROMETHEUS_FILES,
  PROMETHEUS_GRAFANA_USER,
  renderPrometheusConfig,
  renderPrometheusHealthcheckHttpConfig,
  renderPrometheusWebConfig,
} from "../../lib/prometheus";
import { send, Exchange } from "../support/client";
import { CertificateFiles, TestPki, issueWithOpenssl } from "../support/pki";
import { ManagedProcess, freePorts, requireBinary } from "../support/processes";

export interface CommandResult {
  readonly status: number | null;
  readonly output: string;
}

export function run(binary: string, args: string[], cwd?: string): CommandResult {
  const result = spawnSync(requireBinary(binary), args, { encoding: "utf8", cwd });
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** promtool with the given arguments; throws with its output unless it exits 0. */
export function promtool(args: string[], cwd?: string): string {
  const r = run("promtool", args, cwd);
  if (r.status !== 0) throw new Error(`promtool ${args.join(" ")} failed (exit ${r.status}):\n${r.output}`);
  return r.output;
}

const hashes = new Map<string, string>();

/** A bcrypt hash of `password` ($2a$, as random_password.bcrypt_hash produces); one per password (caddy's cost is 14: slow). */
export function bcryptHash(password: string): string {
  const known = hashes.get(password);
  if (known) return known;
  const r = run("caddy", ["hash-password", "--plaintext", password]);
  const hash = r.output.trim();
  if (r.status !== 0 || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash))
    throw new Error(`caddy hash-password failed:\n${r.output}`);
  hashes.set(password, hash);
  return hash;
}

/** The certificates the observability services add to the chain's PKI. */
export interface ObservabilityPki {
  /** Prometheus' server certificate (SAN prometheus.zta.internal). */
  readonly prometheusServer: CertificateFiles;
  /** Grafana's client identity toward Prometheus. */
  readonly grafanaClient: CertificateFiles;
}

export function createObservabilityPki(pki: TestPki): ObservabilityPki {
  const service = (cn: string): [string, string][] => [
    ["O", CERT_ORGANIZATION],
    ["OU", SERVICE_OU],
    ["CN", cn],
  ];
  return {
    prometheusServer: issueWithOpenssl(
      pki.dir,
      "prometheus-server",
      "server",
      service("prometheus"),
      [PROMETHEUS_SERVER_NAME, "prometheus"],
      pki.ca,
    ),
    grafanaClient: issueWithOpenssl(pki.dir, "grafana-client", "client", service(GRAFANA_CLIENT_CN), [], pki.ca),
  };
}

export interface PrometheusFilesOptions {
  readonly dir: string;
  readonly pki: TestPki;
  readonly obsPki: ObservabilityPki;
  /** The identity Prometheus scrapes with. @default pki.metricsScraper */
  readonly scrapeIdentity?: CertificateFiles;
  readonly sidecarTargets: string[];
  readonly selfTarget: string;
  readonly scrapeIntervalSeconds: number;
  readonly grafanaPassword: string;
  readonly selfPassword: string;
  readonly rules: string;
  /** The edge's metrics listener to scrape (job "edge"). @default none */
  readonly edge?: { readonly address: string; readonly serverName: string };
}

/** Writes every file of Prometheus' config volume under `dir`, as the construct names them. */
export function writePrometheusFiles(o: PrometheusFilesOptions): void {
  fs.mkdirSync(o.dir, { recursive: true });
  const scrapeAs = o.scrapeIdentity ?? o.pki.metricsScraper;
  const files: Record<string, string> = {
    [PROMETHEUS_FILES.config]: renderPrometheusConfig({
      configDir: o.dir,
      scrapeIntervalSeconds: o.scrapeIntervalSeconds,
      sidecarTargets: o.sidecarTargets,
      sidecarServerName: "sidecar.zta.internal",
      selfTarget: o.selfTarget,
      selfServerName: PROMETHEUS_SERVER_NAME,
      edge: o.edge,
    }),
    [PROMETHEUS_FILES.webConfig]: renderPrometheusWebConfig({
      configDir: o.dir,
      grafanaPasswordBcrypt: bcryptHash(o.grafanaPassword),
      selfPasswordBcrypt: bcryptHash(o.selfPassword),
    }),
    [PROMETHEUS_FILES.healthcheckHttpConfig]: renderPrometheusHealthcheckHttpConfig(o.dir, PROMETHEUS_SERVER_NAME),
    [PROMETHEUS_FILES.rules]: o.rules,
    [PROMETHEUS_FILES.selfPassword]: o.selfPassword,
    [PROMETHEUS_FILES.caCert]: o.pki.ca.certPem,
    [PROMETHEUS_FILES.serverCert]: o.obsPki.prometheusServer.certPem,
    [PROMETHEUS_FILES.serverKey]: o.obsPki.prometheusServer.keyPem,
    [PROMETHEUS_FILES.clientCert]: scrapeAs.certPem,
    [PROMETHEUS_FILES.clientKey]: scrapeAs.keyPem,
  };
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(o.dir, name), content);
}

export interface RunningPrometheus {
  readonly port: number;
  readonly process: ManagedProcess;
  /** GET on Prometheus' API with the given credentials. */
  api(
    pathAndQuery: string,
    credentials: { clientCert?: CertificateFiles; user?: string; password?: string },
  ): Promise<Exchange>;
  stop(): Promise<void>;
}

/** Starts Prometheus on 127.0.0.1 with the files of `dir` (as the container's command line does). */
export async function startPrometheus(dir: string, port?: number): Promise<RunningPrometheus> {
  const listenPort = port ?? (await freePorts(1))[0];
  const proc = new ManagedProcess("prometheus", requireBinary("prometheus"), [
    `--config.file=${path.join(dir, PROMETHEUS_FILES.config)}`,
    `--web.config.file=${path.join(dir, PROMETHEUS_FILES.webConfig)}`,
    `--web.listen-address=127.0.0.1:${listenPort}`,
    `--storage.tsdb.path=${path.join(dir, "data")}`,
    "--storage.tsdb.retention.time=1d",
    "--storage.tsdb.retention.size=64MB",
  ]);
  const ca = fs.readFileSync(path.join(dir, PROMETHEUS_FILES.caCert), "utf8");
  await proc.waitForPort(listenPort, () => proc.output.includes("Server is ready to receive web requests."), 200, 50);
  return {
    port: listenPort,
    process: proc,
    api: (pathAndQuery, c) =>
      send({
        port: listenPort,
        path: pathAndQuery,
        ca,
        servername: PROMETHEUS_SERVER_NAME,
        clientCert: c.clientCert,
        headers:
          c.user === undefined
            ? {}
            : { Authorization: `Basic ${Buffer.from(`${c.user}:${c.password ?? ""}`).toString("base64")}` },
      }),
    stop: () => proc.stop(),
  };
}

/** Grafana's credentials toward Prometheus. */
export function grafanaCredentials(
  obsPki: ObservabilityPki,
  password: string,
): { clientCert: CertificateFiles; user: string; password: string } {
  return { clientCert: obsPki.grafanaClient, user: PROMETHEUS_GRAFANA_USER, password };
}
