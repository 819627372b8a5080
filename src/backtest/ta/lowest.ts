import { rollingMinInto } from "./rolling-extreme.ts";
import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Lowest value of the last `period` bars, current bar included (monotonic deque, O(1) amortised).
 * For a breakdown test against PAST bars use shift(lowest(x, n), 1).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.tradingview.com/pine-script-reference/v5/#fun_ta.lowest
 */
export function lowest(source: Series, period: number): Float64Array {
  checkInt("lowest", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  rollingMinInto(src, period, out);
  return out;
}
