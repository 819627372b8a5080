/**
 * The `ta` API as data, for the strategy-writing prompt. Kept next to the functions and checked
 * by test/unit/ta-contract.test.ts: every function in `ta` has exactly one entry, and each
 * `warmup` formula is evaluated with the test's parameters and compared with the real NaN prefix,
 * so the documentation cannot drift from the code.
 */
export interface TaReferenceEntry {
  /** Key in the `ta` object. */
  name: string;
  /** Call signature with defaults, parameter names as used in `warmup`. */
  signature: string;
  /** What comes back. */
  returns: string;
  /** One or two sentences: what it is and the conventions that matter. */
  description: string;
  /**
   * Number of leading NaN outputs on clean input, as a formula over the signature's parameters
   * (`max(a, b)` allowed); per output `key: formula; key: formula` for multi-output indicators.
   */
  warmup: string;
}

const OHLC = "high, low, close";

export const taReference: readonly TaReferenceEntry[] = [
  {
    name: "sma",
    signature: "sma(source, period)",
    returns: "Float64Array",
    description: "Simple moving average of the last `period` values.",
    warmup: "period - 1",
  },
  {
    name: "ema",
    signature: "ema(source, period)",
    returns: "Float64Array",
    description: "Exponential moving average, alpha = 2/(period+1), seeded with the first value.",
    warmup: "period - 1",
  },
  {
    name: "wma",
    signature: "wma(source, period)",
    returns: "Float64Array",
    description: "Linearly weighted moving average (newest weight = period, oldest = 1).",
    warmup: "period - 1",
  },
  {
    name: "rma",
    signature: "rma(source, period)",
    returns: "Float64Array",
    description:
      "Wilder's moving average (RMA/SMMA, alpha = 1/period), seeded with the SMA of the first `period` values.",
    warmup: "period - 1",
  },
  {
    name: "dema",
    signature: "dema(source, period)",
    returns: "Float64Array",
    description: "Double EMA: 2*EMA(x) - EMA(EMA(x)); less lag than ema.",
    warmup: "period - 1",
  },
  {
    name: "tema",
    signature: "tema(source, period)",
    returns: "Float64Array",
    description: "Triple EMA: 3*e1 - 3*e2 + e3 of chained EMAs; least lag of the EMA family.",
    warmup: "3 * (period - 1)",
  },
  {
    name: "rsi",
    signature: "rsi(source, period = 14)",
    returns: "Float64Array in [0, 100]",
    description: "Wilder's relative strength index; 100 when there were no losses in the smoothing.",
    warmup: "period",
  },
  {
    name: "macd",
    signature: "macd(source, fast = 12, slow = 26, signal = 9)",
    returns: "{ macd, signal, histogram }: Float64Array each",
    description: "MACD line = EMA(fast) - EMA(slow), signal = EMA(macd, signal), histogram = macd - signal.",
    warmup:
      "macd: max(fast, slow) - 1; signal: max(fast, slow) + signal - 2; histogram: max(fast, slow) + signal - 2",
  },
  {
    name: "stoch",
    signature: `stoch(${OHLC}, kPeriod = 14, kSmooth = 3, dPeriod = 3)`,
    returns: "{ k, d }: Float64Array each, in [0, 100]",
    description:
      "Stochastic oscillator: k = SMA(100*(close - lowest low)/(highest high - lowest low), kSmooth) over kPeriod bars, d = SMA(k, dPeriod). kSmooth = 1 gives the fast stochastic.",
    warmup: "k: kPeriod + kSmooth - 2; d: kPeriod + kSmooth + dPeriod - 3",
  },
  {
    name: "stochRsi",
    signature: "stochRsi(source, rsiPeriod = 14, stochPeriod = 14, kSmooth = 3, dSmooth = 3)",
    returns: "{ k, d }: Float64Array each, in [0, 100]",
    description:
      "Stochastic of RSI over stochPeriod RSI values (100 when the RSI range is 0), k and d smoothed by SMA.",
    warmup: "k: rsiPeriod + stochPeriod + kSmooth - 2; d: rsiPeriod + stochPeriod + kSmooth + dSmooth - 3",
  },
  {
    name: "cci",
    signature: `cci(${OHLC}, period = 20)`,
    returns: "Float64Array (unbounded, typically -200..200)",
    description:
      "Commodity channel index on the typical price (h+l+c)/3: (tp - SMA(tp)) / (0.015 * mean deviation).",
    warmup: "period - 1",
  },
  {
    name: "roc",
    signature: "roc(source, period)",
    returns: "Float64Array, a FRACTION (0.05 = +5%)",
    description: "Rate of change over `period` bars: x / x[period bars ago] - 1.",
    warmup: "period",
  },
  {
    name: "mom",
    signature: "mom(source, period)",
    returns: "Float64Array in the units of source",
    description: "Momentum: x - x[period bars ago].",
    warmup: "period",
  },
  {
    name: "williamsR",
    signature: `williamsR(${OHLC}, period = 14)`,
    returns: "Float64Array in [-100, 0]",
    description:
      "Williams %R: -100*(highest high - close)/(highest high - lowest low); -100 on a zero range.",
    warmup: "period - 1",
  },
  {
    name: "adx",
    signature: `adx(${OHLC}, period = 14)`,
    returns: "{ adx, plusDi, minusDi }: Float64Array each, in [0, 100]",
    description:
      "Wilder's ADX / DMI: adx = trend strength (direction-free; > 25 is commonly read as trending), plusDi > minusDi means up-trend pressure.",
    warmup: "adx: 2 * period - 2; plusDi: period - 1; minusDi: period - 1",
  },
  {
    name: "atr",
    signature: `atr(${OHLC}, period = 14)`,
    returns: "Float64Array in price units",
    description: "Average true range, Wilder-smoothed (RMA) true range.",
    warmup: "period - 1",
  },
  {
    name: "natr",
    signature: `natr(${OHLC}, period = 14)`,
    returns: "Float64Array in percent of close",
    description: "Normalized ATR: 100 * ATR / close.",
    warmup: "period - 1",
  },
  {
    name: "bbands",
    signature: "bbands(source, period = 20, mult = 2)",
    returns: "{ upper, middle, lower }: Float64Array each",
    description: "Bollinger Bands: middle = SMA, upper/lower = middle +- mult * population stdev.",
    warmup: "upper: period - 1; middle: period - 1; lower: period - 1",
  },
  {
    name: "donchian",
    signature: "donchian(high, low, period = 20)",
    returns: "{ upper, middle, lower }: Float64Array each",
    description:
      "Donchian channels: highest high / lowest low of the last `period` bars INCLUDING the current bar; for breakouts compare close with shift(upper, 1).",
    warmup: "upper: period - 1; middle: period - 1; lower: period - 1",
  },
  {
    name: "keltner",
    signature: `keltner(${OHLC}, period = 20, atrPeriod = 10, mult = 2)`,
    returns: "{ upper, middle, lower }: Float64Array each",
    description:
      "Keltner channels: middle = EMA(close, period), upper/lower = middle +- mult * ATR(atrPeriod).",
    warmup:
      "upper: max(period, atrPeriod) - 1; middle: max(period, atrPeriod) - 1; lower: max(period, atrPeriod) - 1",
  },
  {
    name: "supertrend",
    signature: `supertrend(${OHLC}, period = 10, mult = 3)`,
    returns: "{ line, direction }: Float64Array each; direction is 1 (up) or -1 (down)",
    description:
      "SuperTrend: ATR bands around (high+low)/2 that ratchet with the trend; line is the active band (trailing stop), direction flips when close crosses it.",
    warmup: "line: period - 1; direction: period - 1",
  },
  {
    name: "stdev",
    signature: "stdev(source, period)",
    returns: "Float64Array",
    description: "Rolling population standard deviation (divides by period); exactly 0 on a constant window.",
    warmup: "period - 1",
  },
  {
    name: "realizedVol",
    signature: "realizedVol(source, period, annualization = 1)",
    returns: "Float64Array (fraction per bar, or annualized)",
    description:
      "Population stdev of the last `period` one-bar log returns times sqrt(annualization); pass bars per year (525600 for 1m, 8760 for 1h) to annualize.",
    warmup: "period",
  },
  {
    name: "obv",
    signature: "obv(close, volume)",
    returns: "Float64Array",
    description:
      "On-balance volume: cumulative +volume on up closes, -volume on down closes, 0 on the first bar.",
    warmup: "0",
  },
  {
    name: "vwap",
    signature: "vwap(high, low, close, volume, period)",
    returns: "Float64Array in price units",
    description:
      "Rolling VWAP over the last `period` bars: sum(typical price * volume) / sum(volume); NaN if the window has no volume. No session reset.",
    warmup: "period - 1",
  },
  {
    name: "zscore",
    signature: "zscore(source, period)",
    returns: "Float64Array",
    description:
      "(x - rolling mean) / rolling population stdev over `period` bars including the current one; 0 on a constant window.",
    warmup: "period - 1",
  },
  {
    name: "highest",
    signature: "highest(source, period)",
    returns: "Float64Array",
    description:
      "Highest value of the last `period` bars including the current one; use shift(highest(x, n), 1) for past bars only.",
    warmup: "period - 1",
  },
  {
    name: "lowest",
    signature: "lowest(source, period)",
    returns: "Float64Array",
    description:
      "Lowest value of the last `period` bars including the current one; use shift(lowest(x, n), 1) for past bars only.",
    warmup: "period - 1",
  },
  {
    name: "percentRank",
    signature: "percentRank(source, period)",
    returns: "Float64Array in [0, 1]",
    description: "Share of the previous `period` values (current excluded) that are <= the current value.",
    warmup: "period",
  },
  {
    name: "correlation",
    signature: "correlation(a, b, period)",
    returns: "Float64Array in [-1, 1]",
    description: "Rolling Pearson correlation over `period` bars; 0 when either window is constant.",
    warmup: "period - 1",
  },
  {
    name: "returns",
    signature: "returns(source, period = 1)",
    returns: "Float64Array, a FRACTION (0.01 = +1%)",
    description: "Simple return over `period` bars: x / x[period bars ago] - 1.",
    warmup: "period",
  },
  {
    name: "logReturns",
    signature: "logReturns(source, period = 1)",
    returns: "Float64Array",
    description: "Log return over `period` bars: ln(x / x[period bars ago]); NaN for non-positive values.",
    warmup: "period",
  },
  {
    name: "shift",
    signature: "shift(source, bars = 1)",
    returns: "Float64Array",
    description:
      "Lag: out[i] = source[i - bars], the value `bars` bars ago. bars must be >= 0: a negative shift (future data) throws RangeError.",
    warmup: "bars",
  },
  {
    name: "crossover",
    signature: "crossover(a, b)",
    returns: "Uint8Array of 0/1",
    description:
      "1 on bars where a > b and on the previous bar a <= b. b may be a number (a fixed level, e.g. 30).",
    warmup: "0",
  },
  {
    name: "crossunder",
    signature: "crossunder(a, b)",
    returns: "Uint8Array of 0/1",
    description:
      "1 on bars where a < b and on the previous bar a >= b. b may be a number (a fixed level, e.g. 70).",
    warmup: "0",
  },
];

/** Shared rules stated once at the top of the prompt's API reference. */
export const taConventions = [
  "All inputs are whole series (Float64Array or number[]); outputs have the same length as the input.",
  "The first `warmup` outputs are NaN; the output at bar i uses only bars 0..i (no look-ahead).",
  "Any NaN comparison is false, so NaN warm-up bars never trigger a signal; crossover/crossunder give 0 there.",
  "Window indicators output NaN while a NaN is inside the window; recursive ones (ema, rma, rsi, atr, adx, macd, supertrend, obv) skip NaN bars.",
  "Indicators compose: ta.ema(ta.rsi(close, 14), 9) works, the NaN warm-up of the inner one just delays the outer one.",
] as const;

/**
 * The reference as Markdown for the strategy-writing prompt: the conventions, then one line per
 * function (signature → returns; description; warm-up). Deterministic, so prompt prefixes cache.
 */
export function formatTaReference(): string {
  const lines = ["## `ta` indicators", "", ...taConventions.map((c) => `- ${c}`), ""];
  for (const e of taReference) {
    lines.push(
      `- \`ta.${e.signature}\` → ${e.returns}. ${e.description} Warm-up (leading NaN): ${e.warmup}.`,
    );
  }
  return lines.join("\n");
}
