import { rollingMaxInto, rollingMinInto } from "./rolling-extreme.ts";
import { rollingMeanInto } from "./rolling-moments.ts";
import { rsi } from "./rsi.ts";
import { checkInt, clampPercent, type Series, toF64 } from "./series.ts";

/** Stochastic RSI lines, 0..100: `k` (smoothed) and `d` (SMA of k). */
export interface StochRsiResult {
  k: Float64Array;
  d: Float64Array;
}

/**
 * Stochastic RSI: raw = 100·(RSI − min RSI) / (max RSI − min RSI) over `stochPeriod` RSI values
 * (100 when the range is 0, following trading-signals `StochasticRSI`), k = SMA(raw, kSmooth),
 * d = SMA(k, dSmooth). Scaled 0..100 like TradingView (trading-signals returns raw/100).
 * Warm-up: k NaN for the first `rsiPeriod + stochPeriod + kSmooth - 2` bars, d for
 * `rsiPeriod + stochPeriod + kSmooth + dSmooth - 3`. NaN in: as rsi, then windows holding NaN give NaN.
 * Reference: https://www.investopedia.com/terms/s/stochrsi.asp
 */
export function stochRsi(
  source: Series,
  rsiPeriod = 14,
  stochPeriod = 14,
  kSmooth = 3,
  dSmooth = 3,
): StochRsiResult {
  checkInt("stochRsi", "rsiPeriod", rsiPeriod);
  checkInt("stochRsi", "stochPeriod", stochPeriod);
  checkInt("stochRsi", "kSmooth", kSmooth);
  checkInt("stochRsi", "dSmooth", dSmooth);
  const r = rsi(toF64(source), rsiPeriod);
  const n = r.length;
  const hi = new Float64Array(n);
  rollingMaxInto(r, stochPeriod, hi);
  const lo = new Float64Array(n);
  rollingMinInto(r, stochPeriod, lo);
  const raw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const range = hi[i]! - lo[i]!;
    raw[i] = range === 0 ? 100 : ((r[i]! - lo[i]!) / range) * 100;
  }
  const k = new Float64Array(n);
  rollingMeanInto(raw, kSmooth, k);
  clampPercent(k);
  const d = new Float64Array(n);
  rollingMeanInto(k, dSmooth, d);
  clampPercent(d);
  return { k, d };
}
