import { eventsPerChunk, linearFit, mean, median, percentile, summarize } from "../../bench/stats";

describe("percentile (linear interpolation between closest ranks, numpy's default)", () => {
  test("ends are the minimum and the maximum, whatever the input order", () => {
    const values = [7, 1, 5, 3];
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(7);
  });

  test("interpolates between ranks", () => {
    // Sorted 1..10: rank of p is p/100 * 9.
    const values = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(percentile(values, 50)).toBeCloseTo(5.5);
    expect(percentile(values, 90)).toBeCloseTo(9.1);
    expect(percentile(values, 99)).toBeCloseTo(9.91);
    expect(percentile(values, 25)).toBeCloseTo(3.25);
  });

  test("the median of an odd count is the middle value, of an even count the mean of the middle two", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([42])).toBe(42);
  });

  test("does not reorder its input", () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  test("refuses an empty list and p outside 0..100 instead of returning NaN", () => {
    expect(() => percentile([], 50)).toThrow(/no values/);
    expect(() => percentile([1], 101)).toThrow(/within 0..100/);
    expect(() => percentile([1], -1)).toThrow(/within 0..100/);
    expect(() => percentile([1], Number.NaN)).toThrow(/within 0..100/);
    expect(() => mean([])).toThrow(/no values/);
  });

  test("summarize gives count, extremes, percentiles and mean", () => {
    const s = summarize([1, 2, 3, 4, 100]);
    expect(s).toEqual({
      n: 5,
      min: 1,
      p50: 3,
      p90: expect.closeTo(61.6, 6),
      p99: expect.closeTo(96.16, 6),
      max: 100,
      mean: 22,
    });
  });
});

describe("linearFit", () => {
  test("recovers an exact line with R^2 = 1", () => {
    const fit = linearFit([1, 10, 50], [105, 150, 350]);
    expect(fit.slope).toBeCloseTo(5);
    expect(fit.intercept).toBeCloseTo(100);
    expect(fit.r2).toBeCloseTo(1);
  });

  test("a convex (quadratic) curve fits worse than a line", () => {
    const xs = [1, 10, 50];
    const fit = linearFit(
      xs,
      xs.map((x) => x * x),
    );
    expect(fit.r2).toBeLessThan(0.99);
    expect(fit.r2).toBeGreaterThan(0);
  });

  test("matches a hand-computed least-squares fit", () => {
    // x 0,1,2,3 (mean 1.5); y 1,3,2,5 (mean 2.75): sxy = 5.5, sxx = 5, so slope 1.1, intercept 2.75 - 1.1 * 1.5.
    const fit = linearFit([0, 1, 2, 3], [1, 3, 2, 5]);
    expect(fit.slope).toBeCloseTo(1.1);
    expect(fit.intercept).toBeCloseTo(1.1);
    // Residuals -0.1, 0.8, -1.3, 0.6: ssRes = 0.01 + 0.64 + 1.69 + 0.36 = 2.7; syy = 8.75.
    expect(fit.r2).toBeCloseTo(1 - 2.7 / 8.75);
  });

  test("refuses mismatched lengths and a single x value", () => {
    expect(() => linearFit([1, 2], [1])).toThrow(/2 x values but 1 y values/);
    expect(() => linearFit([3, 3], [1, 2])).toThrow(/two distinct x values/);
  });
});

describe("eventsPerChunk (SSE events completed in each read)", () => {
  const ev = (t: string): string => `data: {"text":"${t}"}\n\n`;
  const isToken = (e: string): boolean => !e.startsWith("data: [DONE]");

  test("one event per read, HTTP chunk framing and headers around them", () => {
    const reads = [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n17\r\n${ev("a")}\r\n`, `17\r\n${ev("b")}\r\n`];
    expect(eventsPerChunk(reads)).toEqual([1, 1]);
  });

  test("a batched read counts every event it completes", () => {
    expect(eventsPerChunk([ev("a") + ev("b") + ev("c"), ev("d")])).toEqual([3, 1]);
  });

  test("an event split across reads counts in the read that completes it", () => {
    const whole = ev("a");
    expect(eventsPerChunk([whole.slice(0, 5), whole.slice(5, -1), whole.slice(-1)])).toEqual([0, 0, 1]);
  });

  test("the filter leaves out [DONE]", () => {
    expect(eventsPerChunk([ev("a") + "data: [DONE]\n\n"], isToken)).toEqual([1]);
    expect(eventsPerChunk([ev("a") + "data: [DONE]\n\n"])).toEqual([2]);
  });
});
