import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  dailyReturns,
  METRIC_CAP,
  metrics,
  scalarMetrics,
  summaryMetrics,
} from "../../src/backtest/metrics.ts";
import { type SimulationResult, simulate, type Trade } from "../../src/backtest/simulate.ts";

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Hourly bars whose open follows 100 + amp·sin(i / every) with high and low `spread` either side,
 * and whose close is the same wave `lag` radians ahead; the first bar opens at `startMs`.
 */
function sineBars(
  n: number,
  wave: { amp: number; every: number; spread: number; lag: number; startMs?: number },
) {
  const at = (i: number, shift = 0) => 100 + wave.amp * Math.sin(i / wave.every + shift);
  return {
    time: Float64Array.from({ length: n }, (_, i) => (wave.startMs ?? 0) + i * HOUR),
    open: Float64Array.from({ length: n }, (_, i) => at(i)),
    high: Float64Array.from({ length: n }, (_, i) => at(i) + wave.spread),
    low: Float64Array.from({ length: n }, (_, i) => at(i) - wave.spread),
    close: Float64Array.from({ length: n }, (_, i) => at(i, wave.lag)),
    volume: new Float64Array(n),
  };
}

/** A simulation result built by hand from per-bar returns. */
function resultOf(
  returns: number[],
  opts: {
    trades?: number[];
    position?: number[];
    turnover?: number;
    step?: number;
    startIndex?: number;
  } = {},
): SimulationResult {
  const n = returns.length;
  const equity = new Float64Array(n);
  let e = 1;
  returns.forEach((r, i) => {
    e *= 1 + r;
    equity[i] = e;
  });
  const trades: Trade[] = (opts.trades ?? []).map((pnl, i) => ({
    side: "long",
    entryIndex: i,
    entryTime: 0,
    entryPrice: 1,
    exitIndex: i + 1,
    exitTime: 0,
    exitPrice: 1,
    reason: "signal",
    bars: 1,
    pnl,
    fees: 0,
  }));
  return {
    equity,
    returns: Float64Array.from(returns),
    position: Float64Array.from(opts.position ?? returns.map(() => 0)),
    trades,
    startIndex: opts.startIndex ?? 0,
    time: Float64Array.from(returns, (_, i) => i * (opts.step ?? HOUR)),
    turnover: opts.turnover ?? 0,
  };
}

describe("metrics on hand-computed returns", () => {
  const r = resultOf([0.01, -0.01, 0.02, 0], { trades: [0.1, -0.05, 0.02, -0.01], position: [1, 0, -1, 0] });
  const m = metrics(r, { timeframe: "1h" });

  it("annualises Sharpe with √8760 for 1h bars (sample std)", () => {
    // mean 0.005, deviations ±0.005, ±0.015: sample variance 0.0005 / 3.
    expect(m.sharpe).toBeCloseTo((0.005 / Math.sqrt(0.0005 / 3)) * Math.sqrt(8760), 9);
  });

  it("Sortino uses the downside deviation over all bars", () => {
    // only −0.01 is below 0: √(0.0001 / 4) = 0.005.
    expect(m.sortino).toBeCloseTo((0.005 / 0.005) * Math.sqrt(8760), 9);
  });

  it("profit factor, win rate, average trade, exposure", () => {
    expect(m.profitFactor).toBeCloseTo(0.12 / 0.06, 12);
    expect(m.tradeCount).toBe(4);
    expect(m.winRate).toBe(0.5);
    expect(m.avgTrade).toBeCloseTo(0.015, 12);
    expect(m.exposure).toBe(0.5);
    expect(m.totalReturn).toBeCloseTo(1.01 * 0.99 * 1.02 - 1, 12);
  });

  it("skew and excess kurtosis", () => {
    const s = metrics(resultOf([0, 0, 0, 1]), { timeframe: "1h" });
    // deviations −¼ (×3), ¾: m2 = 3/16, m3 = 3/32, m4 = 21/256 → skew 2/√3, kurtosis 7/3 − 3.
    expect(s.skew).toBeCloseTo(2 / Math.sqrt(3), 9);
    expect(s.kurtosis).toBeCloseTo(-2 / 3, 9);
  });
});

describe("drawdown", () => {
  // Equity 1.1, 0.99, 1.045, 1.21, 1.15, 1.15, 1.15.
  const eq = [1.1, 0.99, 1.045, 1.21, 1.15, 1.15, 1.15];
  const rets = eq.map((e, i) => e / (i === 0 ? 1 : eq[i - 1]!) - 1);
  const m = metrics(resultOf(rets), { timeframe: "1d" });

  it("max drawdown is peak to trough, its duration counts the bars below the peak", () => {
    expect(m.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(m.maxDrawdownBars).toBe(2);
    expect(m.longestDrawdownBars).toBe(3);
  });

  it("an unrecovered drawdown runs to the end", () => {
    const d = metrics(resultOf([0.1, -0.5, 0.1, 0.1]), { timeframe: "1d" });
    expect(d.maxDrawdown).toBeCloseTo(0.5, 12);
    expect(d.maxDrawdownBars).toBe(3);
  });

  it("Calmar is CAGR over max drawdown", () => {
    // One year of daily bars: −20 % on day one, then steady growth to 1.1: CAGR 10 %, drawdown 20 %.
    const g = (1.1 / 0.8) ** (1 / 364) - 1;
    const y = metrics(resultOf([-0.2, ...Array.from({ length: 364 }, () => g)]), { timeframe: "1d" });
    expect(y.cagr).toBeCloseTo(0.1, 9);
    expect(y.maxDrawdown).toBeCloseTo(0.2, 12);
    expect(y.calmar).toBeCloseTo(0.5, 9);
  });

  it("equals the plain per-bar computation on random equity curves", () => {
    fc.assert(
      fc.property(
        // Zeros weighted up: flat stretches, and episodes that reach the same depth again (ties).
        fc.array(fc.constantFrom(-0.2, -0.05, -0.01, 0, 0, 0, 0, 0.01, 0.05, 0.2), {
          minLength: 1,
          maxLength: 80,
        }),
        (rets) => {
          let e = 1;
          let peak = 1;
          let maxDd = 0;
          let maxDdBars = 0;
          let longest = 0;
          let under = 0;
          let depth = 0;
          for (const r of rets) {
            e *= 1 + r;
            if (e >= peak) {
              peak = e;
              under = 0;
              depth = 0;
              continue;
            }
            under++;
            longest = Math.max(longest, under);
            const dd = 1 - e / peak;
            depth = Math.max(depth, dd);
            maxDd = Math.max(maxDd, dd);
            if (depth === maxDd && maxDd > 0) maxDdBars = under;
          }
          const got = metrics(resultOf(rets), { timeframe: "1d" });
          expect([got.maxDrawdown, got.maxDrawdownBars, got.longestDrawdownBars]).toEqual([
            maxDd,
            maxDdBars,
            longest,
          ]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("ratios of a week-long window are clamped to the cap", () => {
    expect(m.cagr).toBe(METRIC_CAP);
    expect(m.calmar).toBe(METRIC_CAP);
  });
});

describe("CAGR and turnover", () => {
  it("compounds over the years the bars span", () => {
    // 730 daily bars ending at 1.21: two years at 10 %.
    const step = 1.21 ** (1 / 730) - 1;
    const m = metrics(
      resultOf(
        Array.from({ length: 730 }, () => step),
        { turnover: 6 },
      ),
      { timeframe: "1d" },
    );
    expect(m.years).toBe(2);
    expect(m.cagr).toBeCloseTo(0.1, 9);
    expect(m.turnover).toBeCloseTo(3, 12);
    // Constant returns: zero variance gives the defined 0, not a huge ratio.
    expect(m.sharpe).toBe(0);
    expect(m.skew).toBe(0);
    expect(m.sortino).toBe(METRIC_CAP);
    expect(m.calmar).toBe(METRIC_CAP);
  });

  it("skips warm-up bars before startIndex", () => {
    const m = metrics(resultOf([0.5, 0.5, 0.01, -0.01], { startIndex: 2 }), { timeframe: "1h" });
    expect(m.bars).toBe(2);
    expect(m.returns).toHaveLength(2);
    expect(m.returns[0]).toBe(0.01);
  });
});

describe("defined values", () => {
  it("no trades and flat equity: every figure is a finite 0", () => {
    const m = metrics(resultOf([0, 0, 0, 0, 0]), { timeframe: "1h" });
    for (const [k, v] of Object.entries(scalarMetrics(m))) {
      expect(Number.isFinite(v), k).toBe(true);
      if (k !== "bars" && k !== "years") expect(v, k).toBe(0);
    }
  });

  it("empty window", () => {
    const m = metrics(resultOf([]), { timeframe: "1h" });
    for (const v of Object.values(scalarMetrics(m))) expect(v).toBe(0);
  });

  it("profit factor: winners only → the cap, losers only → 0", () => {
    expect(metrics(resultOf([0.1, 0.2], { trades: [0.1, 0.2] }), { timeframe: "1h" }).profitFactor).toBe(
      METRIC_CAP,
    );
    expect(metrics(resultOf([-0.1, 0.05], { trades: [-0.1] }), { timeframe: "1h" }).profitFactor).toBe(0);
  });

  it("ruin: equity at 0 gives CAGR −1 and drawdown 1", () => {
    const m = metrics(resultOf([0.1, -1, 0, 0]), { timeframe: "1h" });
    expect(m.cagr).toBe(-1);
    expect(m.maxDrawdown).toBe(1);
    expect(m.totalReturn).toBe(-1);
  });

  it("never NaN or infinite on arbitrary returns", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1, max: 5, noNaN: true }), { maxLength: 60 }),
        fc.array(fc.double({ min: -1, max: 5, noNaN: true }), { maxLength: 10 }),
        (rets, pnls) => {
          const m = metrics(resultOf(rets, { trades: pnls }), { timeframe: "1m" });
          for (const [k, v] of Object.entries(scalarMetrics(m))) expect(Number.isFinite(v), k).toBe(true);
        },
      ),
    );
  });
});

describe("daily returns", () => {
  /** The equity curve of per-bar returns from a starting equity of 1. */
  const equityOf = (r: number[]) => {
    let e = 1;
    return Float64Array.from(r, (x) => {
      e *= 1 + x;
      return e;
    });
  };

  it("handles bars out of time order and days with gaps between them", () => {
    const D = 86_400_000;
    const time = Float64Array.from([2 * D + 5, D + 7, 2 * D + 9, 5 * D, 5 * D + 1]);
    const d = dailyReturns(time, equityOf([0.1, 0.2, -0.1, 0.5, 0.5]));
    expect(Array.from(d.day)).toEqual([2 * D, D, 2 * D, 5 * D]);
    const want = [0.1, 0.2, -0.1, 1.5 * 1.5 - 1];
    for (const [i, w] of want.entries()) expect(d.returns[i]).toBeCloseTo(w, 14);
    const sorted = dailyReturns(Float64Array.from([D, D + 1, 3 * D]), equityOf([0.5, 0.5, 0]));
    expect(Array.from(sorted.day)).toEqual([D, 3 * D]);
    expect(Array.from(sorted.returns)).toEqual([1.5 * 1.5 - 1, 0]);
    expect(dailyReturns(new Float64Array(0), new Float64Array(0)).day).toHaveLength(0);
    // Last bar before the first: the days are counted first, then filled.
    const backwards = dailyReturns(
      Float64Array.from([5 * D, 5 * D + 1, 3 * D, D]),
      equityOf([0.1, 0.1, -0.5, 1]),
    );
    expect(Array.from(backwards.day)).toEqual([5 * D, 3 * D, D]);
    for (const [i, w] of [1.1 * 1.1 - 1, -0.5, 1].entries()) expect(backwards.returns[i]).toBeCloseTo(w, 14);
  });

  it("compounds per-bar returns within each UTC day", () => {
    // 30 hourly bars from midnight: 24 on day 0, 6 on day 1.
    const rets = Array.from({ length: 30 }, (_, i) => (i < 24 ? 0.01 : -0.02));
    const d = dailyReturns(
      Float64Array.from(rets, (_, i) => 5 * DAY + i * HOUR),
      equityOf(rets),
    );
    expect(Array.from(d.day)).toEqual([5 * DAY, 6 * DAY]);
    expect(d.returns[0]).toBeCloseTo(1.01 ** 24 - 1, 12);
    expect(d.returns[1]).toBeCloseTo(0.98 ** 6 - 1, 12);
  });

  it("measures the first day from the given starting equity, and a day after ruin as 0", () => {
    const time = Float64Array.from([0, HOUR, DAY, DAY + HOUR, 2 * DAY]);
    const d = dailyReturns(time, Float64Array.from([2.2, 2.4, 1.2, 0, 0]), 2);
    expect(Array.from(d.returns)).toEqual([2.4 / 2 - 1, -1, 0]);
  });

  it("agrees with compounding the per-bar returns of a simulation, day by day", () => {
    const n = 24 * 60;
    const bars = sineBars(n, { amp: 5, every: 9, spread: 3, lag: 0.4, startMs: 17 * 60_000 });
    const target = Float64Array.from({ length: n }, (_, i) => (i % 13 < 6 ? 1 : i % 13 < 9 ? -1 : 0));
    const sim = simulate(
      bars,
      { kind: "target", target },
      { direction: "long_short", feeBps: 10, slippageBps: 5, timeframe: "1h", startIndex: 30 },
    );
    const m = metrics(sim, { timeframe: "1h" });
    const byDay = new Map<number, number>();
    for (let i = 30; i < n; i++) {
      const day = Math.floor(bars.time[i]! / DAY) * DAY;
      byDay.set(day, (byDay.get(day) ?? 1) * (1 + sim.returns[i]!));
    }
    expect(Array.from(m.daily.day)).toEqual([...byDay.keys()]);
    for (const [i, g] of [...byDay.values()].entries()) {
      expect(Math.abs(m.daily.returns[i]! - (g - 1))).toBeLessThan(1e-12);
    }
  });

  it("metrics expose the daily series of the evaluated bars, matching the equity", () => {
    const n = 100;
    const bars = sineBars(n, { amp: 1, every: 1, spread: 2, lag: 0.5 });
    const target = Float64Array.from({ length: n }, (_, i) => (i % 7 < 4 ? 1 : 0));
    const sim = simulate(
      bars,
      { kind: "target", target },
      {
        direction: "long_only",
        feeBps: 5,
        slippageBps: 2,
        timeframe: "1h",
        startIndex: 10,
      },
    );
    const m = metrics(sim, { timeframe: "1h" });
    const compounded = Array.from(m.daily.returns).reduce((g, r) => g * (1 + r), 1);
    expect(compounded).toBeCloseTo(sim.equity[n - 1]!, 12);
    expect(m.daily.day[0]).toBe(0);
    expect(m.daily.returns).toHaveLength(5);
  });

  it("summaryMetrics gives the scalar metrics without the daily series", () => {
    const n = 500;
    const bars = sineBars(n, { amp: 1, every: 3, spread: 2, lag: 0.5 });
    const target = Float64Array.from({ length: n }, (_, i) => (i % 11 < 5 ? 1 : i % 11 < 8 ? -0.5 : 0));
    const sim = simulate(
      bars,
      { kind: "target", target },
      { direction: "long_short", feeBps: 5, slippageBps: 2, timeframe: "1h", startIndex: 20 },
    );
    const full = scalarMetrics(metrics(sim, { timeframe: "1h" }));
    expect(full.tradeCount).toBeGreaterThan(10);
    expect(summaryMetrics(sim, { timeframe: "1h" })).toEqual(full);
  });
});
