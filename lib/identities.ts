/**
 * Names that tie certificates to configs: the subjects the CA issues to services, the
 * names upstream certificates carry, and the in-container paths. The constructs issue
 * certificates from these and the renderers match on them, so they cannot disagree.
 */

/** Organization on every certificate the library issues. */
export const CERT_ORGANIZATION = "cdktf-zero-trust-ai";
/** OU of service identities: only the library issues these, never an operator. */
export const SERVICE_OU = "zta-services";
/** OU of operator (human/device) client certificates. */
export const OPERATOR_OU = "zta-operators";

/** Common names of the service identities. */
export const EDGE_CLIENT_CN = "zta-edge";
export const METRICS_SCRAPER_CN = "zta-metrics-scraper";
/** The chat UI's client identity toward the inference sidecars. */
export const CHAT_CLIENT_CN = "zta-chat";

/** Every sidecar certificate carries this SAN, so the edge verifies one name for all replicas. */
export const SIDECAR_SERVER_NAME = "sidecar.zta.internal";
/** The gate's certificate carries this SAN. */
export const GATE_SERVER_NAME = "gate.zta.internal";
/** The chat UI's proxy certificate carries this SAN (the edge and cloudflared verify it). */
export const CHAT_SERVER_NAME = "chat.zta.internal";

/** Where configs and certificates are mounted (read-only) in every container. */
export const CONFIG_DIR = "/etc/zta";

/** The subject of a service certificate as nginx prints `$ssl_client_s_dn` (RFC 2253: reverse order). */
export function serviceSubjectDn(commonName: string): string {
  return `CN=${commonName},OU=${SERVICE_OU},O=${CERT_ORGANIZATION}`;
}

/** Names an operator may not take: they would collide with service identities. */
export const RESERVED_COMMON_NAMES = [EDGE_CLIENT_CN, METRICS_SCRAPER_CN, CHAT_CLIENT_CN, "zta-grafana"];

/** Prometheus' own server certificate carries this SAN (Grafana and its healthcheck verify it). */
export const PROMETHEUS_SERVER_NAME = "prometheus.zta.internal";
/** Grafana's server certificate carries this SAN (the edge verifies it). */
export const GRAFANA_SERVER_NAME = "grafana.zta.internal";
/** Grafana's client identity toward Prometheus' API. */
export const GRAFANA_CLIENT_CN = "zta-grafana";
