import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Momentum: x − x[period bars ago], in the units of x (trading-signals `MOM`).
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://www.investopedia.com/terms/m/momentum.asp
 */
export function mom(source: Series, period: number): Float64Array {
  checkInt("mom", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = i < period ? Number.NaN : src[i]! - src[i - period]!;
  return out;
}
