import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * Rolling volume-weighted average price over the last `period` bars: Σ(tp·volume) / Σ volume with
 * the typical price tp = (high + low + close) / 3 (trading-signals `VWAP` over that window; no
 * session reset). NaN when the window traded no volume.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://www.investopedia.com/terms/v/vwap.asp
 */
export function vwap(high: Series, low: Series, close: Series, volume: Series, period: number): Float64Array {
  checkInt("vwap", "period", period);
  const n = checkSameLength("vwap", high, low, close, volume);
  const h = toF64(high);
  const l = toF64(low);
  const c = toF64(close);
  const v = toF64(volume);
  const pv = new Float64Array(n);
  for (let i = 0; i < n; i++) pv[i] = ((h[i]! + l[i]! + c[i]!) / 3) * v[i]!;
  const out = new Float64Array(n);
  const every = Math.max(period, 128);
  let sumPv = 0;
  let sumV = 0;
  let lastBad = -period - 1;
  let countdown = every;
  for (let i = 0; i < n; i++) {
    const x = pv[i]!;
    if (x - x === 0) {
      sumPv += x;
      sumV += v[i]!;
    } else {
      lastBad = i;
    }
    if (i >= period) {
      const y = pv[i - period]!;
      if (y - y === 0) {
        sumPv -= y;
        sumV -= v[i - period]!;
      }
    }
    if (--countdown === 0) {
      countdown = every;
      sumPv = 0;
      sumV = 0;
      for (let j = Math.max(0, i - period + 1); j <= i; j++) {
        const y = pv[j]!;
        if (y - y === 0) {
          sumPv += y;
          sumV += v[j]!;
        }
      }
    }
    out[i] = i >= period - 1 && lastBad <= i - period && sumV !== 0 ? sumPv / sumV : Number.NaN;
  }
  return out;
}
