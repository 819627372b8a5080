import { fractionalChange } from "./change.ts";
import type { Series } from "./series.ts";

/**
 * Rate of change as a FRACTION (0.05 = +5%): (x − x[period bars ago]) / x[period bars ago], as
 * trading-signals `ROC` (TradingView's ta.roc is in percent: multiply by 100).
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://www.investopedia.com/terms/r/rateofchange.asp
 */
export function roc(source: Series, period: number): Float64Array {
  return fractionalChange("roc", source, period);
}
