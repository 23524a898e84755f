/**
 * Renders the nginx.conf of the API gateway's proxy: one nginx in LiteLLM's network namespace, the only
 * way into and out of it. Pure function of its options (the ApiGateway construct and the e2e suite call it).
 *
 * 1. Edge listener (mTLS): the Caddy edge reaches the gateway with its client certificate; only the edge's
 *    subject is accepted, only the allowlisted OpenAI routes reach LiteLLM (never /key/*, /ui, /metrics or
 *    any other management route). The client's `Authorization: Bearer <virtual key>` is passed through:
 *    it is what LiteLLM authenticates, budgets and limits. Identity headers of ours are removed.
 * 2. Client listener (loopback, plain HTTP -> mTLS): LiteLLM calls `http://127.0.0.1:<clientPort>/v1/...`;
 *    nginx forwards to every inference sidecar with the gateway's own client certificate and turns the
 *    calling key's alias (LiteLLM's `x-litellm-user_api_key_alias`) into `X-ZTA-Identity: gateway:<app>`.
 *    An alias that is not a declared app gets 403: nothing reaches vLLM unattributed. LiteLLM's
 *    Authorization (none for hosted_vllm) is dropped; the sidecar injects vLLM's key.
 * Streaming: `proxy_buffering off` on both hops, HTTP/1.1, long read timeouts.
 */
import { TLS_FILES } from "./identities";
import { CLIENT_CERT_HEADER, IDENTITY_HEADER, SPOOFABLE_IDENTITY_HEADERS, nginxHeaderVar } from "./headers";
import { LITELLM_KEY_ALIAS_HEADER, LITELLM_USER_INFO_HEADERS } from "./litellm";
import { nginxHealthServer, nginxMtlsServer, nginxPreamble, nginxString } from "./nginx";

export interface GatewayProxyNginxOptions {
  /** TLS port for the edge (client certificate required). */
  readonly edgeListenPort: number;
  /** Subjects (RFC 2253) admitted on the edge listener. */
  readonly edgeSubjects: string[];
  /** Exact paths the edge may reach. */
  readonly routes: string[];
  /** LiteLLM's loopback address, `127.0.0.1:4000`. */
  readonly litellmUpstream: string;
  /** Loopback port LiteLLM calls for the models (plain HTTP, 127.0.0.1 only). */
  readonly clientPort: number;
  /** `host:port` of every inference sidecar (TLS). */
  readonly inferenceUpstreams: string[];
  /** The SAN every sidecar certificate carries. */
  readonly inferenceServerName: string;
  /** Declared apps: key alias -> identity the sidecars see. */
  readonly apps: string[];
  /** Prefix of the identity the sidecars see: `<prefix>:<app>`. */
  readonly identityPrefix: string;
  readonly healthPort: number;
  readonly configDir: string;
  readonly runDir: string;
  readonly accessLog: string;
  readonly errorLog: string;
  readonly maxRequestBodyMb: number;
  readonly generationTimeoutSeconds: number;
}

export function renderGatewayProxyNginxConfig(o: GatewayProxyNginxOptions): string {
  if (o.inferenceUpstreams.length === 0) throw new Error("renderGatewayProxyNginxConfig: no inference upstreams");
  if (o.edgeSubjects.length === 0) throw new Error("renderGatewayProxyNginxConfig: no edge subjects");
  if (o.routes.length === 0) throw new Error("renderGatewayProxyNginxConfig: no routes");
  const servers = o.inferenceUpstreams.map((u) => `        server ${u};`).join("\n");
  const edgeMap = o.edgeSubjects.map((s) => `        ${nginxString(s)} 1;`).join("\n");
  const appMap = o.apps.map((a) => `        ${nginxString(a)} ${nginxString(`${o.identityPrefix}:${a}`)};`).join("\n");
  const stripOurs = [...new Set([...SPOOFABLE_IDENTITY_HEADERS, IDENTITY_HEADER, CLIENT_CERT_HEADER])]
    .map((h) => `            proxy_set_header ${h} "";`)
    .join("\n");
  const stripLitellm = LITELLM_USER_INFO_HEADERS.map((h) => `            proxy_set_header ${h} "";`).join("\n");
  const routes = o.routes
    .map(
      (r) => `        location = ${r} {
            proxy_pass http://zta_litellm;
        }`,
    )
    .join("\n\n");

  return `${nginxPreamble("ApiGateway", "1", o)}
    gzip off;

    log_format zta_gateway escape=json '{"time":"$time_iso8601","listener":"$server_port",'
        '"client_cert":"$ssl_client_s_dn","edge_client_cert":"${nginxHeaderVar(CLIENT_CERT_HEADER)}",'
        '"app":"$zta_app_identity","method":"$request_method","uri":"$uri","status":$status,'
        '"request_bytes":$request_length,"response_bytes":$bytes_sent,"request_time":$request_time,'
        '"upstream_first_byte_time":"$upstream_header_time"}';
    access_log ${o.accessLog} zta_gateway;

    map $ssl_client_s_dn $zta_edge_caller {
        default 0;
${edgeMap}
    }

    # The calling key's alias, as LiteLLM sets it from the key it verified; only declared apps.
    map ${nginxHeaderVar(LITELLM_KEY_ALIAS_HEADER)} $zta_app_identity {
        default "";
${appMap}
    }

    upstream zta_litellm {
        server ${o.litellmUpstream};
        keepalive 16;
    }

    upstream zta_inference {
${servers}
        keepalive 16;
    }

    # The edge (Caddy) -> here -> LiteLLM: mTLS, the edge's certificate subject only, OpenAI routes only.
    server {
        listen ${o.edgeListenPort} ssl;
${nginxMtlsServer(o.configDir)}
        client_max_body_size ${o.maxRequestBodyMb}m;

        if ($zta_edge_caller = 0) {
            return 403;
        }

        # Every proxy_set_header here: a location that set one would drop the others.
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host 127.0.0.1;
        proxy_set_header Cookie "";
${stripOurs}
${stripLitellm}
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_cache off;
        proxy_read_timeout ${o.generationTimeoutSeconds}s;
        proxy_send_timeout ${o.generationTimeoutSeconds}s;

${routes}

        location / {
            return 404;
        }
    }

    # LiteLLM -> (loopback, plain) -> here -> (mTLS, the gateway's identity) -> inference sidecars.
    server {
        listen 127.0.0.1:${o.clientPort};
        # LiteLLM's user-information headers have underscores; nginx drops such headers unless told.
        underscores_in_headers on;
        client_max_body_size ${o.maxRequestBodyMb}m;

        location /v1/ {
            if ($zta_app_identity = "") {
                return 403;
            }
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
            # The app whose key LiteLLM verified, as the sidecars' per-identity limits and audit log see it.
            proxy_set_header ${IDENTITY_HEADER} $zta_app_identity;
            proxy_set_header ${CLIENT_CERT_HEADER} "";
            # The sidecar injects vLLM's key; nothing LiteLLM holds is a credential there.
            proxy_set_header Authorization "";
            proxy_set_header Cookie "";
${stripLitellm}
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

${nginxHealthServer(o.healthPort)}
}
`;
}
