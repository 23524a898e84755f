import { NginxSidecarOptions, renderSidecarNginxConfig, renderUpstreamAuthInclude } from "../../lib/nginx";

const options: NginxSidecarOptions = {
  listenPort: 8443,
  healthPort: 8081,
  upstream: "127.0.0.1:8000",
  configDir: "/etc/zta",
  runDir: "/tmp",
  accessLog: "/dev/stdout",
  errorLog: "/dev/stderr",
  routes: ["/v1/chat/completions", "/v1/models"],
  callers: [
    {
      role: "edge",
      subjectDn: "CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai",
      forwardsIdentity: true,
      mayScrapeMetrics: false,
    },
    {
      role: "metrics",
      subjectDn: "CN=zta-metrics-scraper,OU=zta-services,O=cdktf-zero-trust-ai",
      forwardsIdentity: false,
      mayScrapeMetrics: true,
    },
  ],
  maxRequestBodyMb: 4,
  requestsPerMinute: 60,
  burst: 20,
  maxConcurrent: 8,
  generationTimeoutSeconds: 1800,
};

describe("renderSidecarNginxConfig", () => {
  const conf = renderSidecarNginxConfig(options);

  test("only configured callers get past TLS, each by exact subject", () => {
    expect(conf).toContain('"CN=zta-edge,OU=zta-services,O=cdktf-zero-trust-ai" edge;');
    expect(conf).toMatch(/if \(\$zta_caller = ""\) \{\s+return 403;/);
    expect(conf).toContain("ssl_verify_client on;");
  });

  test("identity comes from the header only for identity-forwarding callers", () => {
    expect(conf).toContain('"~^edge:(?<id>.+)$" $id;');
    expect(conf).not.toContain('"~^metrics:');
  });

  test("every proxy_set_header is at server level (a location that sets one drops the rest)", () => {
    const locations = conf
      .split(/\n\s+location /)
      .slice(1)
      .map((l) => l.slice(0, l.indexOf("}")));
    expect(locations.length).toBe(7); // two routes, /health, /metrics, 404; the health server's two
    for (const l of locations) expect(l).not.toContain("proxy_set_header");
    expect(conf).toContain("include /etc/zta/upstream-auth.conf;");
    expect(conf).toContain('proxy_set_header X-ZTA-Identity "";');
    expect(conf).toContain('proxy_set_header Cookie "";');
  });

  test("streams are not buffered and upstream connections are kept alive", () => {
    expect(conf).toContain("proxy_buffering off;");
    expect(conf).toContain("proxy_http_version 1.1;");
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain("keepalive 32;");
    expect(conf).toContain("proxy_read_timeout 1800s;");
    expect(conf).toContain("gzip off;");
  });

  test("refuses values that would break out of an nginx string", () => {
    expect(() =>
      renderSidecarNginxConfig({ ...options, callers: [{ ...options.callers[0], subjectDn: 'CN=x";evil' }] }),
    ).toThrow(/may not contain quotes/);
  });

  test("the API key include replaces the caller's Authorization", () => {
    expect(renderUpstreamAuthInclude("k")).toBe('proxy_set_header Authorization "Bearer k";\n');
  });

  test("snapshot", () => expect(conf).toMatchSnapshot());
});
