/**
 * Renders the Caddyfile of the edge proxy. Pure function of its options: the EdgeProxy
 * construct and the e2e suite call it the same way.
 *
 * Written for the directive set both Caddy 2.6 (Debian's package, which the e2e suite runs)
 * and Caddy 2.10 (the pinned image) accept; multi-line blocks only (one-line blocks do not parse).
 *
 * What the config guarantees (each is exercised against a real Caddy in test/e2e):
 * - TLS 1.2+ with the edge's certificate; a client certificate from the internal CA is required
 *   and verified (unless a site is explicitly relaxed for browsers, which then needs the gate).
 * - Identity headers a client sends are deleted before anything else runs; only the gate's
 *   answer (or the verified client certificate) sets IDENTITY_HEADER (lib/headers.ts).
 * - `/oauth2/*` goes to the gate without `forward_auth` (the login callback would loop).
 * - API routes answer 401 without a session; browser sites redirect to sign-in.
 * - Upstream hops are TLS with the edge's own client certificate; no `encode` anywhere, and
 *   responses are flushed immediately, so token streams are not held back.
 * - Everything not routed is 404; access logs are JSON on stdout.
 * - With a metrics listener (EdgeProxy.allowMetricsScraper): per-server HTTP metrics are collected
 *   (`servers { metrics }`: Caddy 2.6 collects none without it, measured; 2.8+ accept it as a
 *   deprecated alias of the global `metrics` option, read in their source) and served on a port of
 *   their own, `/metrics` only, to one client certificate subject (403 to every other identity of
 *   the CA, no certificate no handshake, 404 for any other path).
 */
import { TLS_FILES } from "./identities";
import {
  CLIENT_CERT_HEADER,
  GATE_EMAIL_HEADER,
  GATE_IDENTITY_HEADERS,
  GATE_USER_HEADER,
  IDENTITY_HEADER,
  SPOOFABLE_IDENTITY_HEADERS,
  caddyHeaderPlaceholder,
} from "./headers";

export enum ClientCertMode {
  /** Every client must present a certificate issued by the internal CA (the default). */
  REQUIRE_AND_VERIFY = "require_and_verify",
  /** A certificate is verified when presented, but not required (browser-facing sites; needs OIDC). */
  VERIFY_IF_GIVEN = "verify_if_given",
}

/** One site block of the edge: a set of hostnames and what they route to. */
export interface EdgeSite {
  readonly hostnames: string[];
  /** Exact paths routed to the upstreams; anything else is 404. Empty means every path (a web app). */
  readonly paths: string[];
  /** `host:port` of each upstream (all TLS, all verified against `upstreamServerName`). */
  readonly upstreams: string[];
  /** Name the upstream certificates must carry (a SAN shared by every replica). */
  readonly upstreamServerName: string;
  /** Active health check path on the upstreams. @default none */
  readonly healthUri?: string;
  /** Browser app: unauthenticated requests are redirected to sign-in instead of answered 401. */
  readonly browser: boolean;
  readonly clientCertMode: ClientCertMode;
  /**
   * The verified client certificate alone authenticates, even when the edge has a gate: the site's
   * `Authorization` header belongs to its upstream (the API gateway's virtual keys). @default false
   */
  readonly certificateOnly?: boolean;
}

/** The certificate the metrics listener serves (issued for the edge's Docker name, the name Prometheus dials). */
export const EDGE_METRICS_FILES = {
  serverCert: "metrics-server.crt",
  serverKey: "metrics-server.key",
} as const;

/** The edge's metrics listener: Caddy's own HTTP metrics for one scraper identity. */
export interface EdgeMetricsListener {
  readonly port: number;
  /** The client certificate subject admitted, as Caddy prints `{http.request.tls.client.subject}`. */
  readonly scraperSubjectDn: string;
}

export interface EdgeCaddyOptions {
  /** Port the sites listen on inside the container. */
  readonly listenPort: number;
  /** Loopback-only plain HTTP port for the container healthcheck. */
  readonly healthPort: number;
  /** Directory holding ca.crt, server.crt, server.key, client.crt, client.key. */
  readonly configDir: string;
  /** The OIDC gate, if any: `host:port` (TLS) and the name its certificate carries. */
  readonly gate?: { readonly address: string; readonly serverName: string };
  readonly maxRequestBodyMb: number;
  readonly sites: EdgeSite[];
  /** A metrics listener for Prometheus. @default none (no metrics collected or served) */
  readonly metrics?: EdgeMetricsListener;
}

function indent(text: string, tabs: number): string {
  const pad = "\t".repeat(tabs);
  return text
    .split("\n")
    .map((line) => (line.length > 0 ? pad + line : line))
    .join("\n");
}

function tlsBlock(o: EdgeCaddyOptions, mode: ClientCertMode): string {
  return `tls ${o.configDir}/${TLS_FILES.serverCert} ${o.configDir}/${TLS_FILES.serverKey} {
	protocols tls1.2 tls1.3
	client_auth {
		mode ${mode}
		trusted_ca_cert_file ${o.configDir}/${TLS_FILES.caCert}
	}
}`;
}

/** TLS to an internal hop: verify its certificate against our CA and the given name. */
function upstreamTransport(o: EdgeCaddyOptions, serverName: string, presentClientCert: boolean): string {
  const clientCert = presentClientCert
    ? `\n\ttls_client_auth ${o.configDir}/${TLS_FILES.clientCert} ${o.configDir}/${TLS_FILES.clientKey}`
    : "";
  return `transport http {
	tls
	tls_trusted_ca_certs ${o.configDir}/${TLS_FILES.caCert}
	tls_server_name ${serverName}${clientCert}
	versions 1.1
	dial_timeout 5s
}`;
}

function gateRoutes(o: EdgeCaddyOptions): string {
  if (!o.gate) return "";
  return `
# Sign-in, callback and sign-out go to the gate itself, without forward_auth (it would loop).
handle /oauth2/* {
	reverse_proxy ${o.gate.address} {
${indent(upstreamTransport(o, o.gate.serverName, true), 2)}
	}
}
`;
}

/** Authentication and identity for one site, in order: ask the gate, then name the caller. */
function authSteps(o: EdgeCaddyOptions, site: EdgeSite): string {
  if (!o.gate || site.certificateOnly) {
    // No OIDC: the verified client certificate is the identity.
    return `request_header ${IDENTITY_HEADER} {http.request.tls.client.subject}
request_header ${CLIENT_CERT_HEADER} {http.request.tls.client.subject}`;
  }
  const browserRedirect = site.browser
    ? `
	# Browsers without a session are sent to sign in; API clients get the gate's 401.
	@unauthenticated status 401
	handle_response @unauthenticated {
		redir * /oauth2/start?rd={http.request.scheme}://{http.request.hostport}{http.request.uri} 302
	}`
    : "";
  return `forward_auth ${o.gate.address} {
	uri /oauth2/auth
	copy_headers ${GATE_IDENTITY_HEADERS.join(" ")}
${indent(upstreamTransport(o, o.gate.serverName, true), 1)}${browserRedirect}
}
request_header ${IDENTITY_HEADER} ${caddyHeaderPlaceholder(GATE_USER_HEADER)}
# A copied header the gate did not send: Caddy 2.6 sets it to the placeholder's literal text (run in
# test/e2e), later releases skip it (read in their source). Either way, take only an address.
@zta_has_email header ${GATE_EMAIL_HEADER} *@*
request_header @zta_has_email ${IDENTITY_HEADER} ${caddyHeaderPlaceholder(GATE_EMAIL_HEADER)}
request_header ${CLIENT_CERT_HEADER} {http.request.tls.client.subject}`;
}

function proxyToUpstreams(o: EdgeCaddyOptions, site: EdgeSite): string {
  const health = site.healthUri ? `\n\thealth_uri ${site.healthUri}\n\thealth_interval 5s\n\thealth_timeout 5s` : "";
  return `reverse_proxy ${site.upstreams.join(" ")} {
	lb_policy least_conn
	lb_try_duration 5s${health}
	# Write every chunk (every streamed token) to the client as soon as it arrives.
	flush_interval -1
${indent(upstreamTransport(o, site.upstreamServerName, true), 1)}
}`;
}

/** Every site's access log: JSON lines on stdout (the audit trail's edge.request / auth.refused records). */
const ACCESS_LOG = `log {
	output stdout
	format json
}`;

function renderSite(o: EdgeCaddyOptions, site: EdgeSite): string {
  const addresses = site.hostnames.map((h) => `https://${h}:${o.listenPort}`).join(", ");
  const stripHeaders = SPOOFABLE_IDENTITY_HEADERS.map((h) => `request_header -${h}`).join("\n");
  const matcher = site.paths.length > 0 ? `@zta_routed path ${site.paths.join(" ")}\nhandle @zta_routed {` : "handle {";
  const fallback = site.paths.length > 0 ? `\nhandle {\n\trespond 404\n}` : "";
  const body = `${tlsBlock(o, site.clientCertMode)}

${ACCESS_LOG}

header {
	-Server
	Strict-Transport-Security "max-age=31536000"
	X-Content-Type-Options nosniff
}

request_body {
	max_size ${o.maxRequestBodyMb}MB
}

# Identity headers are set by this edge alone: drop whatever the client sent, before anything else.
${stripHeaders}
${site.certificateOnly ? "" : gateRoutes(o)}
${matcher}
	route {
${indent(authSteps(o, site), 2)}
${indent(proxyToUpstreams(o, site), 2)}
	}
}${fallback}`;
  return `${addresses} {\n${indent(body, 1)}\n}\n`;
}

function serverOptions(listener: string, metrics: boolean, strictSni: string): string {
  const address = listener ? ` ${listener}` : "";
  const collect = metrics
    ? "\n\t# Count every request (server, top-level handler, method, code) for the metrics listener.\n\tmetrics"
    : "";
  return `servers${address} {
	protocols h1 h2${collect}
${indent(strictSni, 1)}
	timeouts {
		read_header 10s
		read_body 60s
		idle 2m
	}
}`;
}

const STRICT_SNI = `# A request's Host must match the TLS SNI: no routing into a client-auth site via another name.
strict_sni_host on`;

/** The metrics listener's site: one port, one path, one identity. */
function renderMetricsSite(o: EdgeCaddyOptions, m: EdgeMetricsListener): string {
  // A Caddyfile backtick token holds the CEL expression whole; the subject has no backticks or quotes.
  if (/[`"\\]/.test(m.scraperSubjectDn)) throw new Error(`scraper subject cannot be quoted: ${m.scraperSubjectDn}`);
  return `# Prometheus' scrape listener: Caddy's HTTP metrics, for the metrics-scraper identity alone.
https://:${m.port} {
	tls ${o.configDir}/${EDGE_METRICS_FILES.serverCert} ${o.configDir}/${EDGE_METRICS_FILES.serverKey} {
		protocols tls1.2 tls1.3
		client_auth {
			mode ${ClientCertMode.REQUIRE_AND_VERIFY}
			trusted_ca_cert_file ${o.configDir}/${TLS_FILES.caCert}
		}
	}

	# Only handle blocks at the top: a site without a hostname is not wrapped in one subroute, and each
	# top-level handler counts the request again (measured on 2.6: a site-wide header directive did).
	# Any other identity the CA issued (an operator, the edge, Grafana): 403.
	@zta_not_scraper not expression \`{http.request.tls.client.subject} == "${m.scraperSubjectDn}"\`
	handle /metrics {
		header -Server
		route {
			respond @zta_not_scraper 403
			metrics
		}
	}
	handle {
		header -Server
		respond 404
	}
}
`;
}

export function renderEdgeCaddyfile(o: EdgeCaddyOptions): string {
  const sites = o.sites.map((s) => renderSite(o, s)).join("\n");
  const m = o.metrics;
  // First match wins: the metrics listener's options go before the catch-all block.
  const metricsServer = m
    ? `${serverOptions(
        `:${m.port}`,
        true,
        "# Prometheus sends its target address as Host and server_name as SNI; they differ when it scrapes an\n" +
          "# address (the e2e suite's loopback). One site and one client-auth policy on this port: no other site to reach.\n" +
          "strict_sni_host insecure_off",
      )}\n`
    : "";
  return `# Rendered by cdktf-zero-trust-ai (EdgeProxy). Do not edit: change the construct's props.
{
	admin off
	auto_https off
${indent(metricsServer + serverOptions("", m !== undefined, STRICT_SNI), 1)}
}

# Container healthcheck, reachable only inside the container's network namespace.
http://127.0.0.1:${o.healthPort} {
	bind 127.0.0.1
	handle /healthz {
		respond "ok" 200
	}
	handle {
		respond 404
	}
}

${sites}
${renderCatchAllSite(o)}${m ? `\n${renderMetricsSite(o, m)}` : ""}`;
}

/**
 * Every other name on the sites' port. Caddy ends each server's TLS connection policies with a catch-all
 * of its own that asks for no client certificate, and serves any certificate in its cache that fits the
 * SNI name: with the metrics listener's certificate loaded (SAN = the edge's Docker name), a handshake for
 * that name on this port succeeded without a client certificate (found on the engine: 421 instead of a
 * refused handshake). This site's policy replaces that catch-all: the client certificate is required for
 * every name, and a request for no site is dropped.
 */
function renderCatchAllSite(o: EdgeCaddyOptions): string {
  return `# Any other name on this port: a client certificate is still required, and nothing is served.
https://:${o.listenPort} {
${indent(tlsBlock(o, ClientCertMode.REQUIRE_AND_VERIFY), 1)}

	# Logged like every site: a site without a log makes Caddy skip unmapped hosts for the whole server.
${indent(ACCESS_LOG, 1)}
	abort
}
`;
}
