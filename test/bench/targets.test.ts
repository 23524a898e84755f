import {
  DEFAULT_REQUEST_PATH_OPTIONS,
  LatencyFigures,
  RequestPathResults,
  StreamingFigures,
  TargetFigures,
} from "../../bench/request-path";
import { checkTargets } from "../../bench/run";
import { SynthResults } from "../../bench/synth-path";
import { linearFit, summarize } from "../../bench/stats";

// Figures built by hand: the checks must say "met" for good ones and "not met" for bad ones.
function target(ttftP50: number, maxPerChunk: number, c1P50: number): TargetFigures {
  const streaming: StreamingFigures = {
    streams: 1,
    ttftMs: summarize([ttftP50]),
    interTokenGapMs: summarize([20]),
    gapsUnderHalfInterval: 0,
    totalMs: summarize([400]),
    maxTokenEventsPerChunk: maxPerChunk,
    singleTokenChunkShare: maxPerChunk === 1 ? 1 : 0,
    tokenEvents: 20,
    errors: 0,
  };
  const latency = (p50: number): LatencyFigures => ({
    concurrency: 1,
    requests: 1,
    latencyMs: summarize([p50]),
    requestsPerSecond: 1,
    errors: 0,
  });
  return { description: "", streaming, c1: latency(c1P50), concurrent: latency(c1P50) };
}

function requestPath(chain: TargetFigures): RequestPathResults {
  const direct = target(1, 1, 0.2);
  return {
    options: DEFAULT_REQUEST_PATH_OPTIONS,
    targets: { direct, chain, reference: direct },
    chainRequestsSent: 1,
    chainRequestsAudited: 1,
  };
}

function synthPath(emptyMs: number, defaultMs: number, replicaMs: number[]): SynthResults {
  const kind = (k: string, ms: number) => ({ kind: k, ms: summarize([ms]), ratioToEmpty: ms / emptyMs });
  return {
    options: { inProcessRounds: 1, nodeProcessRounds: 1, tsNodeProcessRounds: 1, timeoutMs: 1 },
    modes: [
      {
        mode: "node process",
        how: "",
        kinds: [kind("empty", emptyMs), kind("default", defaultMs)],
        replicaFit: linearFit([1, 10, 50], replicaMs),
        marginalMsPerReplica: { from1to10: 0, from10to50: 0 },
      },
    ],
  };
}

const met = (checks: ReturnType<typeof checkTargets>): Record<string, boolean> =>
  Object.fromEntries(checks.map((c) => [c.target, c.met]));

test("figures within the issue's targets are reported as met", () => {
  expect(
    Object.values(met(checkTargets(requestPath(target(3.5, 1, 1.6)), synthPath(100, 190, [110, 200, 600])))),
  ).toEqual(Array(5).fill(true));
});

test("figures outside the targets are reported as missed, each by its own check", () => {
  const checks = met(checkTargets(requestPath(target(4.5, 3, 1.8)), synthPath(100, 250, [1, 100, 2500])));
  expect(checks).toEqual({
    "chain: first-token overhead at the median <= 3 ms": false,
    "chain: every streamed token delivered as its own chunk": false,
    "chain: per-request overhead p50 <= 1.5 ms at concurrency 1": false,
    "synth (node process): default stack <= 2x empty stack": false,
    "synth (node process): cost linear in replicas (R^2 >= 0.99 over 1/10/50)": false,
  });
});
