/**
 * `npm run bench`: what the security layers cost on the request path and at synth time, each
 * measured against the direct path in the same run. Prints a table (markdown, as in
 * docs/benchmarks.md) and writes every figure to bench/results/latest.json.
 *
 * Bounded: fixed request counts, a timeout on every request and child process, every process
 * stopped at the end even on error. Loopback only. The targets are reported, never tuned to.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  DEFAULT_REQUEST_PATH_OPTIONS,
  RequestPathResults,
  TargetFigures,
  runRequestPath,
  toolVersions,
} from "./request-path";
import { DEFAULT_SYNTH_OPTIONS, SynthResults, repoRoot, runSynthPath } from "./synth-path";

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const pct = (n: number): string => `${(n * 100).toFixed(0)}%`;
const signed = (n: number): string => `${n >= 0 ? "+" : ""}${n.toFixed(2)}`;

/** Whether the figures meet the issue's targets (fixed here, before any run; never tuned). */
export function checkTargets(rp: RequestPathResults, sp: SynthResults): TargetCheck[] {
  const { direct, chain } = rp.targets;
  const ttftOverhead = chain.streaming.ttftMs.p50 - direct.streaming.ttftMs.p50;
  const c1Overhead = chain.c1.latencyMs.p50 - direct.c1.latencyMs.p50;
  const checks: TargetCheck[] = [
    {
      target: "chain: first-token overhead at the median <= 3 ms",
      measured: `${signed(ttftOverhead)} ms`,
      met: ttftOverhead <= 3,
    },
    {
      target: "chain: every streamed token delivered as its own chunk",
      measured: `max ${chain.streaming.maxTokenEventsPerChunk} token event(s) per read; ${pct(chain.streaming.singleTokenChunkShare)} of reads carry exactly one`,
      met: chain.streaming.maxTokenEventsPerChunk === 1 && chain.streaming.errors === 0,
    },
    {
      target: "chain: per-request overhead p50 <= 1.5 ms at concurrency 1",
      measured: `${signed(c1Overhead)} ms`,
      met: c1Overhead <= 1.5,
    },
  ];
  for (const mode of sp.modes) {
    const def = mode.kinds.find((k) => k.kind === "default")!;
    checks.push({
      target: `synth (${mode.mode}): default stack <= 2x empty stack`,
      measured: `${f2(def.ratioToEmpty)}x`,
      met: def.ratioToEmpty <= 2,
    });
    checks.push({
      target: `synth (${mode.mode}): cost linear in replicas (R^2 >= 0.99 over 1/10/50)`,
      measured: `R^2 ${mode.replicaFit.r2.toFixed(4)}; ${f2(mode.replicaFit.slope)} ms/replica`,
      met: mode.replicaFit.r2 >= 0.99,
    });
  }
  return checks;
}

function requestTable(rp: RequestPathResults): string {
  const { direct, chain, reference } = rp.targets;
  const o = rp.options;
  const row = (label: string, value: (t: TargetFigures) => number, fmt = f2, delta = true): string => {
    const d = value(direct);
    const cell = (t: TargetFigures): string => (delta ? `${fmt(value(t))} (${signed(value(t) - d)})` : fmt(value(t)));
    return `| ${label} | ${fmt(d)} | ${cell(chain)} | ${cell(reference)} |`;
  };
  const ratio = (label: string, value: (t: TargetFigures) => number): string =>
    `| ${label} | ${f1(value(direct))} | ${f1(value(chain))} (${f2(value(chain) / value(direct))}x) | ${f1(value(reference))} (${f2(value(reference) / value(direct))}x) |`;
  const cpu = (label: string, value: (t: TargetFigures) => number): string =>
    `| ${label} | ${f2(value(direct))} | ${f2(value(chain))} (${f1(value(chain) / value(direct))}x) | ${f2(value(reference))} (${f1(value(reference) / value(direct))}x) |`;
  const text = (label: string, value: (t: TargetFigures) => string): string =>
    `| ${label} | ${value(direct)} | ${value(chain)} | ${value(reference)} |`;
  return [
    `Request path: mock vLLM streaming ${o.tokens} tokens every ${o.tokenIntervalMs} ms; ` +
      `${o.streams} streams (reference: ${o.referenceStreams}), ${o.requestsC1} requests at concurrency 1, ` +
      `${o.requestsConcurrent} at concurrency ${o.concurrency}; keep-alive clients. Times in ms; (+x) is the difference to direct.`,
    "",
    "| | direct | chain (default stack) | reference nginx (default buffering) |",
    "|---|---|---|---|",
    row("time to first token p50", (t) => t.streaming.ttftMs.p50),
    row("time to first token p99", (t) => t.streaming.ttftMs.p99),
    row("inter-token gap p50", (t) => t.streaming.interTokenGapMs.p50),
    row("inter-token gap p99", (t) => t.streaming.interTokenGapMs.p99),
    text("gaps under half the interval", (t) => pct(t.streaming.gapsUnderHalfInterval)),
    text("max token events per read", (t) => String(t.streaming.maxTokenEventsPerChunk)),
    text("reads with exactly one token event", (t) => pct(t.streaming.singleTokenChunkShare)),
    row("latency p50, concurrency 1", (t) => t.c1.latencyMs.p50),
    row("latency p99, concurrency 1", (t) => t.c1.latencyMs.p99),
    row(`latency p50, concurrency ${o.concurrency}`, (t) => t.concurrent.latencyMs.p50),
    row(`latency p99, concurrency ${o.concurrency}`, (t) => t.concurrent.latencyMs.p99),
    ratio(`throughput req/s, concurrency ${o.concurrency} (x direct)`, (t) => t.concurrent.requestsPerSecond),
    ...(direct.c1.serverCpuMsPerRequest === undefined
      ? []
      : [
          cpu("server CPU ms per request, concurrency 1 (x direct)", (t) => t.c1.serverCpuMsPerRequest!),
          cpu(
            `server CPU ms per request, concurrency ${o.concurrency} (x direct)`,
            (t) => t.concurrent.serverCpuMsPerRequest!,
          ),
          cpu(
            `client CPU ms per request, concurrency ${o.concurrency} (x direct)`,
            (t) => t.concurrent.clientCpuMsPerRequest!,
          ),
        ]),
    text("failed requests", (t) => String(t.streaming.errors + t.c1.errors + t.concurrent.errors)),
  ].join("\n");
}

/** Where the server CPU per request goes at the higher concurrency, per target (processes above 0.005 ms). */
function cpuBreakdown(rp: RequestPathResults): string[] {
  const lines = Object.entries(rp.targets).flatMap(([name, t]) => {
    const by = t.concurrent.serverCpuMsPerRequestByProcess;
    if (!by) return [];
    const parts = Object.entries(by)
      .filter(([, ms]) => ms >= 0.005)
      .map(([process, ms]) => `${process} ${f2(ms)}`);
    return [`- ${name}: ${parts.join(", ")}`];
  });
  if (lines.length === 0) return [];
  return [`Server CPU ms per request at concurrency ${rp.options.concurrency}, by process:`, ...lines, ""];
}

function synthTable(sp: SynthResults): string {
  const header = `| stack | ${sp.modes.map((m) => `${m.mode} ms (x empty)`).join(" | ")} |`;
  const kinds = sp.modes[0].kinds.map((k) => k.kind);
  const label = (k: string): string =>
    k === "empty"
      ? "empty cdktf stack"
      : k === "default"
        ? "default stack"
        : k.replace("replicas-", "") + " replica(s)";
  const rows = kinds.map((kind) => {
    const cells = sp.modes.map((m) => {
      const k = m.kinds.find((x) => x.kind === kind)!;
      return `${f1(k.ms.p50)} (${f2(k.ratioToEmpty)}x)`;
    });
    return `| ${label(kind)} | ${cells.join(" | ")} |`;
  });
  return [
    "Synth path: median wall time per synthesis; (x empty) is the ratio to an empty cdktf stack synthesized the same way.",
    ...sp.modes.map((m) => `- ${m.mode}: ${m.how}`),
    "",
    header,
    `|---|${sp.modes.map(() => "---").join("|")}|`,
    ...rows,
    `| ms per replica (least squares, 1/10/50) | ${sp.modes.map((m) => `${f2(m.replicaFit.slope)} (R^2 ${m.replicaFit.r2.toFixed(4)})`).join(" | ")} |`,
    `| ms per added replica 1->10 / 10->50 | ${sp.modes.map((m) => `${f2(m.marginalMsPerReplica.from1to10)} / ${f2(m.marginalMsPerReplica.from10to50)}`).join(" | ")} |`,
  ].join("\n");
}

function targetTable(checks: TargetCheck[]): string {
  return [
    "| target | measured | met |",
    "|---|---|---|",
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met ? "yes" : "**no**"} |`),
  ].join("\n");
}

interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryMb: number;
  readonly platform: string;
  readonly release: string;
  readonly arch: string;
}

function machine(): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const tools = toolVersions();
  // Other work on the machine skews every figure; the load average shows whether there was some.
  const loadBefore = os.loadavg()[0];
  const requestPath = await runRequestPath(DEFAULT_REQUEST_PATH_OPTIONS, log);
  const synthPath = runSynthPath(DEFAULT_SYNTH_OPTIONS, log);
  const targets = checkTargets(requestPath, synthPath);
  const m = { ...machine(), loadAverage1mBefore: loadBefore, loadAverage1mAfter: os.loadavg()[0] };
  const table = [
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryMb} MB; ${m.platform} ${m.release}. ` +
      `Caddy ${tools.caddy.split(" ")[0]}, nginx ${tools.nginx}, node ${tools.node}. Client, Caddy, nginx, mock and gate share these cores; ` +
      `1-minute load average ${f2(loadBefore)} before, ${f2(m.loadAverage1mAfter)} after the run.`,
    "",
    requestTable(requestPath),
    "",
    ...cpuBreakdown(requestPath),
    `Chain requests sent (warm-ups included): ${requestPath.chainRequestsSent}; in the sidecar's audit log: ${requestPath.chainRequestsAudited}.`,
    "",
    synthTable(synthPath),
    "",
    targetTable(targets),
  ].join("\n");
  const results = {
    generatedAt: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    machine: m,
    tools,
    requestPath,
    synthPath,
    targets,
    table,
  };
  const outDir = path.join(repoRoot(), "bench", "results");
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, "latest.json");
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `${table}\n\nEvery figure: ${path.relative(process.cwd(), outFile)} (${results.durationSeconds.toFixed(0)} s)\n`,
  );
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`benchmark failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
