import { rollingMeanStdInto } from "./rolling-moments.ts";
import { checkFinite, checkInt, type Series, toF64 } from "./series.ts";

/** Bollinger Bands: `middle` = SMA, `upper`/`lower` = middle ± mult · standard deviation. */
export interface BandsResult {
  upper: Float64Array;
  middle: Float64Array;
  lower: Float64Array;
}

/**
 * Bollinger Bands over `period` bars with the population standard deviation (divide by period),
 * as trading-signals `BollingerBands` and Bollinger define it.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/b/bollingerbands.asp
 */
export function bbands(source: Series, period = 20, mult = 2): BandsResult {
  checkInt("bbands", "period", period);
  checkFinite("bbands", "mult", mult);
  const src = toF64(source);
  const n = src.length;
  const middle = new Float64Array(n);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  // The bands in the moments' own pass: a second loop over three arrays cost ~2 ms on 1M bars, and
  // in a fresh sandbox context one more loop to run interpreted until it is compiled.
  rollingMeanStdInto(src, period, middle, upper, lower, mult);
  return { upper, middle, lower };
}
