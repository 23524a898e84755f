/**
 * Renders Prometheus' files: prometheus.yml (what to scrape and how), the `--web.config.file`
 * (who may use its HTTP API) and the HTTP client config its healthcheck uses. Pure functions of
 * their options: the Observability construct and the e2e suite call them the same way.
 *
 * Written for what both Debian's Prometheus 2.42 (which the tests run) and the pinned 3.x image
 * accept (test/e2e/observability.e2e.test.ts runs promtool and a real scrape against 2.42).
 *
 * What the files guarantee:
 * - Every sidecar is scraped over TLS with the metrics-scraper client certificate, its server
 *   certificate verified against the internal CA and the sidecars' shared name. The sidecar
 *   answers /metrics to that identity alone (404 to any other).
 * - The edge (job "edge", when given) is scraped the same way on its metrics listener: TLS with the
 *   scraper certificate, its certificate verified against the internal CA and the edge's Docker name.
 *   The edge answers /metrics there to that identity alone (403 to any other, see lib/caddyfile.ts).
 * - Prometheus' own API and UI need BOTH a client certificate issued by the internal CA and a
 *   basic-auth password (bcrypt-hashed in the web config). Why both: the web config of 2.42 cannot
 *   restrict which certificate subject may connect (`client_allowed_sans` does not exist there,
 *   and our client certificates carry no SANs), so the certificate alone would admit every client
 *   identity of the CA, operators' laptops included; the password names the one client that may
 *   (Grafana). The certificate keeps the password off the wire for anyone without a CA-issued key.
 */
import { TLS_FILES } from "./identities";
import { toYaml } from "./yaml";

/** The files Prometheus reads from its config volume, by name. */
export const PROMETHEUS_FILES = {
  config: "prometheus.yml",
  webConfig: "web-config.yml",
  rules: "alert-rules.yml",
  /** promtool's HTTP client config for the healthcheck (and the self-scrape credentials). */
  healthcheckHttpConfig: "healthcheck-http.yml",
  /** The self-scrape / healthcheck user's password, plain text (the web config holds its bcrypt hash). */
  selfPassword: "self-password",
  // The certificates HardenedService uploads (and the scraper's, which Observability adds).
  ...TLS_FILES,
} as const;

/** User names of the web config's basic auth. */
export const PROMETHEUS_GRAFANA_USER = "grafana";
export const PROMETHEUS_SELF_USER = "prometheus-self";

export interface PrometheusConfigOptions {
  /** Directory holding the files of PROMETHEUS_FILES. */
  readonly configDir: string;
  readonly scrapeIntervalSeconds: number;
  /** `host:port` of every sidecar (one per vLLM replica). */
  readonly sidecarTargets: string[];
  /** The SAN every sidecar certificate carries. */
  readonly sidecarServerName: string;
  /** `host:port` Prometheus scrapes itself on (its own listener, loopback). */
  readonly selfTarget: string;
  /** The SAN of Prometheus' own server certificate. */
  readonly selfServerName: string;
  /** The edge's metrics listener (EdgeProxy.allowMetricsScraper). @default none: no "edge" job */
  readonly edge?: { readonly address: string; readonly serverName: string };
}

function tlsClient(configDir: string, serverName: string): Record<string, string | boolean> {
  return {
    ca_file: `${configDir}/${PROMETHEUS_FILES.caCert}`,
    cert_file: `${configDir}/${PROMETHEUS_FILES.clientCert}`,
    key_file: `${configDir}/${PROMETHEUS_FILES.clientKey}`,
    server_name: serverName,
    // insecure_skip_verify stays false (its default); written so a reader sees it was decided.
    insecure_skip_verify: false,
  };
}

export function renderPrometheusConfig(o: PrometheusConfigOptions): string {
  const interval = `${o.scrapeIntervalSeconds}s`;
  const timeout = `${Math.max(1, Math.min(10, o.scrapeIntervalSeconds - 1))}s`;
  return toYaml(
    {
      global: { scrape_interval: interval, scrape_timeout: timeout, evaluation_interval: interval },
      rule_files: [`${o.configDir}/${PROMETHEUS_FILES.rules}`],
      scrape_configs: [
        {
          // vLLM's /metrics, through each replica's mTLS sidecar, as the metrics-scraper identity.
          job_name: "vllm",
          scheme: "https",
          metrics_path: "/metrics",
          tls_config: tlsClient(o.configDir, o.sidecarServerName),
          static_configs: [{ targets: o.sidecarTargets }],
        },
        {
          // Prometheus itself (rule evaluation, TSDB size), through its own authenticated listener.
          job_name: "prometheus",
          scheme: "https",
          metrics_path: "/metrics",
          tls_config: tlsClient(o.configDir, o.selfServerName),
          basic_auth: {
            username: PROMETHEUS_SELF_USER,
            password_file: `${o.configDir}/${PROMETHEUS_FILES.selfPassword}`,
          },
          static_configs: [{ targets: [o.selfTarget] }],
        },
        ...(o.edge
          ? [
              {
                // Caddy's HTTP metrics (401/403/429 by code) from the edge's metrics listener, as the scraper identity.
                job_name: "edge",
                scheme: "https",
                metrics_path: "/metrics",
                tls_config: tlsClient(o.configDir, o.edge.serverName),
                static_configs: [{ targets: [o.edge.address] }],
              },
            ]
          : []),
      ],
    },
    ["Rendered by cdktf-zero-trust-ai (Observability). Do not edit: change the construct's props."],
  );
}

export interface PrometheusWebConfigOptions {
  readonly configDir: string;
  /** bcrypt hash of Grafana's password (random_password.bcrypt_hash). */
  readonly grafanaPasswordBcrypt: string;
  /** bcrypt hash of the self-scrape / healthcheck password. */
  readonly selfPasswordBcrypt: string;
}

/** The `--web.config.file`: TLS with a required client certificate from the CA, plus basic auth. */
export function renderPrometheusWebConfig(o: PrometheusWebConfigOptions): string {
  return toYaml(
    {
      tls_server_config: {
        cert_file: `${o.configDir}/${PROMETHEUS_FILES.serverCert}`,
        key_file: `${o.configDir}/${PROMETHEUS_FILES.serverKey}`,
        client_auth_type: "RequireAndVerifyClientCert",
        client_ca_file: `${o.configDir}/${PROMETHEUS_FILES.caCert}`,
        min_version: "TLS12",
      },
      basic_auth_users: {
        [PROMETHEUS_GRAFANA_USER]: o.grafanaPasswordBcrypt,
        [PROMETHEUS_SELF_USER]: o.selfPasswordBcrypt,
      },
    },
    ["Rendered by cdktf-zero-trust-ai (Observability): who may use Prometheus' HTTP API."],
  );
}

/** promtool's `--http.config.file` for `promtool check healthy` inside the container. */
export function renderPrometheusHealthcheckHttpConfig(configDir: string, selfServerName: string): string {
  return toYaml({
    basic_auth: { username: PROMETHEUS_SELF_USER, password_file: `${configDir}/${PROMETHEUS_FILES.selfPassword}` },
    tls_config: tlsClient(configDir, selfServerName),
  });
}
