import { checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * On-balance volume: cumulative volume, added when close rises, subtracted when it falls,
 * starting at 0 on the first bar. Same increments as trading-signals `OBV`.
 * Warm-up: none (the first bar is 0). NaN in: a bar with NaN close or volume outputs NaN and is
 * skipped (the next bar compares with the last finite close).
 * Reference: https://www.investopedia.com/terms/o/onbalancevolume.asp
 */
export function obv(close: Series, volume: Series): Float64Array {
  const n = checkSameLength("obv", close, volume);
  const c = toF64(close);
  const v = toF64(volume);
  const out = new Float64Array(n);
  let prev = Number.NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const x = c[i]!;
    const vol = v[i]!;
    if (x - x !== 0 || vol - vol !== 0) {
      out[i] = Number.NaN;
      continue;
    }
    if (!Number.isNaN(prev)) total += x > prev ? vol : x < prev ? -vol : 0;
    prev = x;
    out[i] = total;
  }
  return out;
}
