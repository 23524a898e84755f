/**
 * The e2e chain (test/support/: real Caddy and nginx with the constructs' configs, a mock vLLM, a stub
 * gate) plus what `zta-probe` needs to run against it: the operator and scraper bundles as
 * `terraform output -json` writes them, and the arguments that point the probe at the loopback ports.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SIDECAR_SERVER_NAME } from "../../lib/identities";
import { main } from "../../lib/probe/cli";
import { Chain, StartChainOptions, startChain } from "../support/chain";
import { MockVllm, StubGate } from "../support/mocks";
import { CertificateFiles, TestPki, createPki } from "../support/pki";
import { makeTempDir } from "../support/processes";
import { E2E_DOMAIN, renderChain } from "../support/render";

export const PROBE_TOKEN = "valid-probe-user";

export interface ProbeChain {
  readonly chain: Chain;
  readonly mock: MockVllm;
  readonly pki: TestPki;
  readonly dir: string;
  /** The probe's arguments for this chain, plus `extra`. */
  args(extra?: string[]): string[];
  /** Runs the probe in-process; exit code and output. */
  probe(extra?: string[]): Promise<{ code: number; out: string; err: string }>;
  stop(): Promise<void>;
}

function bundleFile(dir: string, name: string, pki: TestPki, cert: CertificateFiles): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ certificate_pem: cert.certPem, private_key_pem: cert.keyPem, ca_certificate_pem: pki.ca.certPem }),
  );
  return file;
}

export type ProbeChainOptions = Omit<StartChainOptions, "pki" | "mock" | "gate" | "apiKey">;

/** `probeOidc`: whether the probe is told the deployment has OIDC (false: `--no-oidc`). @default the chain's own `oidc` */
export async function startProbeChain(
  options: ProbeChainOptions = {},
  shared?: { pki: TestPki },
  probeOidc = options.oidc !== false,
): Promise<ProbeChain> {
  const rendered = renderChain(options);
  const pki = shared?.pki ?? createPki(makeTempDir("zta-probe-pki-"), rendered.pkiNames);
  // Tokens spaced out as a model writes them, so a buffering hop shows.
  const mock = new MockVllm({ tokens: 12, tokenIntervalMs: 15 });
  await mock.start();
  const gate = options.oidc === false ? undefined : new StubGate(pki, rendered.sessionCookieName!);
  await gate?.start();
  let chain: Chain;
  try {
    chain = await startChain({ ...options, pki, mock, gate, apiKey: `probe-key-${randomBytes(8).toString("hex")}` });
  } catch (e) {
    await gate?.stop();
    await mock.stop();
    throw e;
  }
  const dir = makeTempDir("zta-probe-run-");
  const operator = bundleFile(dir, "operator", pki, pki.operator);
  const scraper = bundleFile(dir, "scraper", pki, pki.metricsScraper);
  const args = (extra: string[] = []) => [
    `https://${E2E_DOMAIN}:${chain.ports.edge}`,
    "--bundle",
    operator,
    ...(probeOidc ? ["--token", PROBE_TOKEN] : ["--no-oidc"]),
    "--scraper-bundle",
    scraper,
    "--sidecar",
    `https://${SIDECAR_SERVER_NAME}:${chain.ports.sidecar}`,
    "--audit-log",
    chain.paths.sidecarAccessLog,
    "--resolve",
    `${E2E_DOMAIN}=127.0.0.1`,
    "--resolve",
    `${SIDECAR_SERVER_NAME}=127.0.0.1`,
    "--timeout-ms",
    "5000",
    ...extra,
  ];
  return {
    chain,
    mock,
    pki,
    dir,
    args,
    async probe(extra = []) {
      const out: string[] = [];
      const err: string[] = [];
      // The audit log exists once nginx wrote its first line; the probe wants the file from the start.
      if (!fs.existsSync(chain.paths.sidecarAccessLog)) fs.writeFileSync(chain.paths.sidecarAccessLog, "");
      const code = await main(args(extra), { out: (l) => out.push(l), err: (l) => err.push(l) }, {});
      return { code, out: out.join("\n"), err: err.join("\n") };
    },
    async stop() {
      await chain.stop();
      await gate?.stop();
      await mock.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      if (!shared) fs.rmSync(pki.dir, { recursive: true, force: true });
    },
  };
}
