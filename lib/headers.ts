/**
 * Every HTTP header name the library sets, strips or trusts, in one place: who sets each one and
 * who trusts it. A header is only as trustworthy as the hops that strip client copies of it, so the
 * renderers (Caddyfile, nginx.conf) and the constructs all take the names from here.
 * Plain protocol headers (Host, Authorization, Cookie, Upgrade, X-Forwarded-Proto/For, X-Request-Id)
 * stay in the templates: they carry no identity of ours.
 */

/** Set by the edge (from the gate's answer or the client certificate) and by the chat proxy; trusted by the sidecars (callers with forwardsIdentity), the chat and Grafana proxies (from the edge only). */
export const IDENTITY_HEADER = "X-ZTA-Identity";
/** Set by the edge to the verified client certificate subject; only logged (the sidecar's audit line), never trusted. */
export const CLIENT_CERT_HEADER = "X-ZTA-Client-Cert";

/** Set by the gate (oauth2-proxy, --set-xauthrequest) on its /oauth2/auth answer; trusted by the edge, which copies it into IDENTITY_HEADER. */
export const GATE_USER_HEADER = "X-Auth-Request-User";
/** Set by the gate to the signed-in email; trusted by the edge, which prefers it (when email-shaped) for IDENTITY_HEADER. */
export const GATE_EMAIL_HEADER = "X-Auth-Request-Email";
/** Set by the gate to the user's groups; copied by the edge, trusted by nothing of ours (upstreams could). */
export const GATE_GROUPS_HEADER = "X-Auth-Request-Groups";
/** The gate headers the edge's forward_auth copies onto the request. */
export const GATE_IDENTITY_HEADERS = [GATE_USER_HEADER, GATE_EMAIL_HEADER, GATE_GROUPS_HEADER];

/**
 * Client-supplied headers that could impersonate an identity: the edge deletes them from every
 * request before anything else runs (oauth2-proxy's, the usual auth-proxy names, and our own).
 */
export const SPOOFABLE_IDENTITY_HEADERS = [
  ...GATE_IDENTITY_HEADERS,
  "X-Auth-Request-Preferred-Username",
  "X-Auth-Request-Access-Token",
  "X-Forwarded-User",
  "X-Forwarded-Email",
  "X-Forwarded-Groups",
  "X-Forwarded-Preferred-Username",
  "X-Forwarded-Access-Token",
  "Remote-User",
  "Remote-Email",
  "Remote-Groups",
  IDENTITY_HEADER,
  CLIENT_CERT_HEADER,
];

/** Set by the chat proxy alone (from the edge's or Access's email); trusted by Open WebUI as the signed-in user (WEBUI_AUTH_TRUSTED_EMAIL_HEADER). */
export const WEBUI_TRUSTED_EMAIL_HEADER = "X-ZTA-Webui-User";
/** Set by Open WebUI to its user's email (FORWARD_USER_INFO_HEADER_USER_EMAIL default); trusted by the chat proxy on loopback only, which passes it on as IDENTITY_HEADER. */
export const WEBUI_FORWARDED_EMAIL_HEADER = "X-OpenWebUI-User-Email";
/** Every user-info header Open WebUI forwards (names read in open_webui/env.py); the chat proxy strips them all toward the sidecars. */
export const WEBUI_FORWARDED_HEADERS = [
  "X-OpenWebUI-User-Name",
  "X-OpenWebUI-User-Id",
  WEBUI_FORWARDED_EMAIL_HEADER,
  "X-OpenWebUI-User-Role",
  "X-OpenWebUI-Chat-Id",
  "X-OpenWebUI-Message-Id",
];

/** Set by Cloudflare Access on requests it authenticated; trusted by the chat proxy's tunnel listener (only cloudflared, which validated the Access JWT, can connect there), stripped toward Open WebUI. */
export const CF_ACCESS_EMAIL_HEADER = "Cf-Access-Authenticated-User-Email";

/** Set by the Grafana proxy alone (from the edge's email-shaped identity); trusted by Grafana's auth proxy ([auth.proxy] header_name). */
export const GRAFANA_USER_HEADER = "X-ZTA-Grafana-User";

/** The nginx variable holding a request header: `X-ZTA-Identity` -> `$http_x_zta_identity`. */
export function nginxHeaderVar(header: string): string {
  return `$http_${header.toLowerCase().replace(/-/g, "_")}`;
}

/** The Caddy placeholder holding a request header. */
export function caddyHeaderPlaceholder(header: string): string {
  return `{http.request.header.${header}}`;
}
