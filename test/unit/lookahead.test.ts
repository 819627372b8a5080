import { describe, expect, it } from "vitest";
import { checkLookahead } from "../../src/backtest/lookahead.ts";
import type { Bars } from "../../src/domain/bars.ts";
import type { EventSignals, Signals, TargetSignals } from "../../src/domain/signals.ts";

const HOUR = 3_600_000;

/** Seeded random-walk bars with a little upward drift (so the series' max comes late). */
function walk(n: number, seed: number, drift = 0.0004): Bars {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const b = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n).fill(1),
  };
  let p = 100;
  for (let i = 0; i < n; i++) {
    const o = p;
    const c = o * Math.exp(drift + (rnd() - 0.5) * 0.02);
    b.time[i] = i * HOUR;
    b.open[i] = o;
    b.close[i] = c;
    b.high[i] = Math.max(o, c) * (1 + rnd() * 0.005);
    b.low[i] = Math.min(o, c) * (1 - rnd() * 0.005);
    p = c;
  }
  return b;
}

// ---- small indicator helpers (plain, as a strategy would write them) ----

function ema(x: ArrayLike<number>, period: number): Float64Array {
  const out = new Float64Array(x.length);
  const a = 2 / (period + 1);
  for (let i = 0; i < x.length; i++) out[i] = i === 0 ? x[0]! : out[i - 1]! + a * (x[i]! - out[i - 1]!);
  return out;
}

/** Simple moving average computed window by window (bit-identical wherever the data starts). */
function sma(x: ArrayLike<number>, period: number): Float64Array {
  const out = new Float64Array(x.length).fill(Number.NaN);
  for (let i = period - 1; i < x.length; i++) {
    let s = 0;
    for (let j = i - period + 1; j <= i; j++) s += x[j]!;
    out[i] = s / period;
  }
  return out;
}

function rsi(close: ArrayLike<number>, period: number): Float64Array {
  const out = new Float64Array(close.length).fill(Number.NaN);
  let gain = 0;
  let loss = 0;
  for (let i = 1; i < close.length; i++) {
    const d = close[i]! - close[i - 1]!;
    const g = Math.max(d, 0);
    const l = Math.max(-d, 0);
    if (i <= period) {
      gain += g / period;
      loss += l / period;
    } else {
      gain = (gain * (period - 1) + g) / period;
      loss = (loss * (period - 1) + l) / period;
    }
    if (i >= period) out[i] = loss === 0 ? 100 : 100 - 100 / (1 + gain / loss);
  }
  return out;
}

function crosses(a: ArrayLike<number>, b: ArrayLike<number>): EventSignals {
  const n = a.length;
  const enterLong = new Uint8Array(n);
  const exitLong = new Uint8Array(n);
  for (let i = 1; i < n; i++) {
    if (a[i]! > b[i]! && a[i - 1]! <= b[i - 1]!) enterLong[i] = 1;
    if (a[i]! < b[i]! && a[i - 1]! >= b[i - 1]!) exitLong[i] = 1;
  }
  return { kind: "events", enterLong, exitLong };
}

function targetOf(f: (i: number) => number, n: number): TargetSignals {
  return { kind: "target", target: Float64Array.from({ length: n }, (_, i) => f(i)) };
}

const clamp = (x: number) => Math.max(-1, Math.min(1, x));

// ---- honest strategies ----

const emaCross = (b: Bars): Signals => crosses(ema(b.close, 10), ema(b.close, 30));
const rsiEvents = (b: Bars): Signals => {
  const r = rsi(b.close, 14);
  const n = r.length;
  const enterLong = new Uint8Array(n);
  const exitLong = new Uint8Array(n);
  for (let i = 1; i < n; i++) {
    if (r[i]! < 40 && r[i - 1]! >= 40) enterLong[i] = 1;
    if (r[i]! > 60 && r[i - 1]! <= 60) exitLong[i] = 1;
  }
  return { kind: "events", enterLong, exitLong };
};
const rsiTarget = (b: Bars): Signals => {
  const r = rsi(b.close, 14);
  return targetOf((i) => (Number.isNaN(r[i]!) ? 0 : clamp((50 - r[i]!) / 20)), r.length);
};
const emaTrendTarget = (b: Bars): TargetSignals => {
  const f = ema(b.close, 10);
  const s = ema(b.close, 30);
  return targetOf((i) => (f[i]! > s[i]! ? 1 : 0), f.length);
};
/** Uses the bar's own close, which is legitimate: the simulator fills at the next open. */
const sameBarClose = (b: Bars): Signals =>
  targetOf((i) => (b.close[i]! > b.open[i]! ? 1 : 0), b.close.length);
const smaCross = (b: Bars): Signals => crosses(b.close, sma(b.close, 20));

// ---- cheats ----

const cheats: Record<string, (b: Bars) => Signals> = {
  "reads close[i+1]": (b) => {
    const n = b.close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (b.close[i + 1]! > b.close[i]! * 1.005) enterLong[i] = 1;
      if (b.close[i + 1]! < b.close[i]! * 0.995) exitLong[i] = 1;
    }
    return { kind: "events", enterLong, exitLong };
  },
  "EMA cross on the next bar's close (last value reused at the end)": (b) => {
    const n = b.close.length;
    const next = Float64Array.from({ length: n }, (_, i) => b.close[Math.min(i + 1, n - 1)]!);
    return crosses(ema(next, 10), ema(next, 30));
  },
  "reversed array": (b) => {
    const rev = ema(b.close.slice().reverse(), 10).reverse();
    return crosses(b.close, rev);
  },
  "centred rolling mean": (b) => {
    const n = b.close.length;
    const k = 5;
    const mid = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      let c = 0;
      for (let j = Math.max(0, i - k); j <= Math.min(n - 1, i + k); j++) {
        s += b.close[j]!;
        c++;
      }
      mid[i] = s / c;
    }
    return crosses(b.close, mid);
  },
  "rolling max and min over the next 5 bars (buys the coming low, sells the coming high)": (b) => {
    const n = b.close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    for (let i = 5; i < n; i++) {
      let hi = -Infinity;
      let lo = Infinity;
      for (let j = i - 5; j <= Math.min(n - 1, i + 5); j++) {
        hi = Math.max(hi, b.close[j]!);
        lo = Math.min(lo, b.close[j]!);
      }
      if (b.close[i] === lo) enterLong[i] = 1;
      if (b.close[i] === hi) exitLong[i] = 1;
    }
    return { kind: "events", enterLong, exitLong };
  },
  "normalised by the whole series' max": (b) => {
    let max = 0;
    for (const c of b.close) max = Math.max(max, c);
    return targetOf((i) => b.close[i]! / max, b.close.length);
  },
  "z-score with the whole series' mean and std": (b) => {
    const n = b.close.length;
    const mean = b.close.reduce((s, x) => s + x, 0) / n;
    const std = Math.sqrt(b.close.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    return targetOf((i) => clamp((b.close[i]! - mean) / std), n);
  },
  "events from the whole series' mean": (b) => {
    const n = b.close.length;
    const mean = b.close.reduce((s, x) => s + x, 0) / n;
    return crosses(b.close, new Float64Array(n).fill(mean));
  },
  "target shifted back one bar (fakes a same-bar fill)": (b) => {
    const honest = emaTrendTarget(b).target;
    const n = honest.length;
    return targetOf((i) => honest[Math.min(i + 1, n - 1)]!, n);
  },
  "target from the next bar's candle": (b) => {
    const n = b.close.length;
    return targetOf((i) => (i + 1 < n && b.close[i + 1]! > b.open[i + 1]! ? 1 : 0), n);
  },
};

const bars = walk(3000, 7);
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const MIN_PREFIX = 100;

describe("checkLookahead catches every cheating pattern", () => {
  it("the test data has its max after the earliest cut (the max cheat needs that to be visible)", () => {
    const argmax = bars.close.indexOf(Math.max(...bars.close));
    expect(argmax).toBeGreaterThan(MIN_PREFIX);
  });

  for (const [name, strategy] of Object.entries(cheats)) {
    it(`${name}: caught for every seed`, async () => {
      for (const seed of SEEDS) {
        const report = await checkLookahead({ bars, signalsFor: strategy, seed, minPrefix: MIN_PREFIX });
        expect(report.ok, `seed ${seed}`).toBe(false);
        expect(report.lookahead).toBe(true);
        const bad = report.firstBadBar!;
        expect(bad.index).toBeLessThan(bad.cut);
        expect(bad.time).toBe(bars.time[bad.index]);
      }
    });
  }

  it("a one-bar peek is reported at the bar just before the cut", async () => {
    const report = await checkLookahead({
      bars,
      signalsFor: cheats["target shifted back one bar (fakes a same-bar fill)"]!,
      seed: 3,
      minPrefix: MIN_PREFIX,
    });
    expect(report.firstBadBar!.index).toBe(report.firstBadBar!.cut - 1);
    expect(report.firstBadBar!.signal).toBe("target");
    expect(report.firstBadBar!.full).not.toBe(report.firstBadBar!.prefix);
  });
});

describe("the windowed cuts cannot be fooled", () => {
  const late = bars.time[2000]!;
  const lateCheats: Record<string, (b: Bars) => Signals> = {
    // Honest until bar 2000 of the data, so the shortest prefix sees nothing.
    "a one-bar peek that starts late in the data": (b) => {
      const n = b.close.length;
      const enterLong = new Uint8Array(n);
      const exitLong = new Uint8Array(n);
      for (let i = 1; i < n; i++) {
        const next = b.time[i]! >= late ? b.close[i + 1]! : b.close[i]!;
        const prev = b.close[i - 1]!;
        if (next > prev * 1.005) enterLong[i] = 1;
        if (next < prev * 0.995) exitLong[i] = 1;
      }
      return { kind: "events", enterLong, exitLong };
    },
    // Cheats only when handed short inputs, as the windows are.
    "a peek only on short inputs": (b) =>
      b.close.length < 1000 ? cheats["reads close[i+1]"]!(b) : emaCross(b),
  };
  for (const [name, strategy] of Object.entries(lateCheats)) {
    it(`${name}: caught for every seed`, async () => {
      for (const seed of SEEDS) {
        const report = await checkLookahead({ bars, signalsFor: strategy, seed, minPrefix: MIN_PREFIX });
        expect(report.ok, `seed ${seed}`).toBe(false);
        expect(report.lookahead).toBe(true);
        const bad = report.firstBadBar!;
        expect(bad.index).toBeLessThan(bad.cut);
        expect(bad.time).toBe(bars.time[bad.index]);
      }
    });
  }

  it("a peek only on long inputs is caught by the exact shortest prefix", async () => {
    const longOnly = (b: Bars): Signals =>
      b.close.length > 1500 ? cheats["reads close[i+1]"]!(b) : emaCross(b);
    for (const seed of SEEDS) {
      const report = await checkLookahead({ bars, signalsFor: longOnly, seed, minPrefix: MIN_PREFIX });
      expect(report.lookahead, `seed ${seed}`).toBe(true);
    }
  });

  it("a late peek is reported where the full prefix shows it", async () => {
    const report = await checkLookahead({
      bars,
      signalsFor: lateCheats["a one-bar peek that starts late in the data"]!,
      seed: 2,
      minPrefix: MIN_PREFIX,
    });
    const bad = report.firstBadBar!;
    expect(bad.cut).toBeGreaterThan(2000);
    expect(bad.index).toBe(bad.cut - 1);
    expect(report.prefixCuts).toBeGreaterThanOrEqual(2);
  });

  it("a window that disagrees only through too little warm-up falls back to the prefix, never to a verdict", async () => {
    // Long memory the warm-up search cannot see in its windows: a slow EMA(400) decides the
    // events, so short windows often differ from the full signals while the strategy is honest.
    const slow = (b: Bars): Signals => {
      const f = ema(b.close, 5);
      const s = ema(b.close, 400);
      return crosses(f, s);
    };
    let fallbacks = 0;
    for (const seed of SEEDS) {
      const report = await checkLookahead({
        bars,
        signalsFor: slow,
        seed,
        minPrefix: MIN_PREFIX,
        maxWarmup: 30,
      });
      expect(report.ok, `seed ${seed}`).toBe(true);
      expect(report.warmupStable).toBe(true);
      fallbacks += report.prefixCuts - 1;
    }
    expect(fallbacks).toBeGreaterThan(0);
  });
});

describe("checkLookahead passes honest strategies", () => {
  const honest: Record<string, (b: Bars) => Signals> = {
    "EMA cross": emaCross,
    "RSI events": rsiEvents,
    "RSI target": rsiTarget,
    "target from the bar's own close": sameBarClose,
    "SMA cross": smaCross,
  };
  for (const [name, strategy] of Object.entries(honest)) {
    it(`${name}: no look-ahead for every seed`, async () => {
      for (const seed of SEEDS) {
        const report = await checkLookahead({ bars, signalsFor: strategy, seed, minPrefix: MIN_PREFIX });
        expect(report.ok, `seed ${seed}`).toBe(true);
        expect(report.lookahead).toBe(false);
        expect(report.cutsChecked).toBeGreaterThanOrEqual(5);
      }
    });
  }
});

describe("warm-up", () => {
  it("a windowed SMA cross needs exactly 20 bars of history", async () => {
    const report = await checkLookahead({ bars, signalsFor: smaCross, seed: 1 });
    // The cross at bar i compares SMA(20) at i and i−1: bars i−20..i.
    expect(report.warmupBars).toBe(20);
    expect(report.warmupStable).toBe(true);
  });

  it("a bar-local signal needs none", async () => {
    const report = await checkLookahead({ bars, signalsFor: sameBarClose, seed: 1 });
    expect(report.warmupBars).toBe(0);
  });

  it("EMA and RSI need more history than their period, and more for a continuous target", async () => {
    const cross = await checkLookahead({ bars, signalsFor: emaCross, seed: 1 });
    expect(cross.warmupBars).toBeGreaterThan(30);
    expect(cross.warmupStable).toBe(true);
    const target = await checkLookahead({ bars, signalsFor: rsiTarget, seed: 1 });
    // Wilder smoothing (1 − 1/14)^h must fall under the 1e-6 tolerance: h ≈ ln(1e-6)/ln(13/14) ≈ 186.
    expect(target.warmupBars).toBeGreaterThan(100);
    expect(target.warmupBars).toBeLessThan(400);
  });

  it("a signal anchored to the first bar of the data never stabilises", async () => {
    const anchored = (b: Bars): Signals => {
      let sum = 0;
      return targetOf((i) => {
        sum += b.close[i]!;
        return clamp((b.close[i]! / (sum / (i + 1)) - 1) * 0.1);
      }, b.close.length);
    };
    const report = await checkLookahead({ bars, signalsFor: anchored, seed: 1, maxWarmup: 500 });
    expect(report.ok).toBe(true); // no look-ahead: it only uses the past
    expect(report.warmupStable).toBe(false);
    expect(report.warmupBars).toBe(500);
  });

  it("a strategy that throws on short histories is given more, not failed", async () => {
    const picky = (b: Bars): Signals => {
      if (b.close.length < 150) throw new Error("need 150 bars");
      return emaCross(b);
    };
    const report = await checkLookahead({ bars, signalsFor: picky, seed: 1, minPrefix: 100 });
    expect(report.ok).toBe(true);
    expect(report.warmupBars).toBeGreaterThan(0);
  });

  it("a strategy that throws on every prefix fails the check", async () => {
    const full = bars.close.length;
    const dodger = (b: Bars): Signals => {
      if (b.close.length < full) throw new Error("only full data");
      return cheats["reads close[i+1]"]!(b);
    };
    const report = await checkLookahead({ bars, signalsFor: dodger, seed: 1 });
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/every prefix/);
  });

  it("keeps the number of strategy runs small", async () => {
    const report = await checkLookahead({ bars, signalsFor: emaCross, seed: 1, cuts: 3 });
    // full + shortest prefix + doubling and bisection up to 2000 + 6 window pairs + 16 windows
    expect(report.runs).toBeLessThanOrEqual(1 + 1 + 2 * 12 + 2 * 6 + 16);
    expect(report.cutsChecked).toBe(1 + 6 + 16);
    expect(report.windowsChecked).toBeGreaterThanOrEqual(16);
  });

  it("caps the default shortest prefix on long data, and still catches whole-series statistics", async () => {
    const long = walk(250_000, 5);
    let barsRun = 0;
    const counted = (b: Bars): Signals => {
      barsRun += b.close.length;
      return emaCross(b);
    };
    const honest = await checkLookahead({ bars: long, signalsFor: counted, seed: 1 });
    expect(honest.ok).toBe(true);
    // the full run, a 20,000-bar shortest prefix (not 25,000) and small windows
    expect(barsRun).toBeLessThan(long.close.length + 20_000 + 15_000);
    expect(barsRun).toBeGreaterThan(long.close.length + 20_000);
    for (const name of [
      "normalised by the whole series' max",
      "z-score with the whole series' mean and std",
    ]) {
      const report = await checkLookahead({ bars: long, signalsFor: cheats[name]!, seed: 1 });
      expect(report.lookahead, name).toBe(true);
    }
  });

  it("runs only the shortest prefix in full when the windows agree, so large data stays cheap", async () => {
    const big = walk(60_000, 11);
    let barsRun = 0;
    const counted = (b: Bars): Signals => {
      barsRun += b.close.length;
      return emaCross(b);
    };
    const report = await checkLookahead({ bars: big, signalsFor: counted, seed: 1 });
    expect(report.ok).toBe(true);
    expect(report.prefixCuts).toBe(1);
    // the full run, the ~10 % shortest prefix, and small windows
    expect(barsRun).toBeLessThan(big.close.length * 1.35);
  });
});
