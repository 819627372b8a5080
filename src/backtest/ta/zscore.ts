import { rollingMeanStdInto } from "./rolling-moments.ts";
import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Rolling z-score: (x − mean) / population stdev over the last `period` bars (current bar included),
 * as trading-signals `getZScore` on each window; 0 for a constant window (it throws there).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://en.wikipedia.org/wiki/Standard_score
 */
export function zscore(source: Series, period: number): Float64Array {
  checkInt("zscore", "period", period);
  const src = toF64(source);
  const n = src.length;
  const mean = new Float64Array(n);
  const out = new Float64Array(n);
  rollingMeanStdInto(src, period, mean, out);
  for (let i = 0; i < n; i++) {
    const s = out[i]!;
    if (!Number.isNaN(s)) out[i] = s === 0 ? 0 : (src[i]! - mean[i]!) / s;
  }
  return out;
}
