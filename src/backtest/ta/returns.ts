import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Simple returns as FRACTIONS: x / x[period bars ago] − 1 (0.01 = +1%). trading-signals
 * `getReturns` gives the same in percent.
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://en.wikipedia.org/wiki/Rate_of_return
 */
export function returns(source: Series, period = 1): Float64Array {
  checkInt("returns", "period", period);
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
