import { ClientCertMode, EdgeSite, renderEdgeCaddyfile } from "../../lib/caddyfile";
import { SPOOFABLE_IDENTITY_HEADERS } from "../../lib/headers";

const api: EdgeSite = {
  hostnames: ["ai.example.internal"],
  paths: ["/v1/chat/completions", "/v1/models"],
  upstreams: ["vllm-0:8443", "vllm-1:8443"],
  upstreamServerName: "sidecar.zta.internal",
  healthUri: "/health",
  browser: false,
  clientCertMode: ClientCertMode.REQUIRE_AND_VERIFY,
};
const base = { listenPort: 8443, healthPort: 8081, configDir: "/etc/zta", maxRequestBodyMb: 8, sites: [api] };
const gate = { address: "gate:4443", serverName: "gate.zta.internal" };

/** The text between a line starting with `open` and its matching closing brace. */
function block(text: string, open: string): string {
  const start = text.indexOf(open);
  if (start < 0) throw new Error(`no block ${open}`);
  let depth = 0;
  for (let i = text.indexOf("{", start); i < text.length; i++) {
    if (text[i] === "{") depth++;
    if (text[i] === "}" && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`unclosed block ${open}`);
}

describe("renderEdgeCaddyfile", () => {
  const withGate = renderEdgeCaddyfile({ ...base, gate });
  const withoutGate = renderEdgeCaddyfile(base);

  test("strips every spoofable identity header before any handler runs", () => {
    const site = withGate.indexOf("https://ai.example.internal:8443 {");
    const firstHandle = withGate.indexOf("handle ", site);
    for (const h of SPOOFABLE_IDENTITY_HEADERS) {
      const at = withGate.indexOf(`request_header -${h}\n`);
      expect({ h, stripped: at > site && at < firstHandle }).toEqual({ h, stripped: true });
    }
  });

  test("routes /oauth2/* to the gate without forward_auth", () => {
    const oauth = block(withGate, "handle /oauth2/*");
    expect(oauth).toContain("reverse_proxy gate:4443");
    expect(oauth).not.toContain("forward_auth");
  });

  test("API routes ask the gate first, then name the identity, then proxy, in that order", () => {
    const routed = block(withGate, "handle @zta_routed");
    const order = [
      "forward_auth gate:4443",
      "request_header X-ZTA-Identity",
      "reverse_proxy vllm-0:8443 vllm-1:8443",
    ].map((s) => routed.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(routed).toContain("route {");
    expect(routed).not.toContain("handle_response"); // API clients get the gate's 401, not a redirect
  });

  test("upstream hops verify our CA and the shared name, and present the edge's certificate", () => {
    const proxy = block(withGate, "reverse_proxy vllm-0");
    expect(proxy).toContain("tls_trusted_ca_certs /etc/zta/ca.crt");
    expect(proxy).toContain("tls_server_name sidecar.zta.internal");
    expect(proxy).toContain("tls_client_auth /etc/zta/client.crt /etc/zta/client.key");
    expect(proxy).toContain("flush_interval -1");
    expect(proxy).toContain("health_uri /health");
  });

  test("no compression anywhere; unrouted paths are 404", () => {
    expect(withGate).not.toMatch(/^\s*encode\b/m);
    expect(withGate).toMatch(/handle \{\n\t\trespond 404\n\t\}/);
  });

  test("without a gate the client certificate subject is the identity", () => {
    expect(withoutGate).not.toContain("forward_auth");
    expect(withoutGate).not.toContain("/oauth2/");
    expect(withoutGate).toContain("request_header X-ZTA-Identity {http.request.tls.client.subject}");
  });

  test("browser sites redirect to sign-in, keeping the port", () => {
    const chat: EdgeSite = {
      ...api,
      hostnames: ["chat.example.internal"],
      paths: [],
      browser: true,
      clientCertMode: ClientCertMode.VERIFY_IF_GIVEN,
    };
    const text = renderEdgeCaddyfile({ ...base, gate, sites: [api, chat] });
    const site = block(text, "https://chat.example.internal:8443");
    expect(site).toContain("mode verify_if_given");
    expect(site).toContain(
      "redir * /oauth2/start?rd={http.request.scheme}://{http.request.hostport}{http.request.uri} 302",
    );
    expect(site).toMatch(/\thandle \{\n\t\troute \{/); // every path of the app is routed
  });

  test("the health listener is loopback only and admin is off", () => {
    expect(withGate).toContain("http://127.0.0.1:8081 {\n\tbind 127.0.0.1");
    expect(withGate).toContain("admin off");
    expect(withGate).toContain("strict_sni_host on");
  });

  test("snapshot", () => expect(withGate).toMatchSnapshot());
});

describe("renderEdgeCaddyfile: the metrics listener", () => {
  const scraper = "CN=zta-metrics-scraper,OU=zta-services,O=cdktf-zero-trust-ai";
  const withMetrics = renderEdgeCaddyfile({ ...base, gate, metrics: { port: 9180, scraperSubjectDn: scraper } });
  const without = renderEdgeCaddyfile({ ...base, gate });

  test("without one, nothing is collected or served", () => {
    expect(without).not.toMatch(/^\s*metrics\s*$/m);
    expect(without).not.toContain("9180");
    expect(without).not.toContain("insecure_off");
  });

  test("its own port, its own certificate, a client certificate from the CA required", () => {
    const site = block(withMetrics, "https://:9180 {");
    expect(site).toContain("tls /etc/zta/metrics-server.crt /etc/zta/metrics-server.key {");
    expect(block(site, "client_auth")).toContain("mode require_and_verify");
    expect(block(site, "client_auth")).toContain("trusted_ca_cert_file /etc/zta/ca.crt");
  });

  test("/metrics only, the scraper's subject only: every other identity 403, every other path 404", () => {
    const site = block(withMetrics, "https://:9180 {");
    expect(site).toContain(`@zta_not_scraper not expression \`{http.request.tls.client.subject} == "${scraper}"\``);
    const metrics = block(site, "handle /metrics");
    expect(metrics.indexOf("respond @zta_not_scraper 403")).toBeGreaterThan(0);
    expect(metrics.indexOf("respond @zta_not_scraper 403")).toBeLessThan(metrics.indexOf("\t\t\tmetrics\n"));
    expect(block(site.slice(site.indexOf("handle {")), "handle {")).toContain("respond 404");
    // The handler is in this site alone: the API and browser sites serve no metrics.
    expect(withMetrics.match(/^\s*metrics$/gm)?.length).toBe(3); // two servers blocks + this handler
  });

  test("every server collects HTTP metrics; only the metrics listener relaxes the Host/SNI check", () => {
    const globals = block(withMetrics, "{\n\tadmin off");
    const own = block(globals, "servers :9180 {");
    expect(own).toMatch(/\n\t\tmetrics\n/);
    expect(own).toContain("strict_sni_host insecure_off");
    const rest = globals.slice(globals.indexOf(own) + own.length);
    const catchAll = block(rest, "servers {");
    expect(catchAll).toMatch(/\n\t\tmetrics\n/);
    expect(catchAll).toContain("strict_sni_host on");
    // First match wins in Caddy: the listener's block must come before the catch-all.
    expect(globals.indexOf("servers :9180 {")).toBeLessThan(globals.indexOf("servers {"));
  });

  test("a subject that cannot be quoted in the expression is refused", () => {
    expect(() =>
      renderEdgeCaddyfile({ ...base, metrics: { port: 9180, scraperSubjectDn: 'CN=x" || true || "' } }),
    ).toThrow(/cannot be quoted/);
  });

  test("snapshot", () => expect(withMetrics).toMatchSnapshot());
});
