import { rollingMaxInto, rollingMinInto } from "./rolling-extreme.ts";
import { rollingMeanInto } from "./rolling-moments.ts";
import { checkInt, checkSameLength, clampPercent, type Series, toF64 } from "./series.ts";

/** Stochastic oscillator lines, 0..100: `k` (smoothed %K) and `d` (SMA of k). */
export interface StochResult {
  k: Float64Array;
  d: Float64Array;
}

/**
 * Stochastic oscillator: fast %K = 100·(close − lowest low) / (highest high − lowest low) over
 * `kPeriod` bars (0 when the range is 0, as trading-signals `StochasticOscillator`),
 * k = SMA(fast %K, kSmooth) (kSmooth 1 = fast stochastic), d = SMA(k, dPeriod).
 * Warm-up: k NaN for the first `kPeriod + kSmooth - 2` bars, d for `kPeriod + kSmooth + dPeriod - 3`.
 * NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/s/stochasticoscillator.asp
 */
export function stoch(
  high: Series,
  low: Series,
  close: Series,
  kPeriod = 14,
  kSmooth = 3,
  dPeriod = 3,
): StochResult {
  checkInt("stoch", "kPeriod", kPeriod);
  checkInt("stoch", "kSmooth", kSmooth);
  checkInt("stoch", "dPeriod", dPeriod);
  const n = checkSameLength("stoch", high, low, close);
  const c = toF64(close);
  const hh = new Float64Array(n);
  rollingMaxInto(toF64(high), kPeriod, hh);
  const ll = new Float64Array(n);
  rollingMinInto(toF64(low), kPeriod, ll);
  const fastK = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const range = hh[i]! - ll[i]!;
    fastK[i] = ((c[i]! - ll[i]!) * 100) / (range === 0 ? 1 : range);
  }
  const k = new Float64Array(n);
  rollingMeanInto(fastK, kSmooth, k);
  clampPercent(k);
  const d = new Float64Array(n);
  rollingMeanInto(k, dPeriod, d);
  clampPercent(d);
  return { k, d };
}
