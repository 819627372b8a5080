import { checkInt, type Series, toF64 } from "./series.ts";

/** (x − x[period bars ago]) / x[period bars ago], NaN for the first `period` bars: what roc and returns share. */
export function fractionalChange(fn: string, source: Series, period: number): Float64Array {
  checkInt(fn, "period", period);
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
