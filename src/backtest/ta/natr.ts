import { atr } from "./atr.ts";
import type { Series } from "./series.ts";
import { toF64 } from "./series.ts";

/**
 * Normalized average true range: 100 · ATR / close, i.e. ATR in percent of price (trading-signals `NATR`).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: as atr.
 * Reference: https://www.tradingview.com/support/solutions/43000589097-normalized-average-true-range-natr/
 */
export function natr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  const out = atr(high, low, close, period);
  const c = toF64(close);
  for (let i = 0; i < out.length; i++) out[i] = (100 * out[i]!) / c[i]!;
  return out;
}
