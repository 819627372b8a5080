/**
 * Shared fixtures for the ta-* tests: deterministic synthetic OHLCV markets and, for every
 * indicator in `ta`, how to call it with named parameters (the names used in taReference).
 */
import { type Ta, ta } from "../../src/backtest/ta/index.ts";

export interface Market {
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

export type MarketKind = "walk" | "ticks" | "flat";

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random-walk market. "ticks" rounds prices to a coarse tick and repeats bars so ties, flat
 * windows and zero ranges occur (the edge cases of deques, constancy checks and divisions);
 * "flat" is a constant price with constant volume.
 */
export function makeMarket(n: number, seed: number, kind: MarketKind = "walk"): Market {
  const r = rng(seed);
  const m: Market = {
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  let p = 100 + r() * 50;
  const tick = 0.5;
  for (let i = 0; i < n; i++) {
    if (kind === "flat") {
      m.open[i] = m.high[i] = m.low[i] = m.close[i] = 100;
      m.volume[i] = 5;
      continue;
    }
    const repeat = kind === "ticks" && i > 0 && r() < 0.3;
    const open = p;
    if (!repeat) p *= 1 + (r() - 0.5) * 0.03;
    let close = p;
    let high = Math.max(open, close) * (1 + r() * 0.01);
    let low = Math.min(open, close) * (1 - r() * 0.01);
    if (kind === "ticks") {
      close = Math.round(close / tick) * tick;
      high = Math.max(Math.round(high / tick) * tick, close);
      low = Math.min(Math.round(low / tick) * tick, close);
      if (repeat && i > 0) {
        high = m.high[i - 1]!;
        low = m.low[i - 1]!;
        close = m.close[i - 1]!;
      }
    }
    m.open[i] = open;
    m.high[i] = high;
    m.low[i] = low;
    m.close[i] = close;
    m.volume[i] = kind === "ticks" ? Math.round(1 + r() * 20) : 0.5 + r() * 20;
  }
  return m;
}

/** An indicator result: one array, or a plain object of named Float64Arrays. */
export type Output = Float64Array | Uint8Array | object;

/** Outputs as named arrays; a single-array indicator has one output named "value". */
export function outputsOf(out: Output): Record<string, Float64Array | Uint8Array> {
  return out instanceof Float64Array || out instanceof Uint8Array
    ? { value: out }
    : (out as Record<string, Float64Array>);
}

export interface IndicatorCase {
  name: keyof Ta;
  /** Parameter values by the names used in taReference signatures. */
  params: Record<string, number>;
  call: (m: Market) => Output;
  /** Bars after a NaN input bar at which the output first shows NaN (shift lags it). */
  nanDelay?: number;
}

type Builder = (p: Record<string, number>) => Omit<IndicatorCase, "name" | "params">;

const builders: { [K in keyof Ta]: { sets: Record<string, number>[]; build: Builder } } = {
  sma: {
    sets: [{ period: 1 }, { period: 5 }, { period: 20 }],
    build: (p) => ({ call: (m) => ta.sma(m.close, p.period!) }),
  },
  ema: { sets: [{ period: 1 }, { period: 9 }], build: (p) => ({ call: (m) => ta.ema(m.close, p.period!) }) },
  wma: { sets: [{ period: 1 }, { period: 10 }], build: (p) => ({ call: (m) => ta.wma(m.close, p.period!) }) },
  rma: { sets: [{ period: 1 }, { period: 14 }], build: (p) => ({ call: (m) => ta.rma(m.close, p.period!) }) },
  dema: {
    sets: [{ period: 2 }, { period: 10 }],
    build: (p) => ({ call: (m) => ta.dema(m.close, p.period!) }),
  },
  tema: {
    sets: [{ period: 1 }, { period: 6 }],
    build: (p) => ({ call: (m) => ta.tema(m.close, p.period!) }),
  },
  rsi: { sets: [{ period: 2 }, { period: 14 }], build: (p) => ({ call: (m) => ta.rsi(m.close, p.period) }) },
  macd: {
    sets: [
      { fast: 12, slow: 26, signal: 9 },
      { fast: 3, slow: 7, signal: 4 },
    ],
    build: (p) => ({ call: (m) => ta.macd(m.close, p.fast, p.slow, p.signal) }),
  },
  stoch: {
    sets: [
      { kPeriod: 14, kSmooth: 3, dPeriod: 3 },
      { kPeriod: 5, kSmooth: 1, dPeriod: 2 },
    ],
    build: (p) => ({ call: (m) => ta.stoch(m.high, m.low, m.close, p.kPeriod, p.kSmooth, p.dPeriod) }),
  },
  stochRsi: {
    sets: [
      { rsiPeriod: 14, stochPeriod: 14, kSmooth: 3, dSmooth: 3 },
      { rsiPeriod: 5, stochPeriod: 4, kSmooth: 1, dSmooth: 2 },
    ],
    build: (p) => ({ call: (m) => ta.stochRsi(m.close, p.rsiPeriod, p.stochPeriod, p.kSmooth, p.dSmooth) }),
  },
  cci: {
    sets: [{ period: 20 }, { period: 3 }],
    build: (p) => ({ call: (m) => ta.cci(m.high, m.low, m.close, p.period) }),
  },
  roc: { sets: [{ period: 1 }, { period: 10 }], build: (p) => ({ call: (m) => ta.roc(m.close, p.period!) }) },
  mom: { sets: [{ period: 1 }, { period: 10 }], build: (p) => ({ call: (m) => ta.mom(m.close, p.period!) }) },
  williamsR: {
    sets: [{ period: 14 }, { period: 1 }],
    build: (p) => ({ call: (m) => ta.williamsR(m.high, m.low, m.close, p.period) }),
  },
  adx: {
    sets: [{ period: 14 }, { period: 3 }],
    build: (p) => ({ call: (m) => ta.adx(m.high, m.low, m.close, p.period) }),
  },
  atr: {
    sets: [{ period: 14 }, { period: 1 }],
    build: (p) => ({ call: (m) => ta.atr(m.high, m.low, m.close, p.period) }),
  },
  natr: {
    sets: [{ period: 14 }],
    build: (p) => ({ call: (m) => ta.natr(m.high, m.low, m.close, p.period) }),
  },
  bbands: {
    sets: [
      { period: 20, mult: 2 },
      { period: 2, mult: 1.5 },
    ],
    build: (p) => ({ call: (m) => ta.bbands(m.close, p.period, p.mult) }),
  },
  donchian: {
    sets: [{ period: 20 }, { period: 1 }],
    build: (p) => ({ call: (m) => ta.donchian(m.high, m.low, p.period) }),
  },
  keltner: {
    sets: [
      { period: 20, atrPeriod: 10, mult: 2 },
      { period: 5, atrPeriod: 12, mult: 1 },
    ],
    build: (p) => ({ call: (m) => ta.keltner(m.high, m.low, m.close, p.period, p.atrPeriod, p.mult) }),
  },
  supertrend: {
    sets: [
      { period: 10, mult: 3 },
      { period: 2, mult: 1 },
    ],
    build: (p) => ({ call: (m) => ta.supertrend(m.high, m.low, m.close, p.period, p.mult) }),
  },
  stdev: {
    sets: [{ period: 1 }, { period: 20 }],
    build: (p) => ({ call: (m) => ta.stdev(m.close, p.period!) }),
  },
  realizedVol: {
    sets: [
      { period: 10, annualization: 1 },
      { period: 2, annualization: 8760 },
    ],
    build: (p) => ({ call: (m) => ta.realizedVol(m.close, p.period!, p.annualization) }),
  },
  obv: { sets: [{}], build: () => ({ call: (m) => ta.obv(m.close, m.volume) }) },
  vwap: {
    sets: [{ period: 1 }, { period: 24 }],
    build: (p) => ({ call: (m) => ta.vwap(m.high, m.low, m.close, m.volume, p.period!) }),
  },
  zscore: {
    sets: [{ period: 2 }, { period: 20 }],
    build: (p) => ({ call: (m) => ta.zscore(m.close, p.period!) }),
  },
  highest: {
    sets: [{ period: 1 }, { period: 7 }],
    build: (p) => ({ call: (m) => ta.highest(m.high, p.period!) }),
  },
  lowest: {
    sets: [{ period: 1 }, { period: 7 }],
    build: (p) => ({ call: (m) => ta.lowest(m.low, p.period!) }),
  },
  percentRank: {
    sets: [{ period: 1 }, { period: 20 }],
    build: (p) => ({ call: (m) => ta.percentRank(m.close, p.period!) }),
  },
  correlation: {
    sets: [{ period: 2 }, { period: 20 }],
    build: (p) => ({ call: (m) => ta.correlation(m.close, m.volume, p.period!) }),
  },
  returns: {
    sets: [{ period: 1 }, { period: 5 }],
    build: (p) => ({ call: (m) => ta.returns(m.close, p.period) }),
  },
  logReturns: {
    sets: [{ period: 1 }, { period: 5 }],
    build: (p) => ({ call: (m) => ta.logReturns(m.close, p.period) }),
  },
  shift: {
    sets: [{ bars: 0 }, { bars: 1 }, { bars: 5 }],
    build: (p) => ({ call: (m) => ta.shift(m.close, p.bars), nanDelay: p.bars! }),
  },
  crossover: { sets: [{}], build: () => ({ call: (m) => ta.crossover(m.close, ta.sma(m.close, 5)) }) },
  crossunder: { sets: [{}], build: () => ({ call: (m) => ta.crossunder(m.close, ta.sma(m.close, 5)) }) },
};

/** Every indicator in `ta` with each of its parameter sets (the typed map forces one entry per key). */
export const indicatorCases: IndicatorCase[] = Object.entries(builders).flatMap(([name, { sets, build }]) =>
  sets.map((params) => ({ name: name as keyof Ta, params, ...build(params) })),
);

export function caseLabel(c: IndicatorCase): string {
  const ps = Object.entries(c.params).map(([k, v]) => `${k}=${v}`);
  return `${c.name}(${ps.join(", ")})`;
}

/** Evaluate a taReference warm-up formula ("period - 1", "max(fast, slow) + signal - 2") for `params`. */
export function evalWarmup(formula: string, params: Record<string, number>): number {
  if (!/^[\w\s+\-*(),]+$/.test(formula)) throw new Error(`unexpected warm-up formula ${formula}`);
  const names = Object.keys(params);
  // Test-only evaluation of our own documentation strings, checked against the allow-list above.
  const fn = new Function("max", ...names, `return (${formula});`) as (...a: unknown[]) => number;
  return fn(Math.max, ...names.map((k) => params[k]));
}

/** Warm-up per output name from a taReference entry ("value" for single-output indicators). */
export function warmupsOf(warmup: string, params: Record<string, number>): Record<string, number> {
  if (!warmup.includes(":")) return { value: evalWarmup(warmup, params) };
  const out: Record<string, number> = {};
  for (const part of warmup.split(";")) {
    const [key, formula] = part.split(":").map((s) => s.trim());
    out[key!] = evalWarmup(formula!, params);
  }
  return out;
}
