#!/usr/bin/env node
/**
 * `zta-probe`: the attack matrix as a command, run against a live deployment of the library.
 *
 *   zta-probe https://ai.example.internal --bundle bundle.json --token "$IDP_ACCESS_TOKEN"
 *
 * Exit 0 when every check that ran passed, 1 when one failed, 2 on bad arguments or an
 * unreachable target (a message naming what to fix, never a stack trace).
 */
import * as fs from "fs";
import { X509Certificate } from "crypto";
import { parseArgs } from "util";
import { InferenceRoutes } from "../../constructs/secure-inference";
import { Bundle, CHECKS, Check, CheckNeed, ProbeContext } from "./checks";
import { ProbeClient } from "./client";
import { CheckResult, ProbeReport, skipped, summaryLine, tableHeader, tableLine, toJson, toJunit } from "./report";
import { ProbeCertificates, probeCertificates } from "./x509";

/** Bad arguments or an unreachable target: exit 2 with this message. */
export class UsageError extends Error {}

export const USAGE = `Usage: zta-probe <https://host[:port]> --bundle <file> [options]

  --bundle <file>          operator bundle: \`terraform output -json <prefix>_operator_<name>\` (required)
  --token <token>          IdP access token for the API (or env ZTA_PROBE_TOKEN, kept out of the process list)
  --no-oidc                the deployment has no OIDC gate: the client certificate is the identity
  --scraper-bundle <file>  metrics scraper bundle: \`terraform output -json <prefix>_metrics_scraper_bundle\`
  --sidecar <url>          a sidecar, e.g. https://inference-vllm-0:8443 (only from the internal network)
  --chat <url>             a browser site of the edge (ChatUi), checked for the sign-in redirect
  --audit-log <file>       the sidecar's access log, to see the identity the upstream gets
  --routes <a,b,...>       the routes the deployment forwards (default: ${InferenceRoutes.DEFAULT.join(",")})
  --max-body-mb <n>        the deployment's maxRequestBodyMb (default: 4)
  --max-requests <n>       most requests the rate-limit burst may send (default: 200)
  --model <name>           model to stream from (default: the first of /v1/models)
  --resolve <host=addr[:port]>  dial addr (and port) for host, like curl --resolve (repeatable)
  --timeout-ms <n>         per request (default: 10000)
  --json <file>            write a JSON report
  --junit <file>           write a JUnit XML report
  --help`;

export interface ProbeOptions {
  readonly target: URL;
  readonly bundle: Bundle;
  readonly token?: string;
  readonly oidc: boolean;
  readonly scraper?: Bundle;
  readonly sidecar?: URL;
  readonly chat?: URL;
  readonly auditLog?: string;
  readonly routes: string[];
  readonly maxBodyMb: number;
  readonly maxRequests: number;
  readonly model?: string;
  readonly resolve: Map<string, string>;
  readonly timeoutMs: number;
  readonly jsonFile?: string;
  readonly junitFile?: string;
}

function httpsUrl(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `${flag}: "${value}" is not a URL. Use https://host[:port], e.g. https://ai.example.internal.`,
    );
  }
  if (url.protocol !== "https:")
    throw new UsageError(
      `${flag}: "${value}" is not https. The chain speaks TLS only: use https://${url.host || "host"}.`,
    );
  if (url.pathname !== "/" || url.search)
    throw new UsageError(`${flag}: "${value}" has a path; give the origin only (https://${url.host}).`);
  return url;
}

function count(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag}: "${value}" is not a whole number from 1 to ${max}.`);
  return n;
}

/** Subject fields of a PEM certificate, as [key, value] in order (O, OU, CN). */
function subjectOf(pem: string): [string, string][] {
  const fields: [string, string][] = [];
  for (const line of new X509Certificate(pem).subject.split("\n")) {
    const [k, ...v] = line.split("=");
    if (["O", "OU", "CN"].includes(k)) fields.push([k, v.join("=")]);
  }
  return fields;
}

/** Reads `terraform output -json <name>` (or the `{ value: ... }` form of `terraform output -json`). */
export function readBundle(file: string, flag: string): Bundle {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(
      `${flag}: cannot read ${file} (${(e as NodeJS.ErrnoException).code}). Write it with: terraform output -json <output name> > ${file}`,
    );
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag}: ${file} is not JSON. Write it with: terraform output -json <output name> > ${file}`);
  }
  if (value && typeof value === "object" && "value" in value && typeof value.value === "object")
    value = value.value as Record<string, unknown>;
  const missing = ["certificate_pem", "private_key_pem", "ca_certificate_pem"].filter(
    (k) => typeof value?.[k] !== "string",
  );
  if (missing.length > 0) {
    throw new UsageError(
      `${flag}: ${file} has no ${missing.join(", ")}. It must be one operator output (certificate_pem, private_key_pem, ` +
        "ca_certificate_pem): terraform output -json <prefix>_operator_<name>, not the list of all outputs.",
    );
  }
  const [certPem, keyPem, caPem] = [value.certificate_pem, value.private_key_pem, value.ca_certificate_pem] as string[];
  let subject: [string, string][];
  try {
    subject = subjectOf(certPem);
    new X509Certificate(caPem);
  } catch (e) {
    throw new UsageError(`${flag}: ${file} holds a certificate that does not parse (${(e as Error).message}).`);
  }
  return { certPem, keyPem, caPem, subject };
}

export function parseProbeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ProbeOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        bundle: { type: "string" },
        token: { type: "string" },
        "no-oidc": { type: "boolean" },
        "scraper-bundle": { type: "string" },
        sidecar: { type: "string" },
        chat: { type: "string" },
        "audit-log": { type: "string" },
        routes: { type: "string" },
        "max-body-mb": { type: "string" },
        "max-requests": { type: "string" },
        model: { type: "string" },
        resolve: { type: "string", multiple: true },
        "timeout-ms": { type: "string" },
        json: { type: "string" },
        junit: { type: "string" },
        help: { type: "boolean" },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      `give exactly one target URL (got ${parsed.positionals.length}: ${parsed.positionals.join(" ") || "none"})\n\n${USAGE}`,
    );
  }
  if (!v.bundle)
    throw new UsageError(
      `--bundle is required: terraform output -json <prefix>_operator_<name> > bundle.json\n\n${USAGE}`,
    );
  const token = v.token ?? env.ZTA_PROBE_TOKEN;
  if (token !== undefined && (token === "" || /\s/.test(token)))
    throw new UsageError("--token: empty or contains whitespace; give the raw access token (no 'Bearer ').");
  if (v["no-oidc"] && token)
    throw new UsageError("--no-oidc and --token contradict each other: a deployment without OIDC takes no token.");
  const routes = v.routes
    ? v.routes
        .split(",")
        .map((r) => r.trim())
        .filter((r) => r !== "")
    : InferenceRoutes.DEFAULT;
  for (const r of routes) {
    if (!InferenceRoutes.ALL_OPENAI.includes(r))
      throw new UsageError(
        `--routes: "${r}" is not a route the library forwards; use routes from ${InferenceRoutes.ALL_OPENAI.join(", ")}.`,
      );
  }
  const resolve = new Map<string, string>();
  for (const entry of v.resolve ?? []) {
    const m = /^([^=\s]+)=(\S+)$/.exec(entry);
    if (!m)
      throw new UsageError(`--resolve: "${entry}" is not host=address[:port], e.g. ai.example.internal=127.0.0.1.`);
    resolve.set(m[1], m[2]);
  }
  if (v["audit-log"] && !fs.existsSync(v["audit-log"]))
    throw new UsageError(
      `--audit-log: ${v["audit-log"]} does not exist (e.g. docker logs -f inference-vllm-0-mtls > ${v["audit-log"]}).`,
    );
  return {
    target: httpsUrl(parsed.positionals[0], "target"),
    bundle: readBundle(v.bundle, "--bundle"),
    token,
    oidc: !v["no-oidc"],
    scraper: v["scraper-bundle"] ? readBundle(v["scraper-bundle"], "--scraper-bundle") : undefined,
    sidecar: v.sidecar ? httpsUrl(v.sidecar, "--sidecar") : undefined,
    chat: v.chat ? httpsUrl(v.chat, "--chat") : undefined,
    auditLog: v["audit-log"],
    routes,
    maxBodyMb: count(v["max-body-mb"], "--max-body-mb", 4, 512),
    maxRequests: count(v["max-requests"], "--max-requests", 200, 10000),
    model: v.model,
    resolve,
    timeoutMs: count(v["timeout-ms"], "--timeout-ms", 10000, 600000),
    jsonFile: v.json,
    junitFile: v.junit,
  };
}

/** Why a check cannot run with these options (naming the flag that would let it), or undefined. */
function unmet(need: CheckNeed, o: ProbeOptions): string | undefined {
  switch (need) {
    case "session":
      return o.token || !o.oidc ? undefined : "needs --token (or --no-oidc for a deployment without OIDC)";
    case "oidc":
      return o.oidc ? undefined : "not applicable with --no-oidc";
    case "scraper-bundle":
      return o.scraper ? undefined : "needs --scraper-bundle";
    case "sidecar":
      return o.sidecar ? undefined : "needs --sidecar (run from the internal network)";
    case "chat":
      return o.chat ? undefined : "needs --chat";
    case "audit-log":
      return o.auditLog ? undefined : "needs --audit-log (the sidecar's access log)";
  }
}

/** Runs every check in table order, reporting each as it finishes. */
export async function runProbe(
  o: ProbeOptions,
  onResult: (r: CheckResult) => void = () => undefined,
  checks: Check[] = CHECKS,
): Promise<ProbeReport> {
  const started = Date.now();
  const named = new Set([o.target, o.sidecar, o.chat].filter((u): u is URL => u !== undefined).map((u) => u.hostname));
  const client = new ProbeClient(named, o.resolve, o.timeoutMs);
  const unreachable = await client.reachable(o.target);
  if (unreachable) {
    const via = o.resolve.has(o.target.hostname)
      ? ` (dialing ${o.resolve.get(o.target.hostname)} for it, from --resolve)`
      : "";
    throw new UsageError(
      `cannot reach ${o.target.host}${via}: ${unreachable}. Check the URL, --resolve, and that the stack is deployed and published there.`,
    );
  }
  let certs: ProbeCertificates | undefined;
  const ctx: ProbeContext = { ...o, client, certs: () => (certs ??= probeCertificates(o.bundle.subject)) };
  const results: CheckResult[] = [];
  for (const check of checks) {
    const why = check.needs.map((n) => unmet(n, o)).find((w) => w !== undefined);
    let result: CheckResult;
    if (why) {
      result = skipped(check, why);
    } else {
      const t = Date.now();
      try {
        const out = await check.run(ctx);
        result = {
          id: check.id,
          group: check.group,
          title: check.title,
          status: out.pass ? "PASS" : "FAIL",
          sent: out.sent,
          expected: out.expected,
          got: out.got,
          ms: Date.now() - t,
        };
      } catch (e) {
        // A check that breaks is a failure with its reason, not a crash of the run.
        result = {
          id: check.id,
          group: check.group,
          title: check.title,
          status: "FAIL",
          sent: "-",
          expected: "the check to run",
          got: `error: ${(e as Error).message}`,
          ms: Date.now() - t,
        };
      }
    }
    results.push(result);
    onResult(result);
  }
  const by = (s: string) => results.filter((r) => r.status === s).length;
  return {
    target: o.target.origin,
    startedAt: new Date(started).toISOString(),
    ms: Date.now() - started,
    requests: client.requests,
    results,
    passed: by("PASS"),
    failed: by("FAIL"),
    skipped: by("SKIP"),
  };
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

/** The command: returns the exit code. */
export async function main(argv: string[], io: Io = consoleIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const o = parseProbeArgs(argv, env);
    if (o === "help") {
      io.out(USAGE);
      return 0;
    }
    const dial = o.resolve.get(o.target.hostname);
    io.out(
      `zta-probe ${o.target.origin}${dial ? ` (dialing ${dial})` : ""}: ${CHECKS.length} checks, at most ${o.maxRequests} requests for the rate limit`,
    );
    io.out(tableHeader());
    const report = await runProbe(o, (r) => io.out(tableLine(r)));
    io.out(summaryLine(report));
    if (o.jsonFile) fs.writeFileSync(o.jsonFile, toJson(report));
    if (o.junitFile) fs.writeFileSync(o.junitFile, toJunit(report));
    return report.failed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`zta-probe: ${e.message}`);
      return 2;
    }
    io.err(`zta-probe: internal error: ${(e as Error).message}`);
    return 2;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
