import { fractionalChange } from "./change.ts";
import type { Series } from "./series.ts";

/**
 * Simple returns as FRACTIONS: x / x[period bars ago] − 1 (0.01 = +1%). trading-signals
 * `getReturns` gives the same in percent.
 * Warm-up: the first `period` outputs are NaN. NaN in: NaN where either value is NaN.
 * Reference: https://en.wikipedia.org/wiki/Rate_of_return
 */
export function returns(source: Series, period = 1): Float64Array {
  return fractionalChange("returns", source, period);
}
