import { type Series, toF64 } from "./series.ts";

/**
 * Lag: out[i] = x[i − bars], i.e. the value `bars` bars ago (bars = 0 copies). Only lags: a
 * negative shift would read future bars and throws a RangeError.
 * Warm-up: the first `bars` outputs are NaN. NaN in: passed through.
 * Reference: https://www.tradingview.com/pine-script-docs/language/operators/#history-referencing-operator
 */
export function shift(source: Series, bars = 1): Float64Array {
  if (!Number.isInteger(bars) || bars < 0) {
    throw new RangeError(
      `ta.shift: bars must be an integer >= 0 (a lag); got ${String(bars)}. A negative shift would read future bars (look-ahead)`,
    );
  }
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  const lead = Math.min(bars, n);
  out.fill(Number.NaN, 0, lead);
  out.set(src.subarray(0, n - lead), lead);
  return out;
}
