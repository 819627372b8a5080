/**
 * The two recursive smoothers most indicators are built from. Both skip non-finite inputs: such a
 * bar outputs NaN and leaves the state untouched, so leading NaNs (e.g. the warm-up of another
 * indicator fed in) only delay the start, and a later gap does not poison the rest of the series.
 */

/**
 * Exponential smoothing out = x·α + prev·(1-α), seeded with the first finite value (the
 * trading-signals EMA convention). Outputs before the `period`-th finite input are NaN when
 * `maskWarmup`, else they are the raw (unstable) recursion values.
 */
export function expSmoothInto(
  src: Float64Array,
  period: number,
  alpha: number,
  out: Float64Array,
  maskWarmup = true,
): void {
  const n = src.length;
  const keep = 1 - alpha;
  let prev = Number.NaN;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if (x - x !== 0) {
      out[i] = Number.NaN;
      continue;
    }
    prev = count === 0 ? x : x * alpha + prev * keep;
    count++;
    out[i] = maskWarmup && count < period ? Number.NaN : prev;
  }
}

/**
 * Wilder's smoothing (RMA, trading-signals WSMA): the first value is the mean of the first
 * `period` finite inputs, then prev + (x - prev) / period. NaN until `period` finite inputs.
 */
export function wilderInto(src: Float64Array, period: number, out: Float64Array): void {
  const n = src.length;
  const factor = 1 / period;
  let prev = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if (x - x !== 0) {
      out[i] = Number.NaN;
      continue;
    }
    count++;
    if (count < period) {
      prev += x;
      out[i] = Number.NaN;
    } else if (count === period) {
      prev = (prev + x) / period;
      out[i] = prev;
    } else {
      prev = (x - prev) * factor + prev;
      out[i] = prev;
    }
  }
}
