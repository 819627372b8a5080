/**
 * `ta` against an independent implementation: trading-signals v8 (streaming, one value at a time)
 * for every indicator it has, its batch helpers applied window by window for the rolling
 * statistics, and small values computed by hand / numpy for the rest. Agreement is within
 * 1e-9 relative, with an absolute floor of 1e-9 for values near zero: |a − b| <= 1e-9·max(1, |a|, |b|).
 */
import {
  ADX,
  ATR,
  BollingerBands,
  CCI,
  DEMA,
  DonchianChannels,
  EMA,
  getCorrelation,
  getLogReturns,
  getReturns,
  getStandardDeviation,
  getZScore,
  KeltnerChannels,
  MACD,
  MOM,
  NATR,
  OBV,
  ROC,
  RSI,
  SMA,
  StochasticOscillator,
  StochasticRSI,
  SuperTrend,
  TEMA,
  VWAP,
  WilliamsR,
  WMA,
  WSMA,
} from "trading-signals";
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";
import { type Market, makeMarket } from "./ta-cases.ts";

const TOL = 1e-9;

type Maybe = number | null | undefined;

/**
 * Compares where the oracle has a value; `sameWarmup` also demands NaN exactly where it has none.
 * Returns how many values were compared, so a test cannot pass by comparing nothing.
 */
function compare(label: string, ours: ArrayLike<number>, theirs: Maybe[], sameWarmup: boolean): number {
  expect(ours.length, label).toBe(theirs.length);
  let compared = 0;
  for (let i = 0; i < theirs.length; i++) {
    const t = theirs[i];
    const o = ours[i]!;
    if (t === null || t === undefined) {
      if (sameWarmup && !Number.isNaN(o))
        throw new Error(`${label}[${i}]: ours ${o}, oracle has no value yet`);
      continue;
    }
    if (Number.isNaN(o)) {
      if (sameWarmup) throw new Error(`${label}[${i}]: ours NaN, oracle ${t}`);
      continue;
    }
    const err = Math.abs(o - t);
    if (err > TOL * Math.max(1, Math.abs(o), Math.abs(t)))
      throw new Error(`${label}[${i}]: ours ${o}, oracle ${t}`);
    compared++;
  }
  return compared;
}

interface Streaming<In, Out> {
  add(x: In): Out | null;
  readonly isStable: boolean;
}

/** Feeds the oracle bar by bar; null until it reports itself stable. */
function stream<In, Out>(ind: Streaming<In, Out>, inputs: In[]): (Out | null)[] {
  return inputs.map((x) => {
    const r = ind.add(x);
    return ind.isStable ? r : null;
  });
}

function candlesOf(m: Market) {
  return Array.from(m.close, (close, i) => ({
    open: m.open[i]!,
    high: m.high[i]!,
    low: m.low[i]!,
    close,
    volume: m.volume[i]!,
  }));
}

/** Applies `f` to every full window of `period` bars (oracle for rolling statistics). */
function windows(n: number, period: number, f: (from: number, to: number) => number): Maybe[] {
  return Array.from({ length: n }, (_, i) => (i >= period - 1 ? f(i - period + 1, i + 1) : null));
}

function scaled(m: Market, k: number): Market {
  const s = (a: Float64Array) => a.map((x) => x * k);
  return { open: s(m.open), high: s(m.high), low: s(m.low), close: s(m.close), volume: m.volume };
}

const markets: [string, Market][] = [
  ["random walk", makeMarket(600, 1, "walk")],
  ["tick-rounded with ties", makeMarket(600, 2, "ticks")],
  ["BTC-sized prices (~1e5)", scaled(makeMarket(600, 3, "walk"), 1000)],
];

describe.each(markets)("against trading-signals on a %s market", (_label, m) => {
  const n = m.close.length;
  const c = Array.from(m.close);
  const candles = candlesOf(m);
  const cmp = (label: string, ours: ArrayLike<number>, theirs: Maybe[], minCompared: number, same = true) => {
    expect(compare(label, ours, theirs, same), `${label}: values compared`).toBeGreaterThanOrEqual(
      minCompared,
    );
  };

  it("moving averages: SMA, EMA, WMA, RMA (WSMA), DEMA, TEMA", () => {
    for (const p of [1, 5, 20, 50]) {
      cmp(`sma(${p})`, ta.sma(m.close, p), stream(new SMA(p), c), n - p + 1);
      cmp(`ema(${p})`, ta.ema(m.close, p), stream(new EMA(p), c), n - p + 1);
      cmp(`wma(${p})`, ta.wma(m.close, p), stream(new WMA(p), c), n - p + 1);
      cmp(`rma(${p})`, ta.rma(m.close, p), stream(new WSMA(p), c), n - p + 1);
      cmp(`dema(${p})`, ta.dema(m.close, p), stream(new DEMA(p), c), n - p + 1);
      cmp(`tema(${p})`, ta.tema(m.close, p), stream(new TEMA(p), c), n - 3 * (p - 1));
    }
  });

  it("RSI, ROC, MOM", () => {
    for (const p of [2, 14, 30]) {
      cmp(`rsi(${p})`, ta.rsi(m.close, p), stream(new RSI(p), c), n - p);
      cmp(`roc(${p})`, ta.roc(m.close, p), stream(new ROC(p), c), n - p);
      cmp(`mom(${p})`, ta.mom(m.close, p), stream(new MOM(p), c), n - p);
    }
  });

  it("MACD line, signal and histogram", () => {
    const ours = ta.macd(m.close, 12, 26, 9);
    const oracle = new MACD(new EMA(12), new EMA(26), new EMA(9));
    const theirs = c.map((x) => oracle.add(x));
    cmp(
      "macd",
      ours.macd,
      theirs.map((r) => r?.macd),
      n - 25,
    );
    // trading-signals emits its signal EMA before that EMA is stable; ours waits for it.
    const warm = 25 + 8;
    const stable = (key: "signal" | "histogram") => theirs.map((r, i) => (i >= warm ? r?.[key] : null));
    cmp("macd.signal", ours.signal, stable("signal"), n - warm);
    cmp("macd.histogram", ours.histogram, stable("histogram"), n - warm);
  });

  it("Bollinger Bands, Donchian and Keltner channels", () => {
    const bb = new BollingerBands(20, 2);
    const bbr = c.map((x) => bb.add(x));
    const ours = ta.bbands(m.close, 20, 2);
    for (const k of ["upper", "middle", "lower"] as const)
      cmp(
        `bbands.${k}`,
        ours[k],
        bbr.map((r) => r?.[k]),
        n - 19,
      );
    const dc = new DonchianChannels(20);
    const dcr = candles.map((x) => dc.add(x));
    const dco = ta.donchian(m.high, m.low, 20);
    for (const k of ["upper", "middle", "lower"] as const)
      cmp(
        `donchian.${k}`,
        dco[k],
        dcr.map((r) => r?.[k]),
        n - 19,
      );
    const kc = new KeltnerChannels({ emaInterval: 20, atrInterval: 10, multiplier: 2 });
    const kcr = candles.map((x) => kc.add(x));
    const kco = ta.keltner(m.high, m.low, m.close, 20, 10, 2);
    for (const k of ["upper", "middle", "lower"] as const)
      cmp(
        `keltner.${k}`,
        kco[k],
        kcr.map((r) => r?.[k]),
        n - 19,
      );
  });

  it("ATR, NATR, ADX with +DI/−DI, SuperTrend", () => {
    for (const p of [1, 5, 14]) {
      cmp(`atr(${p})`, ta.atr(m.high, m.low, m.close, p), stream(new ATR(p), candles), n - p + 1);
      cmp(`natr(${p})`, ta.natr(m.high, m.low, m.close, p), stream(new NATR(p), candles), n - p + 1);
    }
    for (const p of [3, 14]) {
      const oracle = new ADX(p);
      const rows = candles.map((x) => {
        const r = oracle.add(x);
        return { adx: oracle.isStable ? r : null, pdi: oracle.pdi, mdi: oracle.mdi };
      });
      const ours = ta.adx(m.high, m.low, m.close, p);
      cmp(
        `adx(${p})`,
        ours.adx,
        rows.map((r) => r.adx),
        n - 2 * p + 2,
      );
      cmp(
        `plusDi(${p})`,
        ours.plusDi,
        rows.map((r) => (r.pdi === undefined ? null : r.pdi * 100)),
        n - p + 1,
      );
      cmp(
        `minusDi(${p})`,
        ours.minusDi,
        rows.map((r) => (r.mdi === undefined ? null : r.mdi * 100)),
        n - p + 1,
      );
    }
    const st = new SuperTrend({ interval: 10, multiplier: 3 });
    const str = candles.map((x) => st.add(x));
    const sto = ta.supertrend(m.high, m.low, m.close, 10, 3);
    cmp(
      "supertrend.line",
      sto.line,
      str.map((r) => r?.supertrend),
      n - 9,
    );
    cmp(
      "supertrend.direction",
      sto.direction,
      str.map((r) => (r ? (r.trend === "BULLISH" ? 1 : -1) : null)),
      n - 9,
    );
  });

  it("Stochastic, StochRSI, Williams %R, CCI", () => {
    const so = new StochasticOscillator({ kPeriod: 14, kSlowingPeriod: 3, dPeriod: 3 });
    const sor = candles.map((x) => so.add(x));
    const ours = ta.stoch(m.high, m.low, m.close, 14, 3, 3);
    // trading-signals emits k only together with d; ours emits k as soon as it exists.
    cmp(
      "stoch.k",
      ours.k,
      sor.map((r) => r?.stochK),
      n - 17,
      false,
    );
    cmp(
      "stoch.d",
      ours.d,
      sor.map((r) => r?.stochD),
      n - 17,
    );
    // trading-signals returns the raw stochastic of RSI on a 0..1 scale (ours: 0..100, kSmooth 1).
    const raw = ta.stochRsi(m.close, 14, 14, 1, 1).k.map((x) => x / 100);
    const sr = stream(new StochasticRSI(14), c).map((x) => (x === 100 ? 1 : x));
    cmp("stochRsi.k", raw, sr, n - 27);
    cmp("williamsR", ta.williamsR(m.high, m.low, m.close, 14), stream(new WilliamsR(14), candles), n - 13);
    cmp("cci", ta.cci(m.high, m.low, m.close, 20), stream(new CCI(20), candles), n - 19);
  });

  it("OBV and rolling VWAP", () => {
    // trading-signals OBV(2) starts accumulating on bar 1, ours on bar 0 at 0: same from bar 1 on.
    const theirs = stream(new OBV(2), candles);
    cmp("obv", ta.obv(m.close, m.volume), [0, ...theirs.slice(1)], n);
    for (const p of [1, 24]) {
      const oracle = windows(n, p, (from, to) => {
        const v = new VWAP();
        let last = Number.NaN;
        for (let i = from; i < to; i++) last = v.add(candles[i]!) ?? last;
        return last;
      });
      cmp(`vwap(${p})`, ta.vwap(m.high, m.low, m.close, m.volume, p), oracle, n - p + 1);
    }
  });

  it("rolling statistics: stdev, zscore, correlation, highest, lowest, returns, log returns", () => {
    for (const p of [2, 20, 200]) {
      const w = (from: number, to: number) => c.slice(from, to);
      cmp(
        `stdev(${p})`,
        ta.stdev(m.close, p),
        windows(n, p, (a, b) => getStandardDeviation(w(a, b))),
        n - p + 1,
      );
      // trading-signals throws on a constant window; ours documents 0 there.
      const constant = (xs: number[]) => xs.every((x) => x === xs[0]);
      const z = windows(n, p, (a, b) => (constant(w(a, b)) ? 0 : getZScore(w(a, b))));
      cmp(`zscore(${p})`, ta.zscore(m.close, p), z, n - p + 1);
      const vol = Array.from(m.volume);
      const r = windows(n, p, (a, b) =>
        constant(w(a, b)) || constant(vol.slice(a, b)) ? 0 : getCorrelation(w(a, b), vol.slice(a, b)),
      );
      cmp(`correlation(${p})`, ta.correlation(m.close, m.volume, p), r, n - p + 1);
      cmp(
        `highest(${p})`,
        ta.highest(m.close, p),
        windows(n, p, (a, b) => Math.max(...w(a, b))),
        n - p + 1,
      );
      cmp(
        `lowest(${p})`,
        ta.lowest(m.close, p),
        windows(n, p, (a, b) => Math.min(...w(a, b))),
        n - p + 1,
      );
    }
    for (const p of [1, 7]) {
      const back = (f: (xs: number[]) => number[]) =>
        c.map((_, i) => (i >= p ? f([c[i - p]!, c[i]!])[0]! : null));
      cmp(
        `returns(${p})`,
        ta.returns(m.close, p),
        back((xs) => getReturns(xs).map((r) => r / 100)),
        n - p,
      );
      cmp(`logReturns(${p})`, ta.logReturns(m.close, p), back(getLogReturns), n - p);
    }
    const lr = getLogReturns(c);
    const rv = windows(n - 1, 30, (a, b) => getStandardDeviation(lr.slice(a, b)) * Math.sqrt(365));
    cmp("realizedVol(30, 365)", ta.realizedVol(m.close, 30, 365), [null, ...rv], n - 30);
  });
});

describe("hand-computed references (numpy values in comments)", () => {
  const expectClose = (ours: ArrayLike<number>, expected: number[]) => {
    expect(ours.length).toBe(expected.length);
    expected.forEach((e, i) => {
      if (Number.isNaN(e)) expect(ours[i], `[${i}]`).toBeNaN();
      else
        expect(Math.abs(ours[i]! - e), `[${i}]: ${ours[i]} vs ${e}`).toBeLessThanOrEqual(
          TOL * Math.max(1, Math.abs(e)),
        );
    });
  };
  const N = Number.NaN;

  it("percentRank: share of the previous `period` values <= the current one", () => {
    // [1,3,2] <= 5: 3/3; [3,2,5] <= 4: 2/3; [2,5,4] <= 4: 2/3; [5,4,4] <= 6: 3/3
    expectClose(ta.percentRank([1, 3, 2, 5, 4, 4, 6], 3), [N, N, N, 1, 2 / 3, 2 / 3, 1]);
  });

  it("realizedVol: population stdev of one-bar log returns, optionally annualized", () => {
    const x = [100, 101, 99, 102, 103, 103, 101.5];
    // r = np.diff(np.log(x)); [np.std(r[i-2:i]) for i in range(2, 7)]
    expectClose(ta.realizedVol(x, 2), [
      N,
      N,
      0.014975498779918883,
      0.02492681492817539,
      0.010048394102157854,
      0.004878087472682591,
      0.007335094873897052,
    ]);
    // [np.std(r[i-3:i]) * np.sqrt(8760) for i in range(3, 7)]
    expectClose(ta.realizedVol(x, 3, 8760), [
      N,
      N,
      N,
      1.917759056475364,
      1.9167877641838993,
      1.1632667655026379,
      0.939604624307177,
    ]);
  });

  it("correlation: Pearson over the window", () => {
    // [np.corrcoef(a[i-3:i], b[i-3:i])[0, 1] for i in range(3, 7)]
    expectClose(ta.correlation([1, 2, 4, 3, 5, 7.5], [2, 1, 3, 3.5, 4, 9], 3), [
      N,
      N,
      0.6546536707079771,
      0.7559289460184544,
      0.5,
      0.9296832967972584,
    ]);
  });

  it("crossover / crossunder against a series and against a fixed level", () => {
    const a = [1, 2, 3, 2, 1, 2];
    expect(Array.from(ta.crossover(a, 2))).toEqual([0, 0, 1, 0, 0, 0]);
    expect(Array.from(ta.crossunder(a, 2))).toEqual([0, 0, 0, 0, 1, 0]);
    expect(Array.from(ta.crossover(a, [0, 3, 2, 2, 2, 1]))).toEqual([0, 0, 1, 0, 0, 1]);
    expect(Array.from(ta.crossover([1, Number.NaN, 3], 2))).toEqual([0, 0, 0]);
  });

  it("shift lags by whole bars", () => {
    expectClose(ta.shift([1, 2, 3, 4], 2), [N, N, 1, 2]);
    expectClose(ta.shift([1, 2], 5), [N, N]);
    expectClose(ta.shift([1, 2, 3], 0), [1, 2, 3]);
  });

  it("small textbook values: sma, wma, ema, rma, stdev", () => {
    const x = [1, 2, 3, 4, 5];
    expectClose(ta.sma(x, 3), [N, N, 2, 3, 4]);
    // (1·1 + 2·2 + 3·3) / 6 = 14/6
    expectClose(ta.wma(x, 3), [N, N, 14 / 6, 20 / 6, 26 / 6]);
    // alpha 0.5 seeded with 1: 1, 1.5, 2.25, 3.125, 4.0625
    expectClose(ta.ema(x, 3), [N, N, 2.25, 3.125, 4.0625]);
    // seed mean(1,2,3) = 2, then 2 + (4 − 2)/3, ...
    expectClose(ta.rma(x, 3), [N, N, 2, 8 / 3, 8 / 3 + (5 - 8 / 3) / 3]);
    // np.std([1,2,3]) = sqrt(2/3)
    expectClose(ta.stdev(x, 3), [N, N, Math.sqrt(2 / 3), Math.sqrt(2 / 3), Math.sqrt(2 / 3)]);
  });
});
