import { checkInt, type Series, toF64 } from "./series.ts";
import { expSmoothInto } from "./smoothing.ts";

/**
 * Exponential moving average, α = 2 / (period + 1), seeded with the first value (trading-signals
 * `EMA` convention; TradingView seeds with an SMA, so early values differ until the seed decays).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: leading NaNs are skipped (the EMA
 * starts at the first finite value); a later NaN bar outputs NaN and is left out of the average.
 * Reference: https://www.investopedia.com/terms/e/ema.asp
 */
export function ema(source: Series, period: number): Float64Array {
  checkInt("ema", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  expSmoothInto(src, period, 2 / (period + 1), out);
  return out;
}
