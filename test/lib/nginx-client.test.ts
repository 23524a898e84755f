import { CF_ACCESS_EMAIL_HEADER, WEBUI_FORWARDED_HEADERS, WEBUI_TRUSTED_EMAIL_HEADER } from "../../lib/headers";
import { ChatProxyNginxOptions, renderChatProxyNginxConfig } from "../../lib/nginx-client";

const EDGE_DN = "CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai";

function options(overrides: Partial<ChatProxyNginxOptions> = {}): ChatProxyNginxOptions {
  return {
    clientPort: 8090,
    inferenceUpstreams: ["inference-vllm-0:8443", "inference-vllm-1:8443"],
    inferenceServerName: "sidecar.zta.internal",
    webuiUpstream: "127.0.0.1:8080",
    edgeListenPort: 8443,
    edgeSubjects: [EDGE_DN],
    healthPort: 8082,
    configDir: "/etc/zta",
    runDir: "/tmp",
    accessLog: "/dev/stdout",
    errorLog: "/dev/stderr",
    maxRequestBodyMb: 25,
    generationTimeoutSeconds: 1800,
    ...overrides,
  };
}

/** The text of the `server { ... }` block that contains `marker`. */
function serverBlock(conf: string, marker: string): string {
  const blocks = conf.split(/\n {4}server \{/).slice(1);
  const found = blocks.find((b) => b.includes(marker));
  if (!found) throw new Error(`no server block with ${marker}`);
  return found;
}

describe("renderChatProxyNginxConfig", () => {
  const conf = renderChatProxyNginxConfig(options());

  test("client mode listens on loopback only and reaches every sidecar over verified mTLS", () => {
    const client = serverBlock(conf, "listen 127.0.0.1:8090;");
    expect(conf).toContain(
      "server inference-vllm-0:8443;\n        server inference-vllm-1:8443;\n        keepalive 16;",
    );
    expect(client).toContain("proxy_pass https://zta_inference;");
    expect(client).toContain("proxy_ssl_certificate /etc/zta/client.crt;");
    expect(client).toContain("proxy_ssl_certificate_key /etc/zta/client.key;");
    expect(client).toContain("proxy_ssl_trusted_certificate /etc/zta/ca.crt;");
    expect(client).toContain("proxy_ssl_verify on;");
    expect(client).toContain("proxy_ssl_name sidecar.zta.internal;");
    expect(client).toContain("proxy_buffering off;");
    expect(client).toMatch(/location \/v1\/ \{/);
    expect(client).toMatch(/location \/ \{\s+return 404;/);
  });

  test("client mode maps Open WebUI's user email to X-ZTA-Identity and drops credentials and the other user headers", () => {
    const client = serverBlock(conf, "listen 127.0.0.1:8090;");
    expect(client).toContain("proxy_set_header X-ZTA-Identity $http_x_openwebui_user_email;");
    expect(client).toContain('proxy_set_header Authorization "";');
    for (const h of WEBUI_FORWARDED_HEADERS) expect(client).toContain(`proxy_set_header ${h} "";`);
  });

  test("the edge listener requires a CA-verified client certificate and admits the edge's subject only", () => {
    const edge = serverBlock(conf, "listen 8443 ssl;");
    expect(edge).toContain("ssl_verify_client on;");
    expect(edge).toContain("ssl_client_certificate /etc/zta/ca.crt;");
    expect(edge).toMatch(/if \(\$zta_edge_caller = 0\) \{\s+return 403;/);
    expect(conf).toContain(`"${EDGE_DN}" 1;`);
    // Another subject is not in the map: it falls to the default 0 and gets 403.
    expect(conf).not.toContain("zta-operators");
  });

  test("the trusted header is always set by the proxy (from a verified source) on every listener", () => {
    const edge = serverBlock(conf, "listen 8443 ssl;");
    expect(edge).toContain(`proxy_set_header ${WEBUI_TRUSTED_EMAIL_HEADER} $zta_edge_email;`);
    // Only email-shaped identities sign in: a certificate subject never does.
    expect(conf).toMatch(/map \$http_x_zta_identity \$zta_edge_email \{\s+default "";\s+"~\^\[\^@/);
    expect(edge).toContain("proxy_buffering off;");
    expect(edge).toContain("proxy_set_header Upgrade $http_upgrade;");
  });

  test("no tunnel listener unless a tunnel points here; with one, only its network may connect", () => {
    expect(conf).not.toContain("listen 8444");
    const withTunnel = renderChatProxyNginxConfig(
      options({ tunnelListenPort: 8444, tunnelSourceCidrs: ["172.31.253.0/28"] }),
    );
    const tunnel = serverBlock(withTunnel, "listen 8444 ssl;");
    expect(tunnel).toMatch(/allow 172\.31\.253\.0\/28;\s+deny all;/);
    expect(tunnel).toContain(`proxy_set_header ${WEBUI_TRUSTED_EMAIL_HEADER} $zta_tunnel_email;`);
    expect(withTunnel).toContain(
      `map $http_${CF_ACCESS_EMAIL_HEADER.toLowerCase().replace(/-/g, "_")} $zta_tunnel_email`,
    );
    expect(tunnel).not.toContain("ssl_verify_client");
  });

  test("nothing binds every interface explicitly and no listener is plain HTTP off loopback", () => {
    const withTunnel = renderChatProxyNginxConfig(
      options({ tunnelListenPort: 8444, tunnelSourceCidrs: ["172.31.253.0/28"] }),
    );
    expect(withTunnel).not.toMatch(/0\.0\.0\.0|\[::\]/);
    for (const listen of withTunnel.match(/listen [^;]+;/g) ?? []) {
      expect(listen).toMatch(/ssl;$|listen 127\.0\.0\.1:\d+;$/);
    }
  });

  test("renders the edge listener only with an edge port (ChatUi publishOnEdge: false leaves it out)", () => {
    const withEdge = renderChatProxyNginxConfig(options());
    const { edgeListenPort, ...rest } = options();
    const withoutEdge = renderChatProxyNginxConfig({ ...rest });
    expect(withEdge).toContain(`listen ${edgeListenPort} ssl;`);
    expect(withoutEdge).not.toContain(`listen ${edgeListenPort} ssl;`);
    expect(withoutEdge).not.toContain("$zta_edge_caller = 0");
    expect(() => renderChatProxyNginxConfig({ ...rest, edgeSubjects: [] })).not.toThrow();
  });

  test("refuses an empty upstream or edge-subject list, and subjects that would break out of a string", () => {
    expect(() => renderChatProxyNginxConfig(options({ inferenceUpstreams: [] }))).toThrow(/no inference upstreams/);
    expect(() => renderChatProxyNginxConfig(options({ edgeSubjects: [] }))).toThrow(/no edge subjects/);
    expect(() => renderChatProxyNginxConfig(options({ edgeSubjects: ['CN=x" 1; "y'] }))).toThrow(/may not contain/);
  });

  test("snapshot", () => {
    expect(
      renderChatProxyNginxConfig(options({ tunnelListenPort: 8444, tunnelSourceCidrs: ["172.31.253.0/28"] })),
    ).toMatchSnapshot();
  });
});
