/**
 * Synth-path benchmark: how long synthesis of the default stack and of 1, 10 and 50 replicas takes,
 * each as a ratio to an empty cdktf stack synthesized the same way in the same run. Three ways:
 *
 * - in-process: construct + `app.synth()` in this (warm) process, modules already loaded. When the
 *   benchmark runs as `npm run bench` this is compiled JavaScript (tsc -p tsconfig.bench.json).
 * - node process: `node <compiled app>.js` per synth, wall time including process start and
 *   module loading (what a compiled app costs under `cdktf synth`).
 * - ts-node process: `npx ts-node --transpile-only <app>.ts`, the command cdktf.json gives
 *   `cdktf synth` (the default stack is stacks/main.ts itself).
 *
 * Each kind is warmed up once, then measured in rounds (kinds interleaved, so drift hits all of
 * them alike, and a full GC before each); the figure is the median. Only the app is timed, not
 * the cdktf CLI around it (which adds its own start-up and reads the output).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { synthesizeEmpty } from "./empty-app";
import { synthesize } from "./synth-app";
import { LinearFit, Summary, linearFit, summarize } from "./stats";

export const SYNTH_REPLICAS = [1, 10, 50];

export interface SynthOptions {
  readonly inProcessRounds: number;
  readonly nodeProcessRounds: number;
  readonly tsNodeProcessRounds: number;
  /** Per child process, ms. */
  readonly timeoutMs: number;
}

export const DEFAULT_SYNTH_OPTIONS: SynthOptions = {
  inProcessRounds: 7,
  nodeProcessRounds: 5,
  tsNodeProcessRounds: 5,
  timeoutMs: 120_000,
};

export interface SynthKindFigures {
  readonly kind: string;
  /** Wall time per synth, ms. */
  readonly ms: Summary;
  /** Median over the empty stack's median. */
  readonly ratioToEmpty: number;
}

export interface SynthModeFigures {
  readonly mode: string;
  readonly how: string;
  readonly kinds: SynthKindFigures[];
  /** Least-squares line through the medians of the 1/10/50-replica stacks: ms per replica. */
  readonly replicaFit: LinearFit;
  /** Added ms per added replica from 1 to 10 and from 10 to 50 (equal if the cost is linear). */
  readonly marginalMsPerReplica: { from1to10: number; from10to50: number };
}

export interface SynthResults {
  readonly options: SynthOptions;
  readonly modes: SynthModeFigures[];
}

const KINDS = ["empty", "default", ...SYNTH_REPLICAS.map((n) => `replicas-${n}`)];

/** The repository root: where package.json is, above this file (bench/ or bench/results/build/bench/). */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, "package.json");
    if (
      fs.existsSync(pkg) &&
      (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "cdktf-zero-trust-ai"
    )
      return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`synth benchmark: no package.json of cdktf-zero-trust-ai above ${__dirname}`);
}

/** Times `synth(outdir)` into a fresh temp dir; checks it wrote a manifest; removes the dir untimed. */
function timeSynth(synth: (outdir: string) => void): number {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-bench-synth-"));
  // Start every synth from a collected heap (node --expose-gc, as `npm run bench` runs), so one
  // stack does not pay for the garbage of the one before it.
  (globalThis as { gc?: () => void }).gc?.();
  try {
    const started = performance.now();
    synth(outdir);
    const ms = performance.now() - started;
    if (!fs.existsSync(path.join(outdir, "manifest.json")))
      throw new Error(`synth wrote no manifest.json into ${outdir}`);
    return ms;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function spawnSynth(command: string, args: string[], cwd: string, timeoutMs: number): (outdir: string) => void {
  return (outdir) => {
    const r = spawnSync(command, args, {
      cwd,
      env: { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" },
      encoding: "utf8",
      timeout: timeoutMs,
    });
    if (r.status !== 0)
      throw new Error(`${command} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  };
}

function measureMode(
  mode: string,
  how: string,
  rounds: number,
  synthOf: (kind: string) => (outdir: string) => void,
): SynthModeFigures {
  const samples = new Map<string, number[]>(KINDS.map((k) => [k, []]));
  for (const kind of KINDS) timeSynth(synthOf(kind)); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const kind of KINDS) samples.get(kind)!.push(timeSynth(synthOf(kind)));
  }
  const summaries = new Map(KINDS.map((k) => [k, summarize(samples.get(k)!)]));
  const empty = summaries.get("empty")!.p50;
  const medianOf = (n: number): number => summaries.get(`replicas-${n}`)!.p50;
  return {
    mode,
    how,
    kinds: KINDS.map((kind) => ({ kind, ms: summaries.get(kind)!, ratioToEmpty: summaries.get(kind)!.p50 / empty })),
    replicaFit: linearFit(SYNTH_REPLICAS, SYNTH_REPLICAS.map(medianOf)),
    marginalMsPerReplica: {
      from1to10: (medianOf(10) - medianOf(1)) / 9,
      from10to50: (medianOf(50) - medianOf(10)) / 40,
    },
  };
}

export function runSynthPath(
  o: SynthOptions = DEFAULT_SYNTH_OPTIONS,
  log: (s: string) => void = () => undefined,
): SynthResults {
  const root = repoRoot();
  const compiled = __filename.endsWith(".js");
  const modes: SynthModeFigures[] = [];

  log("synth path: in-process");
  modes.push(
    measureMode(
      "in-process",
      compiled
        ? `compiled JavaScript (${path.relative(root, __dirname)}), construct + app.synth() in a warm process`
        : "TypeScript transpiled by ts-node in this process (not compiled: run `npm run bench` for compiled JS)",
      o.inProcessRounds,
      (kind) => (outdir) => (kind === "empty" ? synthesizeEmpty(outdir) : synthesize(kind, outdir)),
    ),
  );

  if (compiled) {
    log("synth path: node process per synth (compiled JavaScript)");
    const buildDir = path.dirname(__dirname); // bench/results/build
    modes.push(
      measureMode(
        "node process",
        `node ${path.relative(root, buildDir)}/<app>.js per synth, wall time incl. process start`,
        o.nodeProcessRounds,
        (kind) => {
          const args =
            kind === "empty"
              ? [path.join(__dirname, "empty-app.js")]
              : kind === "default"
                ? [path.join(buildDir, "stacks", "main.js")]
                : [path.join(__dirname, "synth-app.js"), kind];
          return spawnSynth(process.execPath, args, root, o.timeoutMs);
        },
      ),
    );
  }

  log("synth path: npx ts-node --transpile-only per synth (the cdktf.json app command)");
  modes.push(
    measureMode(
      "ts-node process",
      "npx ts-node --transpile-only <app>.ts per synth, as cdktf.json's app (default: stacks/main.ts)",
      o.tsNodeProcessRounds,
      (kind) => {
        const app =
          kind === "empty"
            ? ["bench/empty-app.ts"]
            : kind === "default"
              ? ["stacks/main.ts"]
              : ["bench/synth-app.ts", kind];
        return spawnSynth("npx", ["ts-node", "--transpile-only", ...app], root, o.timeoutMs);
      },
    ),
  );
  return { options: o, modes };
}
