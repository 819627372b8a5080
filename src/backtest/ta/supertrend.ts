import { atr } from "./atr.ts";
import { checkFinite, checkInt, type Series, toF64 } from "./series.ts";

/** SuperTrend: `line` is the active band (support in an uptrend, resistance in a downtrend); `direction` 1 = up, −1 = down. */
export interface SupertrendResult {
  line: Float64Array;
  direction: Float64Array;
}

/**
 * SuperTrend on hl2 = (high + low) / 2 ± mult · ATR(period), with trading-signals `SuperTrend`
 * band-ratcheting and flip rules (the first bar is "up" only if close > upper band).
 * Warm-up: the first `period - 1` outputs of both lines are NaN. NaN in: NaN bars output NaN and
 * are skipped (the bands carry over).
 * Reference: https://www.tradingview.com/support/solutions/43000634738-supertrend/
 */
export function supertrend(
  high: Series,
  low: Series,
  close: Series,
  period = 10,
  mult = 3,
): SupertrendResult {
  checkInt("supertrend", "period", period);
  checkFinite("supertrend", "mult", mult);
  const a = atr(high, low, close, period);
  const h = toF64(high);
  const l = toF64(low);
  const c = toF64(close);
  const n = a.length;
  const line = new Float64Array(n);
  const direction = new Float64Array(n);
  let started = false;
  let prevUpper = 0;
  let prevLower = 0;
  let prevClose = 0;
  let up = false;
  for (let i = 0; i < n; i++) {
    const range = a[i]!;
    if (Number.isNaN(range)) {
      line[i] = Number.NaN;
      direction[i] = Number.NaN;
      continue;
    }
    const mid = (h[i]! + l[i]!) / 2;
    const basicUpper = mid + mult * range;
    const basicLower = mid - mult * range;
    const x = c[i]!;
    let upper: number;
    let lower: number;
    if (!started) {
      upper = basicUpper;
      lower = basicLower;
      up = x > upper;
      started = true;
    } else {
      upper = basicUpper < prevUpper || prevClose > prevUpper ? basicUpper : prevUpper;
      lower = basicLower > prevLower || prevClose < prevLower ? basicLower : prevLower;
      up = up ? x >= lower : x > upper;
    }
    prevUpper = upper;
    prevLower = lower;
    prevClose = x;
    line[i] = up ? lower : upper;
    direction[i] = up ? 1 : -1;
  }
  return { line, direction };
}
