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
  let i = 0;
  while (i < n) {
    if (count >= period) {
      // Past the warm-up, runs of finite inputs go through the two-bar loop.
      const stop = smoothPairs(src, i, prev, alpha, out);
      if (stop > i) {
        prev = out[stop - 1]!;
        i = stop;
        if (i >= n) break;
      }
    }
    const x = src[i]!;
    if (x - x !== 0) out[i] = Number.NaN;
    else {
      prev = count === 0 ? x : x * alpha + prev * keep;
      count++;
      out[i] = maskWarmup && count < period ? Number.NaN : prev;
    }
    i++;
  }
}

/**
 * Wilder's smoothing (RMA, trading-signals WSMA): the first value is the mean of the first
 * `period` finite inputs, then prev + (x - prev) / period. NaN until `period` finite inputs.
 */
export function wilderInto(src: Float64Array, period: number, out: Float64Array): void {
  const n = src.length;
  const factor = 1 / period;
  const keep = 1 - factor;
  let prev = 0;
  let count = 0;
  let i = 0;
  while (i < n) {
    if (count > period) {
      const stop = smoothPairs(src, i, prev, factor, out);
      if (stop > i) {
        prev = out[stop - 1]!;
        i = stop;
        if (i >= n) break;
      }
    }
    const x = src[i]!;
    i++;
    if (x - x !== 0) {
      out[i - 1] = Number.NaN;
      continue;
    }
    count++;
    if (count < period) {
      prev += x;
      out[i - 1] = Number.NaN;
    } else if (count === period) {
      prev = (prev + x) / period;
      out[i - 1] = prev;
    } else {
      // The same expression as the first bar of smoothPairs' step, so a series cut anywhere gives
      // exactly the values of the whole series (prefix invariance is exact, not approximate).
      prev = x * factor + prev * keep;
      out[i - 1] = prev;
    }
  }
}

/**
 * s = x·α + s·(1 − α) over src[from..], two bars per step, until the end or a non-finite input;
 * returns the index it stopped at (out is written up to it). Two steps at once,
 * s₂ = x₁·α + x₀·α(1 − α) + s₀·(1 − α)², leave one multiply-add on the loop-carried chain per two
 * bars instead of per bar (about 2x faster on 1M bars); the values differ from the one-step
 * recursion by rounding only (below 1e-15 relative).
 */
function smoothPairs(src: Float64Array, from: number, s0: number, alpha: number, out: Float64Array): number {
  const n = src.length;
  const keep = 1 - alpha;
  const keepAlpha = keep * alpha;
  const keep2 = keep * keep;
  let s = s0;
  let i = from;
  for (; i + 1 < n; i += 2) {
    const x0 = src[i]!;
    const x1 = src[i + 1]!;
    if (x0 - x0 !== 0 || x1 - x1 !== 0) return i;
    out[i] = x0 * alpha + s * keep;
    s = x1 * alpha + x0 * keepAlpha + s * keep2;
    out[i + 1] = s;
  }
  return i;
}
