/**
 * Request-path benchmark: the SecureInference chain (real Caddy edge + real nginx sidecar with the
 * configs the constructs render, OIDC gate stubbed) and a reference nginx left at its defaults,
 * each measured against the same mock vLLM reached directly, in the same run, on loopback.
 *
 *   direct     client --HTTP--> mock vLLM
 *   chain      client --TLS+client cert--> caddy --forward_auth--> stub gate
 *                                             '--mTLS--> nginx --HTTP--> mock vLLM
 *   reference  client --HTTP--> nginx (proxy_pass and nothing else: HTTP/1.0 upstream, buffering on) --> mock vLLM
 *
 * The mock and the gate run in processes of their own (bench/servers.ts). Every request has a
 * timeout; every process is stopped in `finally`.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { performance } from "perf_hooks";
import { Chain, startChain } from "../test/support/chain";
import { MOCK_MODEL } from "../test/support/mocks";
import { TestPki, createPki } from "../test/support/pki";
import {
  ManagedProcess,
  freePorts,
  makeTempDir,
  nginxStarted,
  nginxTest,
  requireBinary,
  startNginx,
} from "../test/support/processes";
import { E2E_DOMAIN, renderChain } from "../test/support/render";
import { canMeasureCpu, selfCpuMs, treeCpuMsEach } from "./cpu";
import { Summary, eventsPerChunk, summarize } from "./stats";

export interface RequestPathOptions {
  /** Tokens per streamed answer. */
  readonly tokens: number;
  /** Interval between streamed tokens at the mock, ms. */
  readonly tokenIntervalMs: number;
  /** Streamed requests per target (sequential, after warm-up). */
  readonly streams: number;
  /** Streamed requests through the reference proxy (each takes the whole generation time). */
  readonly referenceStreams: number;
  /** Sequential non-streamed requests at concurrency 1. */
  readonly requestsC1: number;
  /** Non-streamed requests at concurrency `concurrency`. */
  readonly requestsConcurrent: number;
  readonly concurrency: number;
  /** Each measurement is split into this many rounds, targets taking turns within a round. */
  readonly rounds: number;
  /** Per-request timeout, ms. */
  readonly timeoutMs: number;
}

export const DEFAULT_REQUEST_PATH_OPTIONS: RequestPathOptions = {
  tokens: 20,
  tokenIntervalMs: 20,
  streams: 50,
  referenceStreams: 20,
  requestsC1: 500,
  requestsConcurrent: 2000,
  concurrency: 16,
  rounds: 5,
  timeoutMs: 10_000,
};

export interface StreamingFigures {
  readonly streams: number;
  /** Request written -> first complete token event received, ms. */
  readonly ttftMs: Summary;
  /** Between consecutive token events of one stream, ms, pooled over all streams. */
  readonly interTokenGapMs: Summary;
  /** Share of inter-token gaps shorter than half the mock's interval (tokens that arrived batched). */
  readonly gapsUnderHalfInterval: number;
  /** Request written -> end of response, ms. */
  readonly totalMs: Summary;
  /** Most token events the client received in one read (one socket `data` event). */
  readonly maxTokenEventsPerChunk: number;
  /** Of the reads that carried token events, the share carrying exactly one. */
  readonly singleTokenChunkShare: number;
  readonly tokenEvents: number;
  readonly errors: number;
}

export interface LatencyFigures {
  readonly concurrency: number;
  readonly requests: number;
  /** Request written -> response complete, ms. */
  readonly latencyMs: Summary;
  readonly requestsPerSecond: number;
  /**
   * CPU ms per request of every server process of the run (mock, gate, caddy, both nginx, workers
   * included; idle ones add ~nothing), and of the client. Undefined where /proc is missing.
   */
  readonly serverCpuMsPerRequest?: number;
  /** The same, per server process (with its children): where the CPU goes. */
  readonly serverCpuMsPerRequestByProcess?: Record<string, number>;
  readonly clientCpuMsPerRequest?: number;
  readonly errors: number;
}

export interface TargetFigures {
  readonly description: string;
  readonly streaming: StreamingFigures;
  readonly c1: LatencyFigures;
  readonly concurrent: LatencyFigures;
}

export interface RequestPathResults {
  readonly options: RequestPathOptions;
  readonly targets: { direct: TargetFigures; chain: TargetFigures; reference: TargetFigures };
  /** Sanity: requests sent to the chain (warm-ups included), and how many the sidecar's audit log holds. */
  readonly chainRequestsSent: number;
  readonly chainRequestsAudited: number;
}

// ---------------------------------------------------------------------------------------------
// Targets and one timed request
// ---------------------------------------------------------------------------------------------

interface Target {
  readonly name: string;
  readonly description: string;
  readonly protocol: "http" | "https";
  readonly port: number;
  /** A keep-alive agent holding at most `maxSockets` connections. */
  agent(maxSockets: number): http.Agent;
  /** Headers for one request (the chain: a distinct identity per request, see below). */
  headers(): Record<string, string>;
}

interface TimedResponse {
  readonly status: number;
  readonly startedAt: number;
  readonly endedAt: number;
  /** When each read of the response arrived, and its bytes (decrypted for TLS), in order; streamed requests only. */
  readonly reads: { at: number; text: string }[];
}

function timedRequest(
  target: Target,
  agent: http.Agent,
  body: string,
  timeoutMs: number,
  recordReads = false,
): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const reads: { at: number; text: string }[] = [];
    const options: https.RequestOptions = {
      host: "127.0.0.1",
      port: target.port,
      path: "/v1/chat/completions",
      method: "POST",
      agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...target.headers() },
    };
    const transport = target.protocol === "https" ? https : http;
    let startedAt = 0;
    const timer = setTimeout(
      () => req.destroy(new Error(`${target.name}: no complete response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const req = transport.request(options, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, startedAt, endedAt: performance.now(), reads });
      });
      res.on("error", reject);
    });
    // Every read the socket delivers during this exchange (raw HTTP/1.1 bytes, chunk framing included).
    req.on("socket", (socket) => {
      if (!recordReads) return;
      const onData = (d: Buffer): void => {
        reads.push({ at: performance.now(), text: d.toString("latin1") });
      };
      socket.on("data", onData);
      req.once("close", () => socket.off("data", onData));
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    startedAt = performance.now();
    req.end(body);
  });
}

const STREAM_BODY = JSON.stringify({ model: MOCK_MODEL, messages: [{ role: "user", content: "hi" }], stream: true });
const PLAIN_BODY = JSON.stringify({ model: MOCK_MODEL, messages: [{ role: "user", content: "hi" }] });

const isTokenEvent = (event: string): boolean => !event.startsWith("data: [DONE]");

// ---------------------------------------------------------------------------------------------
// Measurements: targets interleaved in rounds, so background load and drift hit all of them alike
// ---------------------------------------------------------------------------------------------

/** How many of `total` items round `round` of `rounds` takes (the rounds add up to `total`). */
function share(total: number, round: number, rounds: number): number {
  return Math.floor(((round + 1) * total) / rounds) - Math.floor((round * total) / rounds);
}

class StreamingSamples {
  readonly ttft: number[] = [];
  readonly gaps: number[] = [];
  readonly totals: number[] = [];
  maxPerChunk = 0;
  chunksWithTokens = 0;
  singleTokenChunks = 0;
  tokenEvents = 0;
  errors = 0;

  add(r: TimedResponse | undefined, o: RequestPathOptions): void {
    const counts = r
      ? eventsPerChunk(
          r.reads.map((x) => x.text),
          isTokenEvent,
        )
      : [];
    const arrivals = r ? counts.flatMap((n, j) => Array<number>(n).fill(r.reads[j].at)) : [];
    if (!r || r.status !== 200 || arrivals.length !== o.tokens) {
      this.errors++;
      return;
    }
    this.ttft.push(arrivals[0] - r.startedAt);
    for (let j = 1; j < arrivals.length; j++) this.gaps.push(arrivals[j] - arrivals[j - 1]);
    this.totals.push(r.endedAt - r.startedAt);
    for (const n of counts.filter((c) => c > 0)) {
      this.chunksWithTokens++;
      if (n === 1) this.singleTokenChunks++;
      this.maxPerChunk = Math.max(this.maxPerChunk, n);
    }
    this.tokenEvents += arrivals.length;
  }

  figures(name: string, o: RequestPathOptions): StreamingFigures {
    if (this.ttft.length === 0) throw new Error(`${name}: every streamed request failed`);
    return {
      streams: this.ttft.length,
      ttftMs: summarize(this.ttft),
      interTokenGapMs: summarize(this.gaps),
      gapsUnderHalfInterval: this.gaps.filter((g) => g < o.tokenIntervalMs / 2).length / this.gaps.length,
      totalMs: summarize(this.totals),
      maxTokenEventsPerChunk: this.maxPerChunk,
      singleTokenChunkShare: this.singleTokenChunks / this.chunksWithTokens,
      tokenEvents: this.tokenEvents,
      errors: this.errors,
    };
  }
}

class LatencySamples {
  readonly latencies: number[] = [];
  errors = 0;
  seconds = 0;
  readonly serverCpuMs: number[];
  clientCpuMs = 0;

  constructor(private readonly servers: readonly ServerPid[]) {
    this.serverCpuMs = servers.map(() => 0);
  }

  figures(name: string, concurrency: number): LatencyFigures {
    const cpuMeasured = this.servers.length > 0;
    if (this.latencies.length === 0) throw new Error(`${name}: every request failed at concurrency ${concurrency}`);
    const requests = this.latencies.length;
    const all = requests + this.errors;
    return {
      concurrency,
      requests,
      latencyMs: summarize(this.latencies),
      requestsPerSecond: requests / this.seconds,
      serverCpuMsPerRequest: cpuMeasured ? this.serverCpuMs.reduce((a, b) => a + b, 0) / all : undefined,
      serverCpuMsPerRequestByProcess: cpuMeasured
        ? Object.fromEntries(this.servers.map((s, i) => [s.name, this.serverCpuMs[i] / all]))
        : undefined,
      clientCpuMsPerRequest: cpuMeasured ? this.clientCpuMs / all : undefined,
      errors: this.errors,
    };
  }
}

/** A server process whose CPU time (with its children's) is read around every measured batch. */
interface ServerPid {
  readonly name: string;
  readonly pid: number;
}

/**
 * `n` non-streamed requests from `concurrency` workers; records into `samples` unless it is a
 * warm-up, with the CPU time of the server process trees (none given: CPU not measured).
 */
async function latencyBatch(
  target: Target,
  agent: http.Agent,
  concurrency: number,
  n: number,
  o: RequestPathOptions,
  servers: readonly ServerPid[],
  samples?: LatencySamples,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        const r = await timedRequest(target, agent, PLAIN_BODY, o.timeoutMs);
        if (r.status !== 200) {
          if (samples) samples.errors++;
        } else samples?.latencies.push(r.endedAt - r.startedAt);
      } catch {
        if (samples) samples.errors++;
      }
    }
  };
  const pids = servers.map((s) => s.pid);
  const measureCpu = samples !== undefined && pids.length > 0;
  const serverCpuBefore = measureCpu ? treeCpuMsEach(pids) : [];
  const clientCpuBefore = selfCpuMs();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (!samples) return;
  samples.seconds += (performance.now() - started) / 1000;
  if (measureCpu) {
    treeCpuMsEach(pids).forEach((ms, i) => (samples.serverCpuMs[i] += ms - serverCpuBefore[i]));
    samples.clientCpuMs += selfCpuMs() - clientCpuBefore;
  }
}

/** Streamed requests, sequential on one keep-alive connection per target. */
async function measureStreaming(
  targets: Target[],
  counts: number[],
  o: RequestPathOptions,
): Promise<StreamingFigures[]> {
  const agents = targets.map((t) => t.agent(1));
  try {
    const samples = targets.map(() => new StreamingSamples());
    for (let i = 0; i < targets.length; i++) {
      for (let k = 0; k < 3; k++) await timedRequest(targets[i], agents[i], STREAM_BODY, o.timeoutMs); // warm-up
    }
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        // Untimed: reopens the connection if the server closed it while the other targets ran.
        await timedRequest(targets[i], agents[i], PLAIN_BODY, o.timeoutMs);
        for (let k = 0; k < share(counts[i], round, o.rounds); k++) {
          samples[i].add(
            await timedRequest(targets[i], agents[i], STREAM_BODY, o.timeoutMs, true).catch(() => undefined),
            o,
          );
        }
      }
    }
    return samples.map((s, i) => s.figures(targets[i].name, o));
  } finally {
    agents.forEach((a) => a.destroy());
  }
}

/** Non-streamed requests at `concurrency`, each worker on its own keep-alive connection. */
async function measureLatency(
  targets: Target[],
  concurrency: number,
  count: number,
  o: RequestPathOptions,
  servers: readonly ServerPid[],
): Promise<LatencyFigures[]> {
  const agents = targets.map((t) => t.agent(concurrency));
  try {
    const samples = targets.map(() => new LatencySamples(servers));
    // Warm-up: connections, TLS sessions, upstream pools.
    for (let i = 0; i < targets.length; i++)
      await latencyBatch(targets[i], agents[i], concurrency, Math.max(50, concurrency * 5), o, []);
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        await latencyBatch(targets[i], agents[i], concurrency, share(count, round, o.rounds), o, servers, samples[i]);
      }
    }
    return samples.map((s, i) => s.figures(targets[i].name, concurrency));
  } finally {
    agents.forEach((a) => a.destroy());
  }
}

// ---------------------------------------------------------------------------------------------
// Processes: mock and gate in their own node processes, the reference nginx
// ---------------------------------------------------------------------------------------------

/** A child node process running bench/servers (compiled .js, or .ts through ts-node when run so). */
class ServerProcess {
  private readonly child: ChildProcess;
  private stderr = "";
  private exited = false;

  constructor(args: string[]) {
    const script = path.join(__dirname, `servers${path.extname(__filename)}`);
    const loader = script.endsWith(".ts") ? ["-r", "ts-node/register/transpile-only"] : [];
    this.child = spawn(process.execPath, [...loader, script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.child.once("exit", () => (this.exited = true));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The port it printed once listening; bounded wait. */
  port(timeoutMs = 20_000): Promise<number> {
    return new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`server process gave no port within ${timeoutMs} ms\n${this.stderr}`)),
        timeoutMs,
      );
      this.child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n")[0];
        if (out.includes("\n")) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      this.child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server process exited (${code}) before listening\n${this.stderr}`));
      });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin!.end();
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** nginx "the common way": proxy_pass and nothing else, so HTTP/1.0 to the upstream and proxy_buffering on (the defaults). */
export function referenceNginxConfig(listenPort: number, upstreamPort: number, runDir: string): string {
  return [
    "# Reference proxy: nginx defaults (proxy_buffering on, proxy_http_version 1.0), plain HTTP.",
    "worker_processes auto;", // as Debian's packaged nginx.conf, and the sidecar
    `pid ${runDir}/nginx.pid;`,
    "events {}",
    "http {",
    `    access_log ${runDir}/access.log;`,
    "    server {",
    `        listen 127.0.0.1:${listenPort};`,
    "        location / {",
    `            proxy_pass http://127.0.0.1:${upstreamPort};`,
    "        }",
    "    }",
    "}",
    "",
  ].join("\n");
}

async function startReferenceProxy(mockPort: number): Promise<{ port: number; process: ManagedProcess; dir: string }> {
  const dir = makeTempDir("zta-bench-reference-");
  const [port] = await freePorts(1);
  const confPath = path.join(dir, "nginx.conf");
  const errorLog = path.join(dir, "error.log");
  fs.writeFileSync(confPath, referenceNginxConfig(port, mockPort, dir));
  nginxTest(confPath, dir, errorLog);
  const proc = startNginx(confPath, dir, errorLog);
  // Ready on its own signal, as the suite's sidecar: nginx writes its pid file after binding.
  try {
    await proc.waitForPort(port, nginxStarted(proc, dir));
  } catch (err) {
    await proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { port, process: proc, dir };
}

export function toolVersions(): { caddy: string; nginx: string; node: string; openssl: string } {
  const out = (cmd: string, args: string[]): string => {
    const r = spawnSync(requireBinary(cmd), args, { encoding: "utf8" });
    return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  };
  return {
    caddy: out("caddy", ["version"]),
    nginx: out("nginx", ["-v"]).replace(/^nginx version: (nginx\/)?/, ""),
    node: process.version,
    openssl: out("openssl", ["version"]),
  };
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

export async function runRequestPath(
  o: RequestPathOptions = DEFAULT_REQUEST_PATH_OPTIONS,
  log: (s: string) => void = () => undefined,
): Promise<RequestPathResults> {
  const rendered = renderChain();
  const cookieName = rendered.sessionCookieName;
  if (!cookieName) throw new Error("the default chain has no OIDC gate session cookie; is oidc still on?");
  let pki: TestPki | undefined;
  let mock: ServerProcess | undefined;
  let gate: ServerProcess | undefined;
  let chain: Chain | undefined;
  let reference: { port: number; process: ManagedProcess; dir: string } | undefined;
  const cleanup = async (): Promise<void> => {
    await chain?.stop().catch(() => undefined);
    await reference?.process.stop().catch(() => undefined);
    if (reference) fs.rmSync(reference.dir, { recursive: true, force: true });
    await Promise.all([mock?.stop(), gate?.stop()].map((p) => p?.catch(() => undefined)));
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  };
  // Ctrl-C or a kill: caddy and nginx would outlive us (the mock and gate exit with their stdin).
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    pki = createPki(makeTempDir("zta-bench-pki-"), rendered.pkiNames);
    const pkiFile = path.join(pki.dir, "pki.json");
    fs.writeFileSync(pkiFile, JSON.stringify(pki));
    mock = new ServerProcess(["mock", String(o.tokens), String(o.tokenIntervalMs)]);
    gate = new ServerProcess(["gate", pkiFile, cookieName]);
    const [mockPort, gatePort] = await Promise.all([mock.port(), gate.port()]);
    chain = await startChain({
      pki,
      mock: { port: mockPort },
      gate: { port: gatePort },
      apiKey: randomBytes(24).toString("hex"),
    });
    reference = await startReferenceProxy(mockPort);

    const operator = pki.operator;
    const ca = pki.ca.certPem;
    let identity = 0;
    const plainTarget = (name: string, port: number, description: string): Target => ({
      name,
      description,
      protocol: "http",
      port,
      agent: (maxSockets) => new http.Agent({ keepAlive: true, maxSockets }),
      headers: () => ({}),
    });
    const targets = {
      direct: plainTarget("direct", mockPort, "client -> mock vLLM, plain HTTP/1.1 keep-alive"),
      chain: {
        name: "chain",
        description:
          "client -TLS+client cert-> caddy (forward_auth -> stub gate over mTLS) -mTLS-> nginx sidecar -HTTP-> mock vLLM; default stack configs",
        protocol: "https",
        port: chain.ports.edge,
        agent: (maxSockets) =>
          new https.Agent({
            keepAlive: true,
            maxSockets,
            ca,
            cert: operator.certPem,
            key: operator.keyPem,
            servername: E2E_DOMAIN,
          }),
        // A distinct machine identity (bearer token the stub gate accepts) per request: the default
        // per-identity limits (60/min, burst 20, 8 concurrent) stay in the path at full cost, but
        // the benchmark measures the layers, not the limiter refusing it.
        headers: () => ({ Host: E2E_DOMAIN, Authorization: `Bearer valid-bench-${identity++}` }),
      } as Target,
      reference: plainTarget(
        "reference",
        reference.port,
        "client -HTTP-> nginx with default buffering (proxy_pass only, HTTP/1.0 upstream) -> mock vLLM",
      ),
    };
    const list = [targets.direct, targets.chain, targets.reference];
    const named: [string, number | undefined][] = [
      ["mock vLLM", mock.pid],
      ["stub gate", gate.pid],
      ["caddy edge", chain.caddy.pid],
      ["nginx sidecar", chain.nginx.pid],
      ["reference nginx", reference.process.pid],
    ];
    const servers: ServerPid[] =
      canMeasureCpu() && named.every(([, pid]) => pid !== undefined)
        ? named.map(([name, pid]) => ({ name, pid: pid! }))
        : [];
    log(
      `request path: streamed requests (${o.streams}/${o.streams}/${o.referenceStreams}), ${o.rounds} interleaved rounds`,
    );
    const streaming = await measureStreaming(list, [o.streams, o.streams, o.referenceStreams], o);
    log(`request path: ${o.requestsC1} requests per target at concurrency 1`);
    const c1 = await measureLatency(list, 1, o.requestsC1, o, servers);
    log(`request path: ${o.requestsConcurrent} requests per target at concurrency ${o.concurrency}`);
    const concurrent = await measureLatency(list, o.concurrency, o.requestsConcurrent, o, servers);
    const figures = list.map((t, i): TargetFigures => ({
      description: t.description,
      streaming: streaming[i],
      c1: c1[i],
      concurrent: concurrent[i],
    }));
    const [direct, chainFigures, referenceFigures] = figures;
    // Every chain request passed the gate and reached the sidecar, under its own identity.
    const chainRequestsAudited = chain.auditLog().filter((l) => String(l.identity).startsWith("bench-")).length;
    return {
      options: o,
      targets: { direct, chain: chainFigures, reference: referenceFigures },
      chainRequestsSent: identity,
      chainRequestsAudited,
    };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}
