/**
 * `zta-probe` against the e2e chain on real binaries (test/support/: Caddy 2.6 and nginx 1.22 running the
 * configs the constructs render, a mock vLLM streaming tokens, a stub OIDC gate): every check passes
 * on the chain as rendered, and every check fails against a config broken in the way that check is
 * there to catch. A probe that cannot fail proves nothing.
 */
import * as fs from "fs";
import * as path from "path";
import { CHECKS, PATH_TRICKS, VLLM_UNLISTED_ROUTES } from "../../lib/probe/checks";
import { parseProbeArgs, ProbeOptions, runProbe } from "../../lib/probe/cli";
import { CheckResult } from "../../lib/probe/report";
import { TestPki, createPki, issueWithOpenssl } from "../support/pki";
import { ManagedProcess, freePorts, makeTempDir, requireBinary } from "../support/processes";
import { E2E_DOMAIN, renderChain } from "../support/render";
import { ProbeChain, ProbeChainOptions, startProbeChain } from "./probe-chain";

/** `text` with `from` replaced; throws when `from` is not there (a renderer change must not turn a broken config into the real one). */
function breaking(from: string | RegExp, to: string): (text: string) => string {
  return (text) => {
    const pattern = typeof from === "string" ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g") : from;
    if (!pattern.test(text)) throw new Error(`broken config: ${String(from)} not found in\n${text}`);
    return text.replace(pattern, to);
  };
}
const both =
  (...fs: ((t: string) => string)[]) =>
  (t: string) =>
    fs.reduce((acc, f) => f(acc), t);

async function runChecks(p: ProbeChain, ids: string[], extra: string[] = []): Promise<CheckResult[]> {
  const o = parseProbeArgs(p.args(extra), {}) as ProbeOptions;
  const report = await runProbe(
    o,
    undefined,
    CHECKS.filter((c) => ids.includes(c.id)),
  );
  return report.results;
}

const summary = (rs: CheckResult[]) => rs.map((r) => ({ id: r.id, status: r.status }));

describe("zta-probe against the chain as rendered", () => {
  let p: ProbeChain;
  beforeAll(async () => {
    p = await startProbeChain();
  });
  afterAll(async () => {
    await p?.stop();
  });

  test("every check passes (auth-browser-redirect skipped: no --chat), exit 0, with JSON and JUnit reports", async () => {
    const json = path.join(p.dir, "report.json");
    const junit = path.join(p.dir, "probe.xml");
    const r = await p.probe(["--json", json, "--junit", junit]);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    const report = JSON.parse(fs.readFileSync(json, "utf8"));
    const expected = CHECKS.map((c) => ({ id: c.id, status: c.id === "auth-browser-redirect" ? "SKIP" : "PASS" }));
    expect(summary(report.results)).toEqual(expected);
    // The live table has one line per check, in table order, and a summary.
    const lines = r.out.split("\n");
    expect(lines.filter((l) => /^(PASS|FAIL|SKIP) /.test(l)).map((l) => l.split(/\s+/)[1])).toEqual(
      CHECKS.map((c) => c.id),
    );
    expect(lines[lines.length - 1]).toMatch(/^PASSED: 21 passed, 0 failed, 1 skipped .*; \d+ requests in \d+\.\d s$/);
    expect(r.out).toMatch(/SKIP\s+auth-browser-redirect .*needs --chat/);
    const xml = fs.readFileSync(junit, "utf8");
    expect(xml).toContain(`tests="${CHECKS.length}" failures="0" skipped="1"`);
    expect((xml.match(/<testcase /g) ?? []).length).toBe(CHECKS.length);
    // Bounded: the whole run stays far below the budget and takes seconds.
    expect(report.requests).toBeLessThan(200);
    expect(report.ms).toBeLessThan(20000);
    // Console output for the sample in docs/probe.md.
    console.log(r.out);
  });

  test("the mock vLLM saw none of the blocked routes, path tricks or methods", () => {
    // /metrics reached it once: the scraper's own request at the sidecar (metrics-scraper-only).
    const blocked = new Set([...VLLM_UNLISTED_ROUTES, ...PATH_TRICKS].filter((r) => r !== "/metrics"));
    const reached = p.mock.requests.filter((r) => blocked.has(r.path) || /tokenize/i.test(r.path));
    expect(reached).toEqual([]);
    expect(p.mock.requests.filter((r) => r.path === "/metrics")).toHaveLength(1);
    // ...while the allowed ones did reach it (the probe's positive controls).
    expect(p.mock.requests.some((r) => r.path === "/v1/chat/completions")).toBe(true);
  });
});

/** Each check with a config that breaks what it checks; every check of the table must be here. */
interface BrokenCase {
  readonly checks: string[];
  readonly broken: string;
  readonly chain?: ProbeChainOptions;
  readonly args?: (p: ProbeChain) => string[];
  /** The probe expects OIDC (passes --token) although the chain may have none. @default the chain's */
  readonly probeOidc?: boolean;
}

const CADDY_ROUTED = /@zta_routed path [^\n]+/g;

const BROKEN: BrokenCase[] = [
  {
    checks: ["tls-server-certificate"],
    broken: "the edge serves a certificate for its name from another CA",
    chain: {},
  },
  {
    checks: ["tls-hsts"],
    broken: "the edge sends no Strict-Transport-Security",
    chain: { transformCaddyfile: breaking(/\n\s*Strict-Transport-Security [^\n]+/g, "") },
  },
  {
    checks: ["tls-server-header"],
    // Caddy replaces an upstream's Server header with its own versionless "Caddy", so nginx's server_tokens cannot leak through it.
    broken: "the edge announces its version in Server",
    chain: { transformCaddyfile: breaking(/\n(\s*)-Server\n/g, '\n$1Server "Caddy/2.6.2"\n') },
  },
  {
    checks: ["mtls-no-certificate", "mtls-foreign-ca", "mtls-time-invalid"],
    broken: "the edge requests client certificates but verifies none (client_auth mode request)",
    chain: { transformCaddyfile: breaking("mode require_and_verify", "mode request") },
  },
  {
    checks: ["mtls-other-sni"],
    broken: "a second site that does not require certificates (a browser site) and strict_sni_host insecure_off",
    chain: { transformCaddyfile: both(breaking("strict_sni_host on", "strict_sni_host insecure_off"), addChatSite) },
    args: () => ["--chat", `https://chat.example.internal:1`, "--resolve", "chat.example.internal=127.0.0.1"],
  },
  {
    checks: ["mtls-host-mismatch"],
    broken: "strict_sni_host insecure_off",
    chain: { transformCaddyfile: breaking("strict_sni_host on", "strict_sni_host insecure_off") },
  },
  {
    checks: ["auth-no-token", "auth-spoofed-headers"],
    broken: "the chain deployed without the OIDC gate (the certificate alone admits)",
    chain: { oidc: false },
    probeOidc: true,
  },
  {
    checks: ["auth-token"],
    broken: "a token the gate does not accept (the positive control fails)",
    chain: {},
    args: () => ["--token", "expired-token"],
  },
  {
    checks: ["auth-spoofed-identity"],
    broken: "the edge neither strips client identity headers nor sets its own",
    chain: { transformCaddyfile: breaking(/\n\s*request_header (-|@zta_has_email )?X-ZTA-Identity[^\n]*/g, "") },
  },
  {
    checks: ["auth-browser-redirect"],
    broken: "--chat names a site rendered without the browser redirect (the API site: 401 instead of 302)",
    chain: {},
    args: (p) => ["--chat", p.args()[0]],
  },
  {
    checks: ["routes-unlisted"],
    broken: "a sidecar with an extra route (/tokenize) that the edge routes too",
    chain: {
      transformCaddyfile: breaking(CADDY_ROUTED, "$& /tokenize"),
      transformNginxConfig: breaking(
        "        location = /health {",
        "        location = /tokenize {\n            proxy_pass http://zta_vllm;\n        }\n\n        location = /health {",
      ),
    },
  },
  {
    checks: ["routes-path-tricks", "routes-methods"],
    broken: "a pass-through: the edge routes every path and the sidecar forwards what is not allowlisted",
    chain: {
      transformCaddyfile: breaking(CADDY_ROUTED, "@zta_routed path *"),
      transformNginxConfig: breaking(
        /location \/ \{\n\s*return 404;/g,
        "location / {\n            proxy_pass http://zta_vllm;",
      ),
    },
  },
  {
    checks: ["stream-token-by-token"],
    broken: "nginx buffering on (its default)",
    chain: { transformNginxConfig: breaking("proxy_buffering off;", "proxy_buffering on;") },
  },
  {
    checks: ["metrics-not-at-edge"],
    broken: "the edge routes /metrics and the sidecar serves it to any caller",
    chain: {
      transformCaddyfile: breaking(CADDY_ROUTED, "$& /metrics"),
      transformNginxConfig: breaking(/if \(\$zta_may_scrape = 0\) \{\n\s*return 404;\n\s*\}/g, ""),
    },
  },
  {
    checks: ["metrics-scraper-only"],
    broken: "the sidecar takes any certificate of the CA for a caller that may scrape",
    chain: {
      transformNginxConfig: both(
        breaking(/(map \$ssl_client_s_dn \$zta_caller \{\n\s*)default "";/g, '$1default "anyone";'),
        breaking(/(map \$zta_caller \$zta_may_scrape \{\n\s*)default 0;/g, "$1default 1;"),
      ),
    },
  },
  {
    checks: ["limits-body-size"],
    broken: "no body limit that the probe's body trips (64 MB at both hops)",
    chain: {
      transformCaddyfile: breaking(/max_size \d+MB/g, "max_size 64MB"),
      transformNginxConfig: breaking(/client_max_body_size \d+m;/g, "client_max_body_size 64m;"),
    },
  },
  {
    checks: ["limits-rate"],
    broken: "no rate limit at the sidecar",
    chain: { transformNginxConfig: breaking(/\n\s*limit_req zone=zta_rate[^\n]*/g, "") },
    args: () => ["--max-requests", "40"],
  },
];

/** A browser-style site on the edge's port: verify_if_given, so a client without a certificate completes the handshake. */
function addChatSite(caddyfile: string): string {
  const port = new RegExp(`https://${E2E_DOMAIN.replace(/\./g, "\\.")}:(\\d+) \\{`).exec(caddyfile)![1];
  const dir = /tls (\S+)\/server\.crt/.exec(caddyfile)![1];
  return `${caddyfile}
https://chat.example.internal:${port} {
	bind 127.0.0.1
	tls ${dir}/server.crt ${dir}/server.key {
		client_auth {
			mode verify_if_given
			trusted_ca_cert_file ${dir}/ca.crt
		}
	}
	respond "chat" 200
}
`;
}

describe("every check fails against a config broken the way it checks", () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createPki(makeTempDir("zta-probe-broken-pki-"), renderChain().pkiNames);
  });
  afterAll(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

  test("every check of the table has a broken config here (TLS floor: below)", () => {
    const covered = new Set([...BROKEN.flatMap((b) => b.checks), "tls-protocol-floor"]);
    expect(CHECKS.map((c) => c.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  test.each(BROKEN.map((b) => [b.checks.join(", "), b.broken, b] as const))(
    "%s: FAIL when %s",
    async (_checks, _broken, b) => {
      const chain: ProbeChainOptions =
        b.checks[0] === "tls-server-certificate"
          ? {
              edgeServerCert: issueWithOpenssl(
                pki.dir,
                "foreign-edge",
                "server",
                [
                  ["O", "somebody-else"],
                  ["CN", E2E_DOMAIN],
                ],
                [E2E_DOMAIN],
                pki.foreignCa,
              ),
            }
          : (b.chain ?? {});
      const p = await startProbeChain(chain, { pki }, b.probeOidc);
      try {
        const results = await runChecks(p, b.checks, b.args?.(p) ?? []);
        expect({
          broken: b.broken,
          results: results.map((r) => ({ id: r.id, status: r.status, ...(r.status === "FAIL" ? {} : { got: r.got }) })),
        }).toEqual({ broken: b.broken, results: b.checks.map((id) => ({ id, status: "FAIL" })) });
        // The evidence says what came back.
        for (const r of results) expect(r.got).not.toBe("");
      } finally {
        await p.stop();
      }
    },
  );

  test("mtls-other-sni passes with that second site when strict_sni_host is on (the check is not vacuous)", async () => {
    const p = await startProbeChain({ transformCaddyfile: addChatSite }, { pki });
    try {
      const [r] = await runChecks(
        p,
        ["mtls-other-sni"],
        ["--chat", "https://chat.example.internal:1", "--resolve", "chat.example.internal=127.0.0.1"],
      );
      expect({ status: r.status, got: r.got }).toEqual({ status: "PASS", got: "421" });
    } finally {
      await p.stop();
    }
  });

  test("tls-protocol-floor: FAIL against a server that accepts TLS 1.0 (openssl s_server: Caddy 2.6 cannot be configured below TLS 1.2)", async () => {
    const [port] = await freePorts(1);
    const server = new ManagedProcess("openssl s_server", requireBinary("openssl"), [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      pki.edgeServer.certPath,
      "-key",
      pki.edgeServer.keyPath,
      "-tls1",
      "-cipher",
      "DEFAULT@SECLEVEL=0",
      "-www",
    ]);
    const dir = makeTempDir("zta-probe-floor-");
    try {
      await server.waitForPort(port, () => server.output.includes("ACCEPT"));
      const bundle = path.join(dir, "bundle.json");
      fs.writeFileSync(
        bundle,
        JSON.stringify({
          certificate_pem: pki.operator.certPem,
          private_key_pem: pki.operator.keyPem,
          ca_certificate_pem: pki.ca.certPem,
        }),
      );
      const o = parseProbeArgs(
        [`https://${E2E_DOMAIN}:${port}`, "--bundle", bundle, "--resolve", `${E2E_DOMAIN}=127.0.0.1`],
        {},
      ) as ProbeOptions;
      const { results } = await runProbe(
        o,
        undefined,
        CHECKS.filter((c) => c.id === "tls-protocol-floor"),
      );
      expect({ status: results[0].status, got: results[0].got }).toEqual({
        status: "FAIL",
        got: expect.stringMatching(/^TLSv1: handshake completed \(TLSv1\)/),
      });
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the command exits 1 on a failure and prints the FAIL line with its evidence", async () => {
    const p = await startProbeChain(
      { transformNginxConfig: breaking("proxy_buffering off;", "proxy_buffering on;") },
      { pki },
    );
    try {
      const r = await p.probe();
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^FAIL\s+stream-token-by-token .* in 1 reads, first at \d+ ms of \d+ ms$/m);
      expect(r.out.split("\n").pop()).toMatch(/^FAILED: 20 passed, 1 failed, 1 skipped/);
    } finally {
      await p.stop();
    }
  });
});
