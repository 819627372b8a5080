import { rollingMeanInto } from "./rolling-moments.ts";
import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * Commodity channel index: (tp − SMA(tp)) / (0.015 · mean absolute deviation of tp), with the
 * typical price tp = (high + low + close) / 3 over `period` bars; 0 when the deviation is 0.
 * Matches trading-signals `CCI`. O(n·period): the mean deviation around a moving mean has no
 * running-sum form.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/c/commoditychannelindex.asp
 */
export function cci(high: Series, low: Series, close: Series, period = 20): Float64Array {
  checkInt("cci", "period", period);
  const n = checkSameLength("cci", high, low, close);
  const h = toF64(high);
  const l = toF64(low);
  const c = toF64(close);
  const tp = new Float64Array(n);
  for (let i = 0; i < n; i++) tp[i] = (h[i]! + l[i]! + c[i]!) / 3;
  const mean = new Float64Array(n);
  rollingMeanInto(tp, period, mean);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = mean[i]!;
    if (Number.isNaN(m)) {
      out[i] = Number.NaN;
      continue;
    }
    let dev = 0;
    for (let j = i - period + 1; j <= i; j++) dev += Math.abs(tp[j]! - m);
    dev /= period;
    out[i] = dev === 0 ? 0 : (tp[i]! - m) / (0.015 * dev);
  }
  return out;
}
