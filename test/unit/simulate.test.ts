import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SimulationOptions, simulate } from "../../src/backtest/simulate.ts";
import { type Bars, sliceBars } from "../../src/domain/bars.ts";
import type { EventSignals, Signals } from "../../src/domain/signals.ts";

const HOUR = 3_600_000;

/** Bars from [open, high, low, close] rows, one hour apart. */
function barsOf(rows: [number, number, number, number][]): Bars {
  const n = rows.length;
  const b = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n).fill(1),
  };
  rows.forEach(([o, h, l, c], i) => {
    b.time[i] = i * HOUR;
    b.open[i] = o;
    b.high[i] = h;
    b.low[i] = l;
    b.close[i] = c;
  });
  return b;
}

function flatBars(n: number, price = 100): Bars {
  return barsOf(
    Array.from({ length: n }, () => [price, price, price, price] as [number, number, number, number]),
  );
}

function events(
  n: number,
  on: { enterLong?: number[]; exitLong?: number[]; enterShort?: number[]; exitShort?: number[] },
): EventSignals {
  const mk = (idx: number[] = []) => {
    const a = new Uint8Array(n);
    for (const i of idx) a[i] = 1;
    return a;
  };
  return {
    kind: "events",
    enterLong: mk(on.enterLong),
    exitLong: mk(on.exitLong),
    enterShort: mk(on.enterShort),
    exitShort: mk(on.exitShort),
  };
}

const base: SimulationOptions = { direction: "long_only", feeBps: 0, slippageBps: 0, timeframe: "1h" };

describe("simulate: fills and costs", () => {
  const bars = barsOf([
    [100, 100, 100, 100],
    [100, 110, 100, 110],
    [110, 120, 110, 120],
    [120, 120, 110, 115],
    [115, 115, 115, 115],
  ]);

  it("fills a signal at the next bar's open and charges fees and slippage per side", () => {
    const r = simulate(bars, events(5, { enterLong: [0], exitLong: [2] }), {
      ...base,
      feeBps: 10,
      slippageBps: 5,
    });
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    // Buy u units at 100 · 1.0005 = 100.05 paying 0.1 % of 100.05 u, sized so that right after the fill
    // u · 100 = equity = 1 − u · (0.05 + 0.10005)  →  u = 1 / 100.15005.
    const u = 1 / 100.15005;
    expect(t.entryIndex).toBe(1);
    expect(t.entryTime).toBe(HOUR);
    expect(t.entryPrice).toBeCloseTo(100.05, 10);
    expect(r.position[1]).toBeCloseTo(1, 12);
    expect(r.equity[1]).toBeCloseTo(1 - u * 100.05 * 1.001 + u * 110, 12);
    // Sell at bar 3's open: 120 · 0.9995 = 119.94, fee 0.1 % of that.
    expect(t.exitIndex).toBe(3);
    expect(t.exitTime).toBe(3 * HOUR);
    expect(t.exitPrice).toBeCloseTo(119.94, 10);
    expect(t.reason).toBe("signal");
    expect(t.bars).toBe(2);
    expect(t.fees).toBeCloseTo(u * (0.10005 + 0.11994), 12);
    expect(t.pnl).toBeCloseTo(u * (119.94 * 0.999 - 100.05 * 1.001), 12);
    expect(r.equity[0]).toBe(1);
    expect(r.equity[4]).toBeCloseTo(1 + t.pnl, 12);
    expect(r.returns[1]).toBeCloseTo(r.equity[1]! - 1, 12);
    expect(r.position[3]).toBe(0);
  });

  it("an entry and an exit on the same bar: exit wins, no trade", () => {
    const r = simulate(bars, events(5, { enterLong: [0], exitLong: [0] }), base);
    expect(r.trades).toHaveLength(0);
    expect(r.equity[4]).toBe(1);
  });

  it("closes the last open position at the final close with reason end", () => {
    const r = simulate(bars, events(5, { enterLong: [1] }), base);
    const t = r.trades[0]!;
    expect(t.reason).toBe("end");
    expect(t.entryPrice).toBe(110);
    expect(t.exitPrice).toBe(115);
    expect(t.exitIndex).toBe(4);
    expect(t.bars).toBe(3);
    expect(r.equity[4]).toBeCloseTo(115 / 110, 12);
  });

  it("goes short only under long_short and earns the fall", () => {
    const down = barsOf([
      [100, 100, 100, 100],
      [100, 100, 90, 95],
      [95, 95, 80, 80],
      [80, 80, 80, 80],
      [80, 80, 80, 80],
    ]);
    const sig = events(5, { enterShort: [0], exitShort: [2] });
    const r = simulate(down, sig, { ...base, direction: "long_short", feeBps: 10 });
    const t = r.trades[0]!;
    expect(t.side).toBe("short");
    // Short u at 100 with a 0.1 % fee, sized so u · 100 = 1 − 0.1 u  →  u = 1 / 100.1; cover at 80 + 0.1 %.
    expect(t.pnl).toBeCloseTo((100 * 0.999 - 80 * 1.001) / 100.1, 12);
    expect(r.position[1]).toBeCloseTo(-1, 12);
    expect(simulate(down, sig, { ...base, direction: "long_only" }).trades).toHaveLength(0);
  });

  it("loses on a short when the price rises", () => {
    const r = simulate(bars, events(5, { enterShort: [0], exitShort: [2] }), {
      ...base,
      direction: "long_short",
    });
    expect(r.trades[0]!.pnl).toBeCloseTo(-0.2, 12);
  });

  it("an opposite entry reverses at the same open", () => {
    const r = simulate(bars, events(5, { enterLong: [0], enterShort: [1] }), {
      ...base,
      direction: "long_short",
    });
    expect(r.trades.map((t) => [t.side, t.entryIndex, t.exitIndex, t.reason])).toEqual([
      ["long", 1, 2, "signal"],
      ["short", 2, 4, "end"],
    ]);
    expect(r.trades[0]!.pnl).toBeCloseTo(0.1, 12);
    expect(r.trades[1]!.pnl).toBeCloseTo(-5 / 110, 12);
  });
});

describe("simulate: startIndex", () => {
  const bars = barsOf([
    [100, 100, 100, 100],
    [100, 110, 100, 110],
    [110, 120, 110, 120],
    [120, 120, 110, 115],
    [115, 115, 115, 115],
  ]);
  it("acts on signals from startIndex − 1 on and keeps equity at 1 before", () => {
    const r = simulate(bars, events(5, { enterLong: [0, 2] }), { ...base, startIndex: 2 });
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]!.entryIndex).toBe(3);
    expect(Array.from(r.equity.subarray(0, 3))).toEqual([1, 1, 1]);
    const early = simulate(bars, events(5, { enterLong: [1] }), { ...base, startIndex: 2 });
    expect(early.trades[0]!.entryIndex).toBe(2);
    expect(early.position[2]).toBe(1);
  });
});

describe("simulate: stops", () => {
  it("stop and target inside one bar: the stop fills", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [100, 106, 94, 100],
      [100, 100, 100, 100],
    ]);
    const r = simulate(bars, events(4, { enterLong: [0] }), {
      ...base,
      risk: { stop_loss: { percent: 5 }, take_profit: { percent: 5 } },
    });
    const t = r.trades[0]!;
    expect(t.reason).toBe("stop_loss");
    expect(t.exitPrice).toBe(95);
    expect(t.exitIndex).toBe(2);
    expect(t.bars).toBe(2);
    expect(t.pnl).toBeCloseTo(-0.05, 12);
    expect(r.position[2]).toBe(1);
    expect(r.position[3]).toBe(0);
  });

  it("take profit fills at its level when only the target is reached", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [100, 106, 96, 100],
      [100, 100, 100, 100],
    ]);
    const r = simulate(bars, events(4, { enterLong: [0] }), {
      ...base,
      slippageBps: 10,
      risk: { stop_loss: { percent: 5 }, take_profit: { percent: 5 } },
    });
    const t = r.trades[0]!;
    // Entry 100.1; target 100.1 * 1.05 = 105.105, sold with slippage at 105.105 * 0.999.
    expect(t.reason).toBe("take_profit");
    expect(t.exitPrice).toBeCloseTo(105.105 * 0.999, 10);
  });

  it("a gap through the stop fills at the open", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [90, 92, 88, 91],
      [91, 91, 91, 91],
    ]);
    const r = simulate(bars, events(4, { enterLong: [0] }), { ...base, risk: { stop_loss: { percent: 5 } } });
    expect(r.trades[0]!.exitPrice).toBe(90);
    expect(r.trades[0]!.reason).toBe("stop_loss");
    expect(r.trades[0]!.pnl).toBeCloseTo(-0.1, 12);
  });

  it("a short's stop sits above the entry", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [100, 104, 99, 103],
      [103, 103, 103, 103],
    ]);
    const r = simulate(bars, events(4, { enterShort: [0] }), {
      ...base,
      direction: "long_short",
      risk: { stop_loss: { percent: 3 } },
    });
    expect(r.trades[0]!.reason).toBe("stop_loss");
    expect(r.trades[0]!.exitPrice).toBe(103);
    expect(r.trades[0]!.pnl).toBeCloseTo(-0.03, 12);
  });

  it("ATR stop and an R-multiple target use the ATR of the signal bar", () => {
    const bars = barsOf([
      [100, 101, 99, 100], // TR 2 → ATR(1) 2: stop 100 − 2·2 = 96, target 100 + 2·4 = 108
      [100, 101, 99, 100],
      [100, 109, 97, 105],
      [105, 105, 105, 105],
    ]);
    const r = simulate(bars, events(4, { enterLong: [0] }), {
      ...base,
      risk: { stop_loss: { atr: 2, atr_period: 1 }, take_profit: { r_multiple: 2 } },
    });
    expect(r.trades[0]!.reason).toBe("take_profit");
    expect(r.trades[0]!.exitPrice).toBe(108);
  });

  it("the trailing stop ratchets up and never down", () => {
    const bars = barsOf([
      [100, 101, 99, 100], // ATR(1) 2: trail starts at 100 − 2 = 98
      [100, 102, 99, 101], // TR 3: trail → 102 − 3 = 99
      [101, 106, 100, 105], // TR 6: trail → 106 − 6 = 100
      [104, 104, 100.5, 103], // TR 4.5: 104 − 4.5 = 99.5 < 100, trail stays 100
      [103, 103, 99, 100], // low 99 ≤ 100: out at 100
      [100, 100, 100, 100],
    ]);
    const r = simulate(bars, events(6, { enterLong: [0] }), {
      ...base,
      risk: { trailing_stop: { atr: 1, atr_period: 1 } },
    });
    const t = r.trades[0]!;
    expect(t.reason).toBe("trailing_stop");
    expect(t.exitIndex).toBe(4);
    expect(t.exitPrice).toBe(100);
  });

  it("the time stop exits at the open after the N-th bar held", () => {
    const bars = flatBars(6);
    const r = simulate(bars, events(6, { enterLong: [0] }), { ...base, risk: { time_stop_bars: 2 } });
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]!.reason).toBe("time_stop");
    expect(r.trades[0]!.entryIndex).toBe(1);
    expect(r.trades[0]!.exitIndex).toBe(3);
    expect(r.trades[0]!.bars).toBe(2);
  });

  it("a gap through the target fills at the better open", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [108, 109, 90, 95], // opens above the 5 % target (and later trades through the stop)
      [95, 95, 95, 95],
    ]);
    const r = simulate(bars, events(4, { enterLong: [0] }), {
      ...base,
      risk: { stop_loss: { percent: 5 }, take_profit: { percent: 5 } },
    });
    expect(r.trades[0]!.reason).toBe("take_profit");
    expect(r.trades[0]!.exitPrice).toBe(108);
  });

  it("a short losing all its equity is liquidated at the close and nothing trades after", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 100, 100, 100],
      [100, 215, 100, 210], // equity 2 − 2.1 < 0
      [210, 210, 210, 210],
      [210, 210, 210, 210],
    ]);
    const r = simulate(bars, events(5, { enterShort: [0, 3] }), { ...base, direction: "long_short" });
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]!.reason).toBe("liquidation");
    expect(Array.from(r.equity)).toEqual([1, 1, 0, 0, 0]);
    expect(r.returns[2]).toBe(-1);
    expect(r.returns[3]).toBe(0);
  });

  it("rejects an R-multiple target without a stop loss", () => {
    expect(() =>
      simulate(flatBars(3), events(3, {}), { ...base, risk: { take_profit: { r_multiple: 2 } } }),
    ).toThrow(/stop_loss/);
  });
});

describe("simulate: target positions", () => {
  const target = (vals: number[]): Signals => ({ kind: "target", target: Float64Array.from(vals) });

  it("rebalances to the target at the next open and pays fees on |Δ|", () => {
    const r = simulate(flatBars(6), target([1, 1, 0.5, 0.5, 0, 0]), { ...base, feeBps: 10 });
    // Bar 1: buy u1 with u1 · 100 = 1 − 0.1 u1  →  u1 = 1/100.1, equity 100 u1.
    const u1 = 1 / 100.1;
    expect(r.equity[1]).toBeCloseTo(100 * u1, 12);
    // Bar 3: sell down to u3 with u3 · 100 = 0.5 · (100 u1 − 0.1 (u1 − u3))  →  u3 = 0.5 · 99.9 u1 / 99.95.
    const u3 = (0.5 * 99.9 * u1) / 99.95;
    expect(r.equity[3]).toBeCloseTo(200 * u3, 12);
    expect(r.equity[3]).toBeCloseTo(r.equity[1]! - 0.001 * 100 * (u1 - u3), 12);
    // Bar 5: sell u3, fee 0.1 u3.
    expect(r.equity[5]).toBeCloseTo(200 * u3 - 0.1 * u3, 12);
    expect(Array.from(r.position)).toEqual([0, 1, 1, 0.5, 0.5, 0].map((x) => expect.closeTo(x, 12)));
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]!.fees).toBeCloseTo(0.1 * u1 + 0.1 * (u1 - u3) + 0.1 * u3, 12);
    expect(r.trades[0]!.exitIndex).toBe(5);
    expect(r.turnover).toBeCloseTo(100 * u1 + (100 * (u1 - u3)) / (100 * u1) + (100 * u3) / (200 * u3), 9);
  });

  it("a target flip closes one trade and opens the other; long_only floors at 0", () => {
    const bars = flatBars(5);
    const flip = simulate(bars, target([1, -1, -1, -1, -1]), { ...base, direction: "long_short" });
    expect(flip.trades.map((t) => t.side)).toEqual(["long", "short"]);
    const lo = simulate(bars, target([1, -1, -1, -1, -1]), base);
    expect(lo.trades.map((t) => [t.side, t.exitIndex])).toEqual([["long", 2]]);
  });

  it("after a stop the book stays flat until the target changes", () => {
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 100, 94, 95], // stop 5 % at 95
      [95, 95, 95, 95],
      [95, 95, 95, 95],
      [95, 95, 95, 95],
    ]);
    const r = simulate(bars, target([1, 1, 0.5, 0.5, 0.5]), { ...base, risk: { stop_loss: { percent: 5 } } });
    expect(r.trades.map((t) => [t.entryIndex, t.exitIndex, t.reason])).toEqual([
      [1, 1, "stop_loss"],
      [3, 4, "end"],
    ]);
    expect(r.position[2]).toBe(0);
    expect(r.position[3]).toBeCloseTo(0.5, 12);
  });
});

describe("simulate: volatility-target sizing", () => {
  // Log returns alternate +1 %, −1 %: over 4 returns the sample std is 0.01·√(4/3).
  const closes = [100];
  for (let i = 1; i < 12; i++) closes.push(closes[i - 1]! * Math.exp(i % 2 ? 0.01 : -0.01));
  const bars = barsOf(closes.map((c) => [c, c, c, c]));
  const opts = (tv: number): SimulationOptions => ({
    ...base,
    timeframe: "1d",
    sizing: { mode: "volatility_target", target_volatility: tv, vol_lookback: 4, max_leverage: 2 },
  });

  it("scales by target / realised volatility, annualised over 365 days", () => {
    const r = simulate(bars, events(12, { enterLong: [4] }), opts(0.1));
    // 0.1 / (0.01 · √(4/3) · √365)
    expect(r.position[5]).toBeCloseTo(0.4532984139, 8);
  });

  it("never exceeds max_leverage", () => {
    const r = simulate(bars, events(12, { enterLong: [4] }), opts(10));
    expect(r.position[5]).toBeCloseTo(2, 12);
  });

  it("skips an entry before vol_lookback returns exist", () => {
    expect(simulate(bars, events(12, { enterLong: [3] }), opts(0.1)).trades).toHaveLength(0);
  });

  it("needs a target volatility", () => {
    expect(() =>
      simulate(bars, events(12, {}), { ...base, sizing: { mode: "volatility_target", vol_lookback: 4 } }),
    ).toThrow(/target_volatility/);
  });
});

/** Seeded random-walk bars for the properties. */
function walk(n: number, seed: number, vol = 0.02): Bars {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const rows: [number, number, number, number][] = [];
  let p = 100;
  for (let i = 0; i < n; i++) {
    const o = p;
    const c = o * Math.exp((rnd() - 0.5) * 2 * vol);
    const h = Math.max(o, c) * (1 + rnd() * vol);
    const l = Math.min(o, c) * (1 - rnd() * vol);
    rows.push([o, h, l, c]);
    p = c * Math.exp((rnd() - 0.5) * vol * 0.2);
  }
  return barsOf(rows);
}

const riskArb = fc.record(
  {
    stop_loss: fc.oneof(
      fc.record({ percent: fc.double({ min: 0.5, max: 20, noNaN: true }) }),
      fc.record({
        atr: fc.double({ min: 0.5, max: 4, noNaN: true }),
        atr_period: fc.integer({ min: 1, max: 20 }),
      }),
    ),
    take_profit: fc.record({ percent: fc.double({ min: 0.5, max: 30, noNaN: true }) }),
    trailing_stop: fc.record({
      atr: fc.double({ min: 0.5, max: 4, noNaN: true }),
      atr_period: fc.integer({ min: 1, max: 20 }),
    }),
    time_stop_bars: fc.integer({ min: 1, max: 30 }),
  },
  { requiredKeys: [] },
);

const scenario = fc.record({
  n: fc.integer({ min: 2, max: 300 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  density: fc.double({ min: 0.01, max: 0.5, noNaN: true }),
  risk: riskArb,
  direction: fc.constantFrom("long_only" as const, "long_short" as const),
  target: fc.boolean(),
  volTarget: fc.boolean(),
  leverage: fc.double({ min: 0.5, max: 10, noNaN: true }),
});

function signalsFor(n: number, seed: number, density: number, asTarget: boolean): Signals {
  let s = (seed * 7 + 3) >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
  if (asTarget) {
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++)
      t[i] = rnd() < density ? Math.round((rnd() * 2 - 1) * 4) / 4 : (t[i - 1] ?? 0);
    return { kind: "target", target: t };
  }
  const mk = () => Uint8Array.from({ length: n }, () => (rnd() < density ? 1 : 0));
  return { kind: "events", enterLong: mk(), exitLong: mk(), enterShort: mk(), exitShort: mk() };
}

/** A scenario's direction and risk, all-in fixed sizing and the usual costs, from bar `start` on. */
function fixedFractionOptions(
  sc: { n: number; direction: SimulationOptions["direction"]; risk: SimulationOptions["risk"] },
  start: number,
): SimulationOptions {
  return {
    direction: sc.direction,
    risk: sc.risk,
    sizing: { mode: "fixed_fraction", fraction: 1 },
    feeBps: 10,
    slippageBps: 5,
    timeframe: "1h",
    startIndex: Math.min(start, sc.n - 1),
  };
}

describe("simulate: properties", () => {
  it("equity is never NaN or infinite and never negative", () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const bars = walk(sc.n, sc.seed);
        const r = simulate(bars, signalsFor(sc.n, sc.seed, sc.density, sc.target), {
          direction: sc.direction,
          risk: sc.risk,
          sizing: sc.volTarget
            ? {
                mode: "volatility_target",
                target_volatility: 0.5,
                vol_lookback: 10,
                max_leverage: sc.leverage,
              }
            : { mode: "fixed_fraction", fraction: 1 },
          feeBps: 10,
          slippageBps: 5,
          timeframe: "1h",
        });
        for (const arr of [r.equity, r.returns, r.position])
          for (const x of arr) expect(Number.isFinite(x)).toBe(true);
        for (const e of r.equity) expect(e).toBeGreaterThanOrEqual(0);
        for (const t of r.trades) {
          expect(Number.isFinite(t.pnl)).toBe(true);
          expect(t.exitIndex).toBeGreaterThanOrEqual(t.entryIndex);
        }
        // Sized at the fill, then held in units: the exposure on an entry bar is the sizing's own figure.
        if (sc.volTarget) {
          for (const t of r.trades) {
            expect(Math.abs(r.position[t.entryIndex]!)).toBeLessThanOrEqual(sc.leverage * (1 + 1e-9));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("ruin several bars into a held stretch: the hold loops hand the main loop the last marked equity", () => {
    // A short that loses a little on each held bar, then everything: the hold loop marks bars 2–4
    // and stops at 5, where the main loop liquidates at the close.
    const bars = barsOf([
      [100, 100, 100, 100],
      [100, 100, 100, 100],
      [100, 110, 100, 110],
      [110, 120, 110, 120],
      [120, 130, 120, 130],
      [130, 260, 130, 250],
      [250, 250, 250, 250],
    ]);
    const signals = events(7, { enterShort: [0] });
    for (const risk of [{}, { stop_loss: { percent: 500 } }]) {
      const opts: SimulationOptions = { ...base, direction: "long_short", risk };
      const r = simulate(bars, signals, opts);
      expect(r).toEqual(simulate(bars, signals, { ...opts, exhaustive: true }));
      expect(r.trades.map((t) => [t.reason, t.exitIndex])).toEqual([["liquidation", 5]]);
      for (const [i, e] of [1, 1, 0.9, 0.8, 0.7, 0, 0].entries()) expect(r.equity[i]).toBeCloseTo(e, 12);
      expect(r.returns[4]).toBeCloseTo(0.7 / 0.8 - 1, 12);
      expect(r.returns[5]).toBe(-1);
    }
  });

  it("skipping flat stretches and fast-marking held ones give exactly what stepping through every bar gives", () => {
    // Sparse events make long held stretches for the hold loops, with and without stops.
    const cases = fc.oneof(
      scenario,
      scenario.map((sc) => ({ ...sc, risk: {}, target: false, density: sc.density / 10 })),
      scenario.map((sc) => ({ ...sc, target: false, density: sc.density / 10 })),
    );
    fc.assert(
      fc.property(cases, fc.integer({ min: 0, max: 20 }), (sc, start) => {
        const bars = walk(sc.n, sc.seed);
        const opts = fixedFractionOptions(sc, start);
        const signals = signalsFor(sc.n, sc.seed, sc.density, sc.target);
        expect(simulate(bars, signals, opts)).toEqual(simulate(bars, signals, { ...opts, exhaustive: true }));
      }),
      { numRuns: 300 },
    );
  });

  it("writing into caller buffers gives the fresh-array result and leaves returns and position before the start alone", () => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 0, max: 20 }),
        fc.double({ noNaN: true }),
        (sc, start, junk) => {
          const bars = walk(sc.n, sc.seed);
          const opts = fixedFractionOptions(sc, start);
          const signals = signalsFor(sc.n, sc.seed, sc.density, sc.target);
          const fresh = simulate(bars, signals, opts);
          // Buffers full of junk, as a reused or shared buffer would be.
          const into = {
            equity: new Float64Array(sc.n).fill(junk),
            returns: new Float64Array(sc.n).fill(junk),
            position: new Float64Array(sc.n).fill(junk),
          };
          const r = simulate(bars, signals, { ...opts, into });
          const s = fresh.startIndex;
          expect(r.equity).toBe(into.equity);
          expect(r.returns).toBe(into.returns);
          expect(r.position).toBe(into.position);
          expect(Array.from(r.equity)).toEqual(Array.from(fresh.equity));
          expect(Array.from(r.returns.subarray(s))).toEqual(Array.from(fresh.returns.subarray(s)));
          expect(Array.from(r.position.subarray(s))).toEqual(Array.from(fresh.position.subarray(s)));
          for (const a of [r.returns, r.position]) for (const x of a.subarray(0, s)) expect(x).toBe(junk);
          expect(r.trades).toEqual(fresh.trades);
          expect(r.turnover).toBe(fresh.turnover);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives the same result whatever was simulated before it (the ATR buffers are reused)", () => {
    fc.assert(
      fc.property(scenario, scenario, (sc, other) => {
        const withAtr = (x: typeof sc): SimulationOptions => ({
          ...fixedFractionOptions(x, 0),
          risk: { stop_loss: { atr: 2, atr_period: 5 }, trailing_stop: { atr: 3, atr_period: 9 } },
        });
        const bars = walk(sc.n, sc.seed);
        const signals = signalsFor(sc.n, sc.seed, sc.density, sc.target);
        const first = simulate(bars, signals, withAtr(sc));
        // A longer or shorter simulation in between, on other bars, writes the same buffers.
        simulate(walk(other.n, other.seed), signalsFor(other.n, other.seed, 0.3, false), withAtr(other));
        expect(simulate(bars, signals, withAtr(sc))).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses caller buffers of the wrong length", () => {
    const bars = flatBars(5);
    const into = { equity: new Float64Array(5), returns: new Float64Array(4), position: new Float64Array(5) };
    expect(() => simulate(bars, events(5, {}), { ...base, into })).toThrow(
      /into\.returns must be a Float64Array of 5 values/,
    );
  });

  it("always flat with zero costs keeps equity at exactly 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 1e6 }), (n, seed) => {
        const r = simulate(walk(n, seed), events(n, {}), base);
        for (const e of r.equity) expect(e).toBe(1);
        expect(r.trades).toHaveLength(0);
      }),
    );
  });

  it("higher fees never give a higher final equity", () => {
    fc.assert(
      fc.property(scenario, fc.double({ min: 0, max: 50, noNaN: true }), (sc, extra) => {
        const bars = walk(sc.n, sc.seed);
        const sig = signalsFor(sc.n, sc.seed, sc.density, sc.target);
        const run = (fee: number) =>
          simulate(bars, sig, {
            direction: sc.direction,
            risk: sc.risk,
            feeBps: fee,
            slippageBps: 2,
            timeframe: "1h",
          });
        const lo = run(1);
        const hi = run(1 + extra);
        expect(hi.equity[sc.n - 1]!).toBeLessThanOrEqual(lo.equity[sc.n - 1]! + 1e-12);
        if (lo.trades.length > 0 && extra > 0.01 && lo.equity[sc.n - 1]! > 0) {
          expect(hi.equity[sc.n - 1]!).toBeLessThan(lo.equity[sc.n - 1]!);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("has no look-ahead itself: a prefix of the bars gives the same equity before its last bar", () => {
    fc.assert(
      fc.property(scenario, fc.double({ min: 0.1, max: 0.95, noNaN: true }), (sc, frac) => {
        const bars = walk(sc.n, sc.seed);
        const sig = signalsFor(sc.n, sc.seed, sc.density, sc.target);
        const opts: SimulationOptions = {
          direction: sc.direction,
          risk: sc.risk,
          feeBps: 10,
          slippageBps: 5,
          timeframe: "1h",
        };
        const cut = Math.max(1, Math.floor(sc.n * frac));
        const cutSig: Signals =
          sig.kind === "target"
            ? { kind: "target", target: sig.target.subarray(0, cut) }
            : {
                kind: "events",
                enterLong: sig.enterLong.subarray(0, cut),
                exitLong: sig.exitLong.subarray(0, cut),
                enterShort: sig.enterShort!.subarray(0, cut),
                exitShort: sig.exitShort!.subarray(0, cut),
              };
        const full = simulate(bars, sig, opts);
        const part = simulate(sliceBars(bars, 0, cut), cutSig, opts);
        for (let i = 0; i < cut - 1; i++) expect(part.equity[i]).toBe(full.equity[i]);
      }),
      { numRuns: 200 },
    );
  });
});
