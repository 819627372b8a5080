import { atr } from "./atr.ts";
import type { BandsResult } from "./bbands.ts";
import { ema } from "./ema.ts";
import { checkFinite, type Series } from "./series.ts";

/**
 * Keltner channels: `middle` = EMA(close, period), `upper`/`lower` = middle ± mult · ATR(atrPeriod).
 * Matches trading-signals `KeltnerChannels` (emaInterval, atrInterval, multiplier).
 * Warm-up: the first `max(period, atrPeriod) - 1` outputs are NaN. NaN in: as ema and atr.
 * Reference: https://www.investopedia.com/terms/k/keltnerchannel.asp
 */
export function keltner(
  high: Series,
  low: Series,
  close: Series,
  period = 20,
  atrPeriod = 10,
  mult = 2,
): BandsResult {
  checkFinite("keltner", "mult", mult);
  const a = atr(high, low, close, atrPeriod);
  const middle = ema(close, period);
  const n = middle.length;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const offset = mult * a[i]!;
    const m = middle[i]!;
    // Both bands NaN while either line warms up, so the bands never exist without the middle.
    if (Number.isNaN(offset)) middle[i] = Number.NaN;
    upper[i] = m + offset;
    lower[i] = m - offset;
  }
  return { upper, middle, lower };
}
