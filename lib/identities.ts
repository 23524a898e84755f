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

/**
 * The certificate files HardenedService puts in a service's config volume, by name; the renderers
 * read them under CONFIG_DIR and the e2e suite writes its own certificates under these names.
 */
export const TLS_FILES = {
  caCert: "ca.crt",
  serverCert: "server.crt",
  serverKey: "server.key",
  clientCert: "client.crt",
  clientKey: "client.key",
} as const;

/** The subject of a service certificate as nginx prints `$ssl_client_s_dn` (RFC 2253: reverse order). */
export function serviceSubjectDn(commonName: string): string {
  return `CN=${commonName},OU=${SERVICE_OU},O=${CERT_ORGANIZATION}`;
}

/** Prometheus' own server certificate carries this SAN (Grafana and its healthcheck verify it). */
export const PROMETHEUS_SERVER_NAME = "prometheus.zta.internal";
/** Grafana's server certificate carries this SAN (the edge verifies it). */
export const GRAFANA_SERVER_NAME = "grafana.zta.internal";
/** Grafana's client identity toward Prometheus' API. */
export const GRAFANA_CLIENT_CN = "zta-grafana";

/**
 * A service's client identity as a value: the certificate subject the CA issues (CN, OU) and the DN
 * the renderers match. One definition used by the constructs that issue the certificate, the sidecars
 * and proxies that admit it, the labels and the policy rules.
 */
export interface ServiceIdentity {
  /** Short name of the caller in logs and the sidecars' caller maps, e.g. "edge". */
  readonly name: string;
  /** Common name, e.g. "zta-edge". */
  readonly commonName: string;
  /** Organizational unit: SERVICE_OU for the library's services, OPERATOR_OU for people and devices. */
  readonly organizationalUnit: string;
  /** The subject as nginx prints `$ssl_client_s_dn` (RFC 2253 order). */
  readonly subjectDn: string;
}

/** The identity of a library service with the given common name. */
export function serviceIdentity(name: string, commonName = `zta-${name}`): ServiceIdentity {
  return { name, commonName, organizationalUnit: SERVICE_OU, subjectDn: serviceSubjectDn(commonName) };
}

/** The client identities the library's services present; `ServiceIdentities.custom` for your own. */
export class ServiceIdentities {
  /** The Caddy edge toward sidecars, the chat proxy and Grafana's proxy. */
  public static readonly EDGE: ServiceIdentity = serviceIdentity("edge", EDGE_CLIENT_CN);
  /** The chat UI's proxy toward the inference sidecars. */
  public static readonly CHAT: ServiceIdentity = serviceIdentity("chat", CHAT_CLIENT_CN);
  /** The Prometheus scraper: the only identity a sidecar answers /metrics to. */
  public static readonly METRICS_SCRAPER: ServiceIdentity = serviceIdentity("metrics", METRICS_SCRAPER_CN);
  /** Grafana toward Prometheus' API. */
  public static readonly GRAFANA: ServiceIdentity = serviceIdentity("grafana", GRAFANA_CLIENT_CN);
  /** A service identity of your own: CN "zta-<name>" (a lowercase name; operators cannot take "zta-" names). */
  public static custom(name: string): ServiceIdentity {
    return serviceIdentity(name);
  }
}

/** The label every library container carries with its ServiceRole; the policy rules read it. */
export const ROLE_LABEL = "zta.role";
/** The label with the hash of a service's config volume (ConfigVolume): a change replaces the service. */
export const CONFIG_HASH_LABEL = "zta.config-sha256";
/** The label with the model's pinned commit (vLLM and the model fetch); ZTA-AI-004 reads it. */
export const MODEL_REVISION_LABEL = "zta.model-revision";

/** The values of the ROLE_LABEL label: what each container is. The policy rules recognize services by them. */
export const ServiceRole = {
  INFERENCE: "inference",
  MODEL_FETCH: "model-fetch",
  SIDECAR: "mtls-sidecar",
  EDGE: "edge",
  GATE: "oidc-gate",
  CHAT_UI: "chat-ui",
  CHAT_PROXY: "chat-proxy",
  CHAT_AUDIT_RELAY: "chat-audit-relay",
  TAILSCALE: "tailscale",
  CLOUDFLARED: "cloudflared",
  SANDBOX: "sandbox",
  CONFIG_LOADER: "config-loader",
  PROMETHEUS: "prometheus",
  GRAFANA: "grafana",
  GRAFANA_PROXY: "grafana-proxy",
  BACKUP: "backup",
} as const;
export type ServiceRoleName = (typeof ServiceRole)[keyof typeof ServiceRole];
