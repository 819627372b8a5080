import type { BandsResult } from "./bbands.ts";
import { rollingMaxInto, rollingMinInto } from "./rolling-extreme.ts";
import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * Donchian channels: `upper` = highest high, `lower` = lowest low over `period` bars (including the
 * current bar — compare close with upper of the PREVIOUS bar, shift(upper, 1), for breakouts),
 * `middle` = their mean. Matches trading-signals `DonchianChannels`.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/d/donchianchannels.asp
 */
export function donchian(high: Series, low: Series, period = 20): BandsResult {
  checkInt("donchian", "period", period);
  const n = checkSameLength("donchian", high, low);
  const upper = new Float64Array(n);
  rollingMaxInto(toF64(high), period, upper);
  const lower = new Float64Array(n);
  rollingMinInto(toF64(low), period, lower);
  const middle = new Float64Array(n);
  for (let i = 0; i < n; i++) middle[i] = (upper[i]! + lower[i]!) / 2;
  return { upper, middle, lower };
}
