import { rollingMaxInto, rollingMinInto } from "./rolling-extreme.ts";
import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * Williams %R: −100·(highest high − close) / (highest high − lowest low) over `period` bars.
 * Range [−100, 0]; −100 when the range is 0 (trading-signals `WilliamsR`).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/w/williamsr.asp
 */
export function williamsR(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkInt("williamsR", "period", period);
  const n = checkSameLength("williamsR", high, low, close);
  const c = toF64(close);
  const hh = new Float64Array(n);
  rollingMaxInto(toF64(high), period, hh);
  const ll = new Float64Array(n);
  rollingMinInto(toF64(low), period, ll);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const range = hh[i]! - ll[i]!;
    const x = c[i]!;
    // (close − hh)·100 rather than (hh − close)·−100: same value, but +0 instead of −0 at the high.
    out[i] = x - x !== 0 ? Number.NaN : range === 0 ? -100 : ((x - hh[i]!) / range) * 100;
  }
  return out;
}
