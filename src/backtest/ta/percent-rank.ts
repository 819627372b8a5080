import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Percent rank as a FRACTION in [0, 1]: the share of the previous `period` values (current bar
 * excluded) that are <= the current value, like TradingView `ta.percentrank` / 100. O(n·period).
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN while the current bar or any of the
 * previous `period` bars is NaN.
 * Reference: https://www.tradingview.com/pine-script-reference/v5/#fun_ta.percentrank
 */
export function percentRank(source: Series, period: number): Float64Array {
  checkInt("percentRank", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  let lastBad = -period - 1;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if (x - x !== 0) lastBad = i;
    if (i < period || lastBad >= i - period) {
      out[i] = Number.NaN;
      continue;
    }
    let count = 0;
    for (let j = i - period; j < i; j++) if (src[j]! <= x) count++;
    out[i] = count / period;
  }
  return out;
}
