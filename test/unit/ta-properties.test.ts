/**
 * Invariants of the `ta` indicators over random inputs (fast-check): relations between
 * indicators, ranges, exact window semantics, and argument errors.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";
import { trueRange } from "../../src/backtest/ta/true-range.ts";
import { type MarketKind, makeMarket } from "./ta-cases.ts";

const RUNS = { numRuns: 60 };

/** Random positive price series, sometimes with repeated values (ties, flat stretches). */
const prices = fc
  .tuple(
    fc.array(fc.double({ min: 1, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 200 }),
    fc.boolean(),
  )
  .map(([xs, coarse]) => Float64Array.from(coarse ? xs.map((x) => Math.round(x / 1000) * 1000 + 1) : xs));

const market = fc
  .record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    n: fc.integer({ min: 1, max: 250 }),
    kind: fc.constantFrom<MarketKind>("walk", "ticks", "flat"),
  })
  .map(({ seed, n, kind }) => makeMarket(n, seed, kind));

const period = fc.integer({ min: 1, max: 40 });

function close(a: number, b: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
}

function everyDefined(xs: ArrayLike<number>, pred: (x: number, i: number) => boolean): void {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isNaN(x) && !pred(x, i)) throw new Error(`fails at ${i}: ${x}`);
  }
}

describe("relations between indicators", () => {
  it("bbands middle = sma, and upper >= middle >= lower", () => {
    fc.assert(
      fc.property(prices, period, fc.double({ min: 0, max: 5, noNaN: true }), (x, p, mult) => {
        const bb = ta.bbands(x, p, mult);
        const s = ta.sma(x, p);
        for (let i = 0; i < x.length; i++) {
          expect(Number.isNaN(bb.middle[i]!)).toBe(Number.isNaN(s[i]!));
          if (Number.isNaN(s[i]!)) continue;
          expect(close(bb.middle[i]!, s[i]!)).toBe(true);
          expect(bb.upper[i]!).toBeGreaterThanOrEqual(bb.middle[i]!);
          expect(bb.middle[i]!).toBeGreaterThanOrEqual(bb.lower[i]!);
        }
      }),
      RUNS,
    );
  });

  it("keltner and donchian bands are ordered; donchian holds the window's extremes", () => {
    fc.assert(
      fc.property(market, period, (m, p) => {
        const k = ta.keltner(m.high, m.low, m.close, p, Math.max(1, p >> 1), 2);
        everyDefined(k.middle, (mid, i) => k.upper[i]! >= mid && mid >= k.lower[i]!);
        const d = ta.donchian(m.high, m.low, p);
        const hi = ta.highest(m.high, p);
        const lo = ta.lowest(m.low, p);
        everyDefined(
          d.middle,
          (mid, i) => d.upper[i] === hi[i] && d.lower[i] === lo[i] && d.upper[i]! >= mid,
        );
      }),
      RUNS,
    );
  });

  it("highest >= input >= lowest, and both are exactly the window's max and min", () => {
    fc.assert(
      fc.property(prices, period, (x, p) => {
        const hi = ta.highest(x, p);
        const lo = ta.lowest(x, p);
        for (let i = p - 1; i < x.length; i++) {
          const w = Array.from(x.subarray(i - p + 1, i + 1));
          expect(hi[i]).toBe(Math.max(...w));
          expect(lo[i]).toBe(Math.min(...w));
          expect(hi[i]!).toBeGreaterThanOrEqual(x[i]!);
          expect(x[i]!).toBeGreaterThanOrEqual(lo[i]!);
        }
      }),
      RUNS,
    );
  });

  it("macd histogram = macd − signal; realizedVol = stdev(logReturns) · sqrt(annualization)", () => {
    fc.assert(
      fc.property(prices, period, (x, p) => {
        const m = ta.macd(x, 3, 8, 4);
        everyDefined(m.histogram, (h, i) => h === m.macd[i]! - m.signal[i]!);
        const rv = ta.realizedVol(x, p, 365);
        const sd = ta.stdev(ta.logReturns(x), p);
        for (let i = 0; i < x.length; i++) {
          expect(Number.isNaN(rv[i]!)).toBe(Number.isNaN(sd[i]!));
          if (!Number.isNaN(sd[i]!)) expect(close(rv[i]!, sd[i]! * Math.sqrt(365))).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("moving averages of period 1 are the input; averages commute with affine maps", () => {
    fc.assert(
      fc.property(prices, period, fc.double({ min: 0.5, max: 3, noNaN: true }), (x, p, a) => {
        for (const f of [ta.sma, ta.ema, ta.wma, ta.rma, ta.dema, ta.tema]) {
          const one = f(x, 1);
          // Recursive forms (rma: prev + (x − prev)) round in ulps of the previous value, so the
          // tolerance is relative to the series' scale rather than to each value.
          const scale = Math.max(...x);
          for (let i = 0; i < x.length; i++)
            expect(Math.abs(one[i]! - x[i]!)).toBeLessThanOrEqual(1e-12 * scale);
          const y = x.map((v) => a * v + 7);
          const fy = f(y, p);
          const fx = f(x, p);
          everyDefined(fx, (v, i) => close(fy[i]!, a * v + 7, 1e-8));
        }
      }),
      RUNS,
    );
  });

  it("logReturns = log(1 + returns); obv moves by ±volume or 0", () => {
    fc.assert(
      fc.property(market, fc.integer({ min: 1, max: 5 }), (m, p) => {
        const r = ta.returns(m.close, p);
        everyDefined(ta.logReturns(m.close, p), (lr, i) => close(lr, Math.log1p(r[i]!), 1e-9));
        const o = ta.obv(m.close, m.volume);
        for (let i = 1; i < o.length; i++) {
          const step = o[i]! - o[i - 1]!;
          expect(step === 0 || close(Math.abs(step), m.volume[i]!)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe("two-bar smoothing", () => {
  it("every prefix, whatever its parity, gives exactly the full series' values (ema, rma, dema, tema, macd, rsi)", () => {
    // The smoothers step two bars at a time past the warm-up; a cut between the two bars of a
    // step must not change a single bit (a random cut only catches that half the time).
    const m = makeMarket(90, 3, "walk");
    const gappy = Float64Array.from(m.close, (x, i) => (i % 37 === 20 ? Number.NaN : x));
    for (const close of [m.close, gappy]) {
      const series = (x: Float64Array): Float64Array[] => [
        ta.ema(x, 5),
        ta.rma(x, 4),
        ta.dema(x, 3),
        ta.tema(x, 3),
        ta.macd(x, 3, 6, 4).macd,
        ta.macd(x, 3, 6, 4).signal,
        ta.rsi(x, 5),
      ];
      const full = series(close);
      for (let cut = 1; cut <= close.length; cut++) {
        const part = series(close.subarray(0, cut));
        for (const [k, arr] of part.entries()) {
          expect(Array.from(arr), `series ${k}, cut ${cut}`).toEqual(Array.from(full[k]!.subarray(0, cut)));
        }
      }
    }
  });
});

describe("true range", () => {
  it("the branch-free true range is exactly Math.max of the three ranges, for any finite bar", () => {
    const any = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -0, 1, -1, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE),
    );
    fc.assert(
      fc.property(any, any, any, (hi, lo, pc) => {
        const want = Math.max(hi - lo, Math.abs(hi - pc), Math.abs(lo - pc));
        expect(Object.is(trueRange(hi, lo, pc), want)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ranges", () => {
  it("oscillators stay in their documented ranges", () => {
    fc.assert(
      fc.property(market, fc.integer({ min: 1, max: 20 }), (m, p) => {
        const in0to100 = (x: number) => x >= 0 && x <= 100;
        everyDefined(ta.rsi(m.close, p), in0to100);
        const s = ta.stoch(m.high, m.low, m.close, p, 3, 3);
        everyDefined(s.k, in0to100);
        everyDefined(s.d, in0to100);
        const sr = ta.stochRsi(m.close, p, p, 2, 2);
        everyDefined(sr.k, in0to100);
        everyDefined(sr.d, in0to100);
        const a = ta.adx(m.high, m.low, m.close, p);
        everyDefined(a.adx, in0to100);
        everyDefined(a.plusDi, in0to100);
        everyDefined(a.minusDi, in0to100);
        everyDefined(ta.williamsR(m.high, m.low, m.close, p), (x) => x >= -100 && x <= 0);
        everyDefined(ta.percentRank(m.close, p), (x) => x >= 0 && x <= 1);
        everyDefined(ta.correlation(m.close, m.volume, p), (x) => x >= -1 && x <= 1);
        everyDefined(ta.stdev(m.close, p), (x) => x >= 0);
        everyDefined(ta.atr(m.high, m.low, m.close, p), (x) => x >= 0);
        // A population z-score can never exceed sqrt(period − 1) in size.
        everyDefined(ta.zscore(m.close, p), (x) => Math.abs(x) <= Math.sqrt(Math.max(p - 1, 0)) + 1e-9);
        const st = ta.supertrend(m.high, m.low, m.close, p, 2);
        everyDefined(st.direction, (x) => x === 1 || x === -1);
      }),
      RUNS,
    );
  });
});

describe("series tools", () => {
  it("crossover is exactly: a > b now and a <= b on the previous bar (crossunder mirrored)", () => {
    fc.assert(
      fc.property(prices, fc.integer({ min: 1, max: 10 }), (x, p) => {
        const b = ta.sma(x, p);
        const up = ta.crossover(x, b);
        const down = ta.crossunder(x, b);
        expect(up[0] ?? 0).toBe(0);
        for (let i = 1; i < x.length; i++) {
          expect(up[i]).toBe(x[i]! > b[i]! && x[i - 1]! <= b[i - 1]! ? 1 : 0);
          expect(down[i]).toBe(x[i]! < b[i]! && x[i - 1]! >= b[i - 1]! ? 1 : 0);
          expect(up[i]! & down[i]!).toBe(0);
        }
      }),
      RUNS,
    );
  });

  it("shift(k) is a pure lag: out[i] = x[i − k], NaN before", () => {
    fc.assert(
      fc.property(prices, fc.integer({ min: 0, max: 250 }), (x, k) => {
        const s = ta.shift(x, k);
        expect(s.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) {
          if (i < k) expect(s[i]).toBeNaN();
          else expect(s[i]).toBe(x[i - k]);
        }
      }),
      RUNS,
    );
  });

  it("a negative or fractional shift throws a RangeError that names the look-ahead", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: -1 }), (k) => {
        expect(() => ta.shift([1, 2, 3], k)).toThrow(RangeError);
        expect(() => ta.shift([1, 2, 3], k)).toThrow(/negative shift would read future bars/);
      }),
      { numRuns: 20 },
    );
    expect(() => ta.shift([1, 2, 3], 1.5)).toThrow(RangeError);
  });

  it("bad periods and mismatched lengths throw RangeErrors naming the function", () => {
    expect(() => ta.sma([1, 2, 3], 0)).toThrow(/ta\.sma: period must be an integer >= 1, got 0/);
    expect(() => ta.ema([1, 2, 3], 2.5)).toThrow(RangeError);
    expect(() => ta.rsi([1, 2, 3], Number.NaN)).toThrow(RangeError);
    expect(() => ta.macd([1, 2, 3], 12, 0)).toThrow(/ta\.macd: slow/);
    expect(() => ta.bbands([1, 2, 3], 2, Number.POSITIVE_INFINITY)).toThrow(/ta\.bbands: mult/);
    expect(() => ta.atr([1, 2], [1, 2, 3], [1, 2])).toThrow(
      /ta\.atr: input series must have the same length/,
    );
    expect(() => ta.crossover([1, 2], [1])).toThrow(RangeError);
    expect(() => ta.realizedVol([1, 2, 3], 2, 0)).toThrow(/annualization/);
  });

  it("empty input gives empty output", () => {
    const empty = new Float64Array(0);
    expect(ta.sma(empty, 3).length).toBe(0);
    expect(ta.adx(empty, empty, empty).adx.length).toBe(0);
    expect(ta.crossover(empty, 1).length).toBe(0);
    expect(ta.shift(empty, 3).length).toBe(0);
  });
});
