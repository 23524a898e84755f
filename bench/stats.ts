/**
 * Small statistics for the benchmarks: percentiles, summaries, ratios and a least-squares line.
 * Pure functions, unit-tested in test/bench/stats.test.ts.
 */

/**
 * The p-th percentile (0..100) of `values`, interpolating linearly between the two nearest ranks
 * (numpy's default, "type 7"): p0 is the minimum, p100 the maximum, p50 of an even count the mean
 * of the middle two. Throws on an empty list or p outside 0..100, rather than returning NaN.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile: no values");
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be within 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - lower);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error("mean: no values");
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    min: percentile(values, 0),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
    mean: mean(values),
  };
}

export interface LinearFit {
  /** Change of y per unit of x. */
  readonly slope: number;
  /** y at x = 0. */
  readonly intercept: number;
  /** Coefficient of determination: 1 is a perfect line; 1 also when every y is equal (a flat line fits exactly). */
  readonly r2: number;
}

/** Ordinary least squares y = intercept + slope * x. Needs at least two distinct x values. */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  if (xs.length !== ys.length) throw new Error(`linearFit: ${xs.length} x values but ${ys.length} y values`);
  const mx = mean(xs);
  const my = mean(ys);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  if (sxx === 0) throw new Error("linearFit: needs at least two distinct x values");
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < xs.length; i++) ssRes += (ys[i] - (intercept + slope * xs[i])) ** 2;
  return { slope, intercept, r2: syy === 0 ? 1 : 1 - ssRes / syy };
}

/**
 * Where each complete SSE event ends in a stream received as `chunks`: for every chunk, how many
 * events whose terminating blank line ("\n\n") completes inside it and that satisfy `count`
 * (e.g. token events, not `[DONE]`). An event split across chunks is counted in the chunk that
 * completes it. HTTP chunked framing uses "\r\n", so it never looks like an event end.
 */
export function eventsPerChunk(chunks: readonly string[], count: (event: string) => boolean = () => true): number[] {
  const perChunk: number[] = [];
  let pending = "";
  for (const chunk of chunks) {
    pending += chunk;
    let n = 0;
    let end = pending.indexOf("\n\n");
    while (end !== -1) {
      const event = pending.slice(0, end);
      const start = event.lastIndexOf("data:");
      if (start !== -1 && count(event.slice(start))) n++;
      pending = pending.slice(end + 2);
      end = pending.indexOf("\n\n");
    }
    perChunk.push(n);
  }
  return perChunk;
}
