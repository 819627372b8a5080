import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Linearly weighted moving average: weights 1 (oldest) .. period (newest), divided by
 * period·(period+1)/2. O(1) per bar with running sums recomputed exactly every max(period, 128) bars.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Matches trading-signals `WMA`. Reference: https://www.investopedia.com/articles/technical/060401.asp
 */
export function wma(source: Series, period: number): Float64Array {
  checkInt("wma", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  if (period === 1) {
    // A one-bar average is the value itself; the running sums would add rounding noise.
    for (let i = 0; i < n; i++) out[i] = src[i]! - src[i]! === 0 ? src[i]! : Number.NaN;
    return out;
  }
  const denominator = (period * (period + 1)) / 2;
  const every = Math.max(period, 128);
  let weighted = 0; // Σ weight·x over the window, non-finite values counted as 0
  let plain = 0; // Σ x over the window, same convention
  let lastBad = -period - 1;
  let countdown = every;
  for (let i = 0; i < n; i++) {
    let x = src[i]!;
    if (x - x !== 0) {
      lastBad = i;
      x = 0;
    }
    const old = i >= period ? src[i - period]! : 0;
    weighted += period * x - plain;
    plain += x - (old - old === 0 ? old : 0);
    if (--countdown === 0) {
      countdown = every;
      weighted = 0;
      plain = 0;
      const start = i - period + 1;
      for (let j = Math.max(0, start); j <= i; j++) {
        const v = src[j]!;
        if (v - v === 0) {
          weighted += (j - start + 1) * v;
          plain += v;
        }
      }
    }
    out[i] = i >= period - 1 && lastBad <= i - period ? weighted / denominator : Number.NaN;
  }
  return out;
}
