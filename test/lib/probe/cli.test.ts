import { spawnSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { main } from "../../../lib/probe/cli";
import { ProbeClient } from "../../../lib/probe/client";
import { toJunit } from "../../../lib/probe/report";
import { makeCertificate, probeCertificates } from "../../../lib/probe/x509";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-probe-cli-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function bundle(): string {
  const now = Date.now();
  const ca = makeCertificate({
    kind: "ca",
    subject: [
      ["O", "t"],
      ["CN", "t CA"],
    ],
    notBefore: new Date(now - 1000),
    notAfter: new Date(now + 3600e3),
  });
  const leaf = makeCertificate({
    kind: "client",
    subject: [
      ["O", "t"],
      ["OU", "zta-operators"],
      ["CN", "op"],
    ],
    issuer: ca,
    notBefore: new Date(now - 1000),
    notAfter: new Date(now + 3600e3),
  });
  const file = path.join(dir, "bundle.json");
  fs.writeFileSync(
    file,
    JSON.stringify({ certificate_pem: leaf.certPem, private_key_pem: leaf.keyPem, ca_certificate_pem: ca.certPem }),
  );
  return file;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("zta-probe arguments: exit 2 with a message naming the fix, never a stack trace", () => {
  const b = bundle();
  test.each([
    [[], /give exactly one target URL \(got 0: none\)/],
    [["https://a.example"], /--bundle is required: terraform output -json <prefix>_operator_<name> > bundle.json/],
    [["http://a.example", "--bundle", b], /target: "http:\/\/a.example" is not https/],
    [["https://a.example/v1", "--bundle", b], /has a path; give the origin only \(https:\/\/a.example\)/],
    [["not a url", "--bundle", b], /target: "not a url" is not a URL/],
    [
      ["https://a.example", "--bundle", path.join(dir, "missing.json")],
      /--bundle: cannot read .*missing.json \(ENOENT\)/,
    ],
    [
      ["https://a.example", "--bundle", b, "--max-requests", "0"],
      /--max-requests: "0" is not a whole number from 1 to 10000/,
    ],
    [
      ["https://a.example", "--bundle", b, "--routes", "/tokenize"],
      /--routes: "\/tokenize" is not a route the library forwards/,
    ],
    [
      ["https://a.example", "--bundle", b, "--resolve", "a.example"],
      /--resolve: "a.example" is not host=address\[:port\]/,
    ],
    [["https://a.example", "--bundle", b, "--no-oidc", "--token", "t"], /--no-oidc and --token contradict/],
    [["https://a.example", "--bundle", b, "--token", "Bearer x"], /--token: empty or contains whitespace/],
    [["https://a.example", "--bundle", b, "--frobnicate"], /Unknown option '--frobnicate'/],
  ])("%j", async (args, message) => {
    const r = await run(args as string[]);
    expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: "" });
    expect(r.err).toMatch(message as RegExp);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test("a bundle that is the list of all outputs, or not JSON, is named as such", async () => {
    const all = path.join(dir, "all.json");
    fs.writeFileSync(all, JSON.stringify({ inference_operator_x: { sensitive: true, value: {} } }));
    expect((await run(["https://a.example", "--bundle", all])).err).toMatch(
      /has no certificate_pem, private_key_pem, ca_certificate_pem.*not the list of all outputs/,
    );
    fs.writeFileSync(all, "Warning: no outputs");
    expect((await run(["https://a.example", "--bundle", all])).err).toMatch(/is not JSON/);
  });

  test("an unreachable target: exit 2, naming the address dialed", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    const r = await run([
      `https://ai.example.internal:${port}`,
      "--bundle",
      b,
      "--resolve",
      "ai.example.internal=127.0.0.1",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      new RegExp(
        `cannot reach ai.example.internal:${port} \\(dialing 127.0.0.1 for it, from --resolve\\): ECONNREFUSED`,
      ),
    );
  });

  test("--help: usage, exit 0; the token may come from ZTA_PROBE_TOKEN instead of the process list", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--max-requests <n>       most requests the rate-limit burst may send (default: 200)");
    expect((await run(["https://a.example", "--bundle", b, "--no-oidc"], { ZTA_PROBE_TOKEN: "t" })).err).toMatch(
      /contradict/,
    );
  });

  test("the bin entry runs as a command (node + ts-node here; dist/lib/probe/cli.js when installed)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "package.json"), "utf8"));
    expect(pkg.bin).toEqual({ "zta-probe": "dist/lib/probe/cli.js" });
    const first = fs
      .readFileSync(path.join(__dirname, "..", "..", "..", "lib", "probe", "cli.ts"), "utf8")
      .split("\n")[0];
    expect(first).toBe("#!/usr/bin/env node");
    const r = spawnSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join("lib", "probe", "cli.ts"), "https://x.example"],
      {
        cwd: path.join(__dirname, "..", "..", ".."),
        encoding: "utf8",
      },
    );
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({
      status: 2,
      stderr: expect.stringMatching(/^zta-probe: --bundle is required/),
    });
  });
});

describe("the probe client talks only to the hosts named", () => {
  test("a URL naming another host is refused before any connection", () => {
    const c = new ProbeClient(
      new Set(["ai.example.internal"]),
      new Map([["ai.example.internal", "127.0.0.1:8443"]]),
      1000,
    );
    expect(c.dialTarget(new URL("https://ai.example.internal"))).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(() => c.dialTarget(new URL("https://evil.example"))).toThrow(
      "refusing to contact evil.example: only ai.example.internal were named",
    );
  });
});

describe("throwaway certificates (node:crypto, no openssl)", () => {
  const subject: [string, string][] = [
    ["O", "cdktf-zero-trust-ai"],
    ["OU", "zta-operators"],
    ["CN", "devops-laptop"],
  ];
  const certs = probeCertificates(subject, new Date("2026-06-01T00:00:00Z"));

  test("openssl verifies the foreign client against its CA and reads the bundle's subject, client usage", () => {
    const ca = path.join(dir, "foreign-ca.pem");
    const leaf = path.join(dir, "foreign.pem");
    fs.writeFileSync(ca, certs.foreignCa.certPem);
    fs.writeFileSync(leaf, certs.foreignClient.certPem);
    const verify = spawnSync(
      "openssl",
      [
        "verify",
        "-attime",
        String(Date.parse("2026-06-01T00:00:00Z") / 1000),
        "-purpose",
        "sslclient",
        "-CAfile",
        ca,
        leaf,
      ],
      { encoding: "utf8" },
    );
    expect(verify.stdout.trim()).toBe(`${leaf}: OK`);
    const text = spawnSync(
      "openssl",
      ["x509", "-in", leaf, "-noout", "-subject", "-ext", "extendedKeyUsage,basicConstraints"],
      { encoding: "utf8" },
    ).stdout;
    expect(text).toContain("subject=O = cdktf-zero-trust-ai, OU = zta-operators, CN = devops-laptop");
    expect(text).toContain("TLS Web Client Authentication");
    expect(text).toContain("CA:FALSE");
  });

  test("the expired and the not-yet-valid certificate are outside their window, and nothing else is wrong with them", () => {
    const at = Date.parse("2026-06-01T00:00:00Z");
    const expired = new X509Certificate(certs.expiredClient.certPem);
    const future = new X509Certificate(certs.futureClient.certPem);
    expect(Date.parse(expired.validTo)).toBeLessThan(at);
    expect(Date.parse(future.validFrom)).toBeGreaterThan(at);
    expect(expired.checkIssued(new X509Certificate(certs.foreignCa.certPem))).toBe(false);
    // GeneralizedTime from 2050 on (RFC 5280): still parses.
    const late = makeCertificate({
      kind: "ca",
      subject: [["CN", "late"]],
      notBefore: new Date("2049-12-31T00:00:00Z"),
      notAfter: new Date("2051-01-01T00:00:00Z"),
    });
    expect(new X509Certificate(late.certPem).validTo).toBe("Jan  1 00:00:00 2051 GMT");
  });
});

describe("JUnit report", () => {
  test("failures and skips are marked, text escaped", () => {
    const xml = toJunit({
      target: "https://a.example",
      startedAt: "2026-01-01T00:00:00.000Z",
      ms: 1200,
      requests: 3,
      passed: 1,
      failed: 1,
      skipped: 1,
      results: [
        { id: "a", group: "TLS", title: "A", status: "PASS", sent: "s", expected: "e", got: "g", ms: 1 },
        {
          id: "b",
          group: "Routes",
          title: "B <&>",
          status: "FAIL",
          sent: "POST /x",
          expected: "404",
          got: 'got "200"',
          ms: 2,
        },
        {
          id: "c",
          group: "Metrics",
          title: "C",
          status: "SKIP",
          sent: "nothing",
          expected: "-",
          got: "needs --sidecar",
          ms: 0,
        },
      ],
    });
    expect(xml).toContain('tests="3" failures="1" skipped="1"');
    expect(xml).toContain('<failure message="expected 404, got got &quot;200&quot;">');
    expect(xml).toContain('name="b: B &lt;&amp;&gt;"');
    expect(xml).toContain('<skipped message="needs --sidecar"/>');
  });
});
