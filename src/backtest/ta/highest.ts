import { rollingMaxInto } from "./rolling-extreme.ts";
import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Highest value of the last `period` bars, current bar included (monotonic deque, O(1) amortised).
 * For a breakout test against PAST bars use shift(highest(x, n), 1).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.tradingview.com/pine-script-reference/v5/#fun_ta.highest
 */
export function highest(source: Series, period: number): Float64Array {
  checkInt("highest", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  rollingMaxInto(src, period, out);
  return out;
}
