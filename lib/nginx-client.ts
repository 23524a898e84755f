/**
 * Renders the nginx.conf of the chat UI's proxy: one nginx in Open WebUI's network namespace with
 * three jobs. Pure function of its options: the ChatUi construct and the e2e suite call it the same way.
 *
 * 1. Client mode (loopback, plain HTTP -> mTLS): Open WebUI calls `http://127.0.0.1:<clientPort>/v1/...`;
 *    nginx forwards to every inference sidecar over TLS with the chat UI's own client certificate,
 *    verifies the sidecar certificate against the internal CA and the shared sidecar name, and maps
 *    Open WebUI's forwarded user email (`X-OpenWebUI-User-Email`) to `X-ZTA-Identity`. Whatever
 *    Authorization header Open WebUI sends is dropped (the sidecar injects vLLM's key).
 * 2. Edge listener (mTLS): the Caddy edge reaches the UI over TLS with its client certificate; only
 *    the edge's subject is accepted. The edge strips client-sent identity headers and sets
 *    `X-ZTA-Identity`; an email-shaped value becomes the header Open WebUI trusts.
 * 3. Tunnel listener (TLS, optional): cloudflared reaches the UI over TLS it verifies against the
 *    internal CA. cloudflared cannot present a client certificate, so the listener admits only the
 *    tunnel network's addresses; Cloudflare Access's `Cf-Access-Authenticated-User-Email` becomes
 *    the trusted header (cloudflared has already validated the Access JWT for the application).
 *
 * On every listener the trusted header is set by nginx (an empty value removes it), so a client
 * copy never reaches Open WebUI. Streaming: `proxy_buffering off`, HTTP/1.1, long read timeouts.
 */
import { TLS_FILES } from "./identities";
import {
  CF_ACCESS_EMAIL_HEADER,
  CLIENT_CERT_HEADER,
  IDENTITY_HEADER,
  WEBUI_FORWARDED_EMAIL_HEADER,
  WEBUI_FORWARDED_HEADERS,
  WEBUI_TRUSTED_EMAIL_HEADER,
  nginxHeaderVar,
} from "./headers";
import { nginxHealthServer, nginxMtlsServer, nginxPreamble, nginxString } from "./nginx";

export interface ChatProxyNginxOptions {
  /** Loopback port Open WebUI calls for the OpenAI API (plain HTTP, 127.0.0.1 only). */
  readonly clientPort: number;
  /** `host:port` of every inference sidecar (TLS). */
  readonly inferenceUpstreams: string[];
  /** The SAN every sidecar certificate carries. */
  readonly inferenceServerName: string;
  /** Open WebUI's loopback address, `127.0.0.1:8080`. */
  readonly webuiUpstream: string;
  /** TLS port for the edge (client certificate required); omitted when the UI is not published on the edge. */
  readonly edgeListenPort?: number;
  /** Subjects (RFC 2253, as `$ssl_client_s_dn` prints them) allowed on the edge listener. */
  readonly edgeSubjects: string[];
  /** TLS port for cloudflared; omitted when no tunnel points here. */
  readonly tunnelListenPort?: number;
  /** Source networks (CIDR) admitted on the tunnel listener. */
  readonly tunnelSourceCidrs?: string[];
  /** Loopback-only plain HTTP port for the container healthcheck. */
  readonly healthPort: number;
  /** Directory holding ca.crt, client.crt, client.key, server.crt, server.key. */
  readonly configDir: string;
  /** Directory for pid and temp files. */
  readonly runDir: string;
  readonly accessLog: string;
  readonly errorLog: string;
  /** Request body limit toward the UI (uploads), MB. */
  readonly maxRequestBodyMb: number;
  /** Longest generation, seconds (read timeout on the inference hop and the UI's websocket). */
  readonly generationTimeoutSeconds: number;
}

/** Headers toward Open WebUI; the trusted header comes from `identityVar` (empty = not sent). */
function webuiProxy(o: ChatProxyNginxOptions, identityVar: string): string {
  return `            proxy_pass http://zta_webui;
            proxy_http_version 1.1;
            # Open WebUI's live updates and token streams run over a websocket (socket.io).
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $zta_connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $remote_addr;
            # The only source of the identity Open WebUI trusts; a client copy is overwritten or removed.
            proxy_set_header ${WEBUI_TRUSTED_EMAIL_HEADER} ${identityVar};
            proxy_set_header ${IDENTITY_HEADER} "";
            proxy_set_header ${CLIENT_CERT_HEADER} "";
            proxy_set_header ${CF_ACCESS_EMAIL_HEADER} "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout ${o.generationTimeoutSeconds}s;
            proxy_send_timeout ${o.generationTimeoutSeconds}s;`;
}

export function renderChatProxyNginxConfig(o: ChatProxyNginxOptions): string {
  if (o.inferenceUpstreams.length === 0) throw new Error("renderChatProxyNginxConfig: no inference upstreams");
  if (o.edgeListenPort !== undefined && o.edgeSubjects.length === 0)
    throw new Error("renderChatProxyNginxConfig: no edge subjects");
  const servers = o.inferenceUpstreams.map((u) => `        server ${u};`).join("\n");
  const edgeMap = o.edgeSubjects.map((s) => `        ${nginxString(s)} 1;`).join("\n");
  const stripForwarded = WEBUI_FORWARDED_HEADERS.map((h) => `            proxy_set_header ${h} "";`).join("\n");
  // No edge listener unless the UI is published on the edge: nothing else may call it there.
  const edgeListener =
    o.edgeListenPort === undefined
      ? ""
      : `    # The edge (Caddy) -> here: mTLS, the edge's certificate subject only.
    server {
        listen ${o.edgeListenPort} ssl;
${nginxMtlsServer(o.configDir)}
        client_max_body_size ${o.maxRequestBodyMb}m;

        if ($zta_edge_caller = 0) {
            return 403;
        }

        location / {
${webuiProxy(o, "$zta_edge_email")}
        }
    }
`;
  const tunnel =
    o.tunnelListenPort === undefined
      ? ""
      : `
    # cloudflared (Cloudflare Tunnel + Access). It cannot present a client certificate: only the
    # tunnel network may connect, and cloudflared rejects requests without a valid Access JWT.
    server {
        listen ${o.tunnelListenPort} ssl;
        ssl_certificate ${o.configDir}/${TLS_FILES.serverCert};
        ssl_certificate_key ${o.configDir}/${TLS_FILES.serverKey};
        ssl_protocols TLSv1.2 TLSv1.3;
${(o.tunnelSourceCidrs ?? []).map((c) => `        allow ${c};`).join("\n")}
        deny all;
        client_max_body_size ${o.maxRequestBodyMb}m;

        location / {
${webuiProxy(o, "$zta_tunnel_email")}
        }
    }
`;

  return `${nginxPreamble("ChatUi", "1", o)}
    gzip off;

    log_format zta_chat escape=json '{"time":"$time_iso8601","listener":"$server_port",'
        '"client_cert":"$ssl_client_s_dn","method":"$request_method","uri":"$uri","status":$status,'
        '"request_bytes":$request_length,"response_bytes":$bytes_sent,"request_time":$request_time,'
        '"upstream_first_byte_time":"$upstream_header_time"}';
    access_log ${o.accessLog} zta_chat;

    map $http_upgrade $zta_connection_upgrade {
        default upgrade;
        "" "";
    }

    # Only an email-shaped identity signs a user in (a certificate subject is not an email).
    map ${nginxHeaderVar(IDENTITY_HEADER)} $zta_edge_email {
        default "";
        "~^[^@\\s,;=]+@[^@\\s,;=]+$" ${nginxHeaderVar(IDENTITY_HEADER)};
    }
    map ${nginxHeaderVar(CF_ACCESS_EMAIL_HEADER)} $zta_tunnel_email {
        default "";
        "~^[^@\\s,;=]+@[^@\\s,;=]+$" ${nginxHeaderVar(CF_ACCESS_EMAIL_HEADER)};
    }
    map $ssl_client_s_dn $zta_edge_caller {
        default 0;
${edgeMap}
    }

    upstream zta_inference {
${servers}
        keepalive 16;
    }

    upstream zta_webui {
        server ${o.webuiUpstream};
        keepalive 8;
    }

    # Client mode: Open WebUI -> (loopback, plain) -> here -> (mTLS, own identity) -> inference sidecars.
    server {
        listen 127.0.0.1:${o.clientPort};
        client_max_body_size 16m;

        location /v1/ {
            proxy_pass https://zta_inference;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host ${o.inferenceServerName};
            proxy_ssl_certificate ${o.configDir}/${TLS_FILES.clientCert};
            proxy_ssl_certificate_key ${o.configDir}/${TLS_FILES.clientKey};
            proxy_ssl_trusted_certificate ${o.configDir}/${TLS_FILES.caCert};
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 1;
            proxy_ssl_name ${o.inferenceServerName};
            proxy_ssl_server_name on;
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            proxy_ssl_session_reuse on;
            # The user Open WebUI signed in, as the sidecar's per-identity limits and audit log see it.
            proxy_set_header ${IDENTITY_HEADER} ${nginxHeaderVar(WEBUI_FORWARDED_EMAIL_HEADER)};
            proxy_set_header ${CLIENT_CERT_HEADER} "";
            # The sidecar injects vLLM's key; nothing Open WebUI holds is a credential.
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
${stripForwarded}
            proxy_buffering off;
            proxy_cache off;
            proxy_connect_timeout 5s;
            proxy_read_timeout ${o.generationTimeoutSeconds}s;
            proxy_send_timeout ${o.generationTimeoutSeconds}s;
            proxy_next_upstream error timeout;
        }

        location / {
            return 404;
        }
    }

${edgeListener}${tunnel}
${nginxHealthServer(o.healthPort)}
}
`;
}
