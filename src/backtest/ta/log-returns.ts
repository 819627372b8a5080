import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Log returns: ln(x / x[period bars ago]), as trading-signals `getLogReturns`. NaN where either
 * value is not positive.
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://en.wikipedia.org/wiki/Rate_of_return#Logarithmic_or_continuously_compounded_return
 */
export function logReturns(source: Series, period = 1): Float64Array {
  checkInt("logReturns", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    const base = i < period ? Number.NaN : src[i - period]!;
    out[i] = x > 0 && base > 0 ? Math.log(x / base) : Number.NaN;
  }
  return out;
}
