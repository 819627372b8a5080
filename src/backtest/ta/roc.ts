import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Rate of change as a FRACTION (0.05 = +5%): (x − x[period bars ago]) / x[period bars ago], as
 * trading-signals `ROC` (TradingView's ta.roc is in percent: multiply by 100).
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://www.investopedia.com/terms/r/rateofchange.asp
 */
export function roc(source: Series, period: number): Float64Array {
  checkInt("roc", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (i < period) {
      out[i] = Number.NaN;
      continue;
    }
    const base = src[i - period]!;
    out[i] = (src[i]! - base) / base;
  }
  return out;
}
