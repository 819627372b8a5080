import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";
import { wilderInto } from "./smoothing.ts";
import { trueRangeInto } from "./true-range.ts";

/**
 * Average true range: Wilder's RMA of the true range (the first bar's true range is high − low).
 * Matches trading-signals `ATR`. In price units.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: bars with a NaN input output NaN, skipped.
 * Reference: https://www.investopedia.com/terms/a/atr.asp
 */
export function atr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkInt("atr", "period", period);
  const n = checkSameLength("atr", high, low, close);
  const tr = new Float64Array(n);
  trueRangeInto(toF64(high), toF64(low), toF64(close), tr);
  const out = new Float64Array(n);
  wilderInto(tr, period, out);
  return out;
}
