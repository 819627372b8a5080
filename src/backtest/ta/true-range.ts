/**
 * True range per bar: max(high − low, |high − prevClose|, |low − prevClose|), and high − low on
 * the first usable bar. A bar with a non-finite high, low or close gives NaN and is skipped
 * (the next bar measures from the last finite close). Shared by atr, natr, adx, keltner, supertrend.
 */
export function trueRangeInto(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  out: Float64Array,
): void {
  const n = close.length;
  let prevClose = Number.NaN;
  for (let i = 0; i < n; i++) {
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i]!;
    if (h - h !== 0 || l - l !== 0 || c - c !== 0) {
      out[i] = Number.NaN;
      continue;
    }
    out[i] = Number.isNaN(prevClose)
      ? h - l
      : Math.max(h - l, Math.abs(h - prevClose), Math.abs(l - prevClose));
    prevClose = c;
  }
}
