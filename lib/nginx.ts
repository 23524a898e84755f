/**
 * Renders the nginx.conf of the mTLS sidecar that stands in front of each vLLM replica.
 * Pure function of its options: the MtlsSidecar construct and the e2e suite call it the same way.
 *
 * What the config guarantees (each is exercised against a real nginx in test/e2e):
 * - TLS with a client certificate from the internal CA is required; a CA-valid certificate
 *   whose subject is not one of the configured callers gets 403.
 * - Only the allowlisted OpenAI routes reach vLLM; `/metrics` only for the scraper identity;
 *   everything else (vLLM's unauthenticated `/tokenize`, `/pause`, `/update_weights`, ...) is 404.
 * - vLLM's API key is injected here (from a separate include file, so this text holds no secret);
 *   whatever Authorization header the caller sent is replaced.
 * - Token streams are not buffered: `proxy_buffering off`, HTTP/1.1 keepalive upstream.
 * - Per-identity request rate (429), per-identity concurrency (429), body size (413).
 * - One JSON line per request: identity, caller, route, status, bytes, timings.
 */
import { TLS_FILES } from "./identities";
import { CLIENT_CERT_HEADER, IDENTITY_HEADER, nginxHeaderVar } from "./headers";

/** A client certificate identity allowed to call the sidecar. */
export interface SidecarCaller {
  /** Short role name, used in logs and as the map value (e.g. "edge"). */
  readonly role: string;
  /** The certificate subject as nginx prints it in `$ssl_client_s_dn` (RFC 2253 order). */
  readonly subjectDn: string;
  /** The caller verified the end user and passes it in IDENTITY_HEADER (lib/headers.ts); trust that header from it. */
  readonly forwardsIdentity: boolean;
  /** May read vLLM's Prometheus `/metrics`. */
  readonly mayScrapeMetrics: boolean;
}

export interface NginxSidecarOptions {
  /** Port the mTLS server listens on (all interfaces of the shared network namespace). */
  readonly listenPort: number;
  /** Loopback-only plain HTTP port for the container healthcheck. */
  readonly healthPort: number;
  /** vLLM's address inside the shared namespace, `127.0.0.1:8000`. */
  readonly upstream: string;
  /** Directory holding ca.crt, server.crt, server.key and upstream-auth.conf. */
  readonly configDir: string;
  /** Directory for pid file and temp files (a tmpfs in the container). */
  readonly runDir: string;
  /** Where the JSON access log goes. */
  readonly accessLog: string;
  /** Where errors go. */
  readonly errorLog: string;
  /** Allowed exact paths, e.g. `/v1/chat/completions`. */
  readonly routes: string[];
  readonly callers: SidecarCaller[];
  readonly maxRequestBodyMb: number;
  readonly requestsPerMinute: number;
  readonly burst: number;
  readonly maxConcurrent: number;
  /** Upper bound for one generation, seconds. */
  readonly generationTimeoutSeconds: number;
}

/** A double-quoted nginx string; refuses what could end the string or expand a variable. */
export function nginxString(value: string): string {
  if (/["\\\n\r$]/.test(value)) {
    throw new Error(`nginx string may not contain quotes, backslashes, newlines or '$': ${JSON.stringify(value)}`);
  }
  return `"${value}"`;
}

function regexEscape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The top of every nginx.conf the library renders, up to the inside of `http {`: foreground-safe
 * paths for a read-only root filesystem (pid and temp files in `runDir`, a tmpfs), no version in
 * headers. The caller continues inside the `http` block and closes it.
 */
export function nginxPreamble(
  renderedBy: string,
  workerProcesses: string,
  o: { readonly runDir: string; readonly errorLog: string },
): string {
  return `# Rendered by cdktf-zero-trust-ai (${renderedBy}). Do not edit: change the construct's props.
worker_processes ${workerProcesses};
pid ${o.runDir}/nginx.pid;
error_log ${o.errorLog} warn;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    map_hash_bucket_size 128;
    default_type application/octet-stream;
    client_body_temp_path ${o.runDir}/client_body;
    proxy_temp_path ${o.runDir}/proxy;
    fastcgi_temp_path ${o.runDir}/fastcgi;
    uwsgi_temp_path ${o.runDir}/uwsgi;
    scgi_temp_path ${o.runDir}/scgi;`;
}

/**
 * The TLS of a server that requires a client certificate from the internal CA (inside `server {`, after
 * `listen`): the directives every mTLS listener of the library shares. Who may do what is each config's own map.
 */
export function nginxMtlsServer(configDir: string): string {
  return `        ssl_certificate ${configDir}/${TLS_FILES.serverCert};
        ssl_certificate_key ${configDir}/${TLS_FILES.serverKey};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate ${configDir}/${TLS_FILES.caCert};
        ssl_verify_client on;
        ssl_verify_depth 1;`;
}

/** The loopback-only healthcheck server, inside the `http` block (reachable only in the container's namespace). */
export function nginxHealthServer(healthPort: number): string {
  return `    # Container healthcheck, reachable only inside the shared network namespace.
    server {
        listen 127.0.0.1:${healthPort};
        access_log off;
        location = /healthz {
            return 200 "ok\\n";
        }
        location / {
            return 404;
        }
    }`;
}

export function renderSidecarNginxConfig(o: NginxSidecarOptions): string {
  const callerMap = o.callers.map((c) => `        ${nginxString(c.subjectDn)} ${c.role};`).join("\n");
  // Identity-forwarding callers: trust their header (fall back to the role when empty).
  const identityMap = o.callers
    .filter((c) => c.forwardsIdentity)
    .map((c) => `        "~^${regexEscape(c.role)}:(?<id>.+)$" $id;`)
    .join("\n");
  const metricsRoles = o.callers.filter((c) => c.mayScrapeMetrics).map((c) => c.role);
  const metricsMap = metricsRoles.map((r) => `        ${r} 1;`).join("\n");
  const routes = o.routes
    .map(
      (route) => `        location = ${route} {
            limit_req zone=zta_rate burst=${o.burst} nodelay;
            limit_conn zta_conn ${o.maxConcurrent};
            proxy_pass http://zta_vllm;
        }`,
    )
    .join("\n\n");

  return `${nginxPreamble("MtlsSidecar", "auto", o)}

    # Which service is calling, from its verified client certificate subject.
    map $ssl_client_s_dn $zta_caller {
        default "";
${callerMap}
    }

    # The end user: trusted from the header only when the caller forwards verified identities.
    map "$zta_caller:${nginxHeaderVar(IDENTITY_HEADER)}" $zta_identity {
        default $zta_caller;
${identityMap}
    }

    map $zta_caller $zta_may_scrape {
        default 0;
${metricsMap}
    }

    log_format zta_audit escape=json '{"time":"$time_iso8601","request_id":"$request_id",'
        '"identity":"$zta_identity","caller":"$zta_caller","client_cert":"$ssl_client_s_dn",'
        '"edge_client_cert":"${nginxHeaderVar(CLIENT_CERT_HEADER)}","method":"$request_method","route":"$uri",'
        '"status":$status,"request_bytes":$request_length,"response_bytes":$bytes_sent,'
        '"request_time":$request_time,"upstream_connect_time":"$upstream_connect_time",'
        '"upstream_first_byte_time":"$upstream_header_time","upstream_time":"$upstream_response_time"}';
    access_log ${o.accessLog} zta_audit;

    limit_req_zone "$zta_caller:$zta_identity" zone=zta_rate:10m rate=${o.requestsPerMinute}r/m;
    limit_conn_zone "$zta_caller:$zta_identity" zone=zta_conn:10m;
    limit_req_status 429;
    limit_conn_status 429;

    upstream zta_vllm {
        server ${o.upstream};
        keepalive 32;
    }

    server {
        listen ${o.listenPort} ssl;

        ssl_certificate ${o.configDir}/${TLS_FILES.serverCert};
        ssl_certificate_key ${o.configDir}/${TLS_FILES.serverKey};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:zta_tls:10m;
        ssl_session_timeout 1h;
        ssl_client_certificate ${o.configDir}/${TLS_FILES.caCert};
        ssl_verify_client on;
        ssl_verify_depth 1;

        client_max_body_size ${o.maxRequestBodyMb}m;
        client_body_buffer_size ${o.maxRequestBodyMb}m;
        client_header_timeout 10s;
        client_body_timeout 30s;
        gzip off;

        # A certificate from our CA that is not one of the configured services.
        if ($zta_caller = "") {
            return 403;
        }

        # Streaming: every token goes out as soon as vLLM writes it.
        proxy_buffering off;
        proxy_cache off;
        proxy_http_version 1.1;
        proxy_read_timeout ${o.generationTimeoutSeconds}s;
        proxy_send_timeout ${o.generationTimeoutSeconds}s;
        proxy_connect_timeout 5s;
        # All proxy_set_header lines live here: a location that set one would drop the others.
        proxy_set_header Host 127.0.0.1;
        proxy_set_header Connection "";
        proxy_set_header Cookie "";
        proxy_set_header ${IDENTITY_HEADER} "";
        proxy_set_header ${CLIENT_CERT_HEADER} "";
        proxy_set_header X-Request-Id $request_id;
        # Authorization: Bearer <vLLM API key>; kept in its own file so this config holds no secret.
        include ${o.configDir}/upstream-auth.conf;

${routes}

        location = /health {
            access_log off;
            proxy_pass http://zta_vllm;
        }

        location = /metrics {
            if ($zta_may_scrape = 0) {
                return 404;
            }
            proxy_pass http://zta_vllm;
        }

        location / {
            return 404;
        }
    }

${nginxHealthServer(o.healthPort)}
}
`;
}

/** The include file that injects vLLM's API key (the key itself is a Terraform reference). */
export function renderUpstreamAuthInclude(apiKey: string): string {
  return `proxy_set_header Authorization "Bearer ${apiKey}";\n`;
}
