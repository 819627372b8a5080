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
  // The deviation goes into `upper` first, then becomes the band in place: one array fewer.
  const upper = new Float64Array(n);
  rollingMeanStdInto(src, period, middle, upper);
  const lower = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = middle[i]!;
    const w = upper[i]! * mult;
    upper[i] = m + w;
    lower[i] = m - w;
  }
  return { upper, middle, lower };
}
