import { rollingMeanInto } from "./rolling-moments.ts";
import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Simple moving average: the mean of the last `period` values.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Matches trading-signals `SMA`. Reference: https://www.investopedia.com/terms/s/sma.asp
 */
export function sma(source: Series, period: number): Float64Array {
  checkInt("sma", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  rollingMeanInto(src, period, out);
  return out;
}
