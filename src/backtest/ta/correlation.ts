import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";

/**
 * Rolling Pearson correlation of a and b over the last `period` bars, in [−1, 1]; 0 when either
 * window is constant (trading-signals `getCorrelation` throws there). O(1) per bar: sums around
 * anchors, recomputed exactly every `period` bars and whenever a window's
 * sum of squares becomes tiny next to what has flowed through the sums (see rolling-moments.ts).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN in a or b gives NaN.
 * Reference: https://en.wikipedia.org/wiki/Pearson_correlation_coefficient
 */
export function correlation(a: Series, b: Series, period: number): Float64Array {
  checkInt("correlation", "period", period);
  const n = checkSameLength("correlation", a, b);
  const x = toF64(a);
  const y = toF64(b);
  const out = new Float64Array(n);
  const every = period;
  let ax = Number.NaN;
  let ay = Number.NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let churnX = 0;
  let churnY = 0;
  let lastBad = -period - 1;
  let changeX = 0;
  let changeY = 0;
  let countdown = every;
  for (let i = 0; i < n; i++) {
    const u = x[i]!;
    const v = y[i]!;
    if (u - u === 0 && v - v === 0) {
      if (Number.isNaN(ax)) {
        ax = u;
        ay = v;
      }
      const du = u - ax;
      const dv = v - ay;
      sx += du;
      sy += dv;
      sxx += du * du;
      syy += dv * dv;
      sxy += du * dv;
      churnX += du * du;
      churnY += dv * dv;
    } else {
      lastBad = i;
    }
    if (i > 0) {
      if (u !== x[i - 1]) changeX = i;
      if (v !== y[i - 1]) changeY = i;
    }
    if (i >= period) {
      const du = x[i - period]! - ax;
      const dv = y[i - period]! - ay;
      if (du - du === 0 && dv - dv === 0) {
        sx -= du;
        sy -= dv;
        sxx -= du * du;
        syy -= dv * dv;
        sxy -= du * dv;
        churnX += du * du;
        churnY += dv * dv;
      }
    }
    const first = i - period + 1;
    const full = i >= period - 1 && lastBad <= i - period;
    const varying = changeX > first && changeY > first;
    let recompute = --countdown === 0;
    if (
      !recompute &&
      full &&
      varying &&
      (sxx - (sx * sx) / period < churnX * 1e-5 || syy - (sy * sy) / period < churnY * 1e-5)
    ) {
      recompute = true;
    }
    if (recompute) {
      countdown = every;
      churnX = 0;
      churnY = 0;
      if (u - u === 0 && v - v === 0) {
        ax = u;
        ay = v;
      }
      sx = sy = sxx = syy = sxy = 0;
      for (let j = Math.max(0, i - period + 1); j <= i; j++) {
        const du = x[j]! - ax;
        const dv = y[j]! - ay;
        if (du - du === 0 && dv - dv === 0) {
          sx += du;
          sy += dv;
          sxx += du * du;
          syy += dv * dv;
          sxy += du * dv;
        }
      }
    }
    if (!full) {
      out[i] = Number.NaN;
      continue;
    }
    const mx = sx / period;
    const my = sy / period;
    const vx = sxx / period - mx * mx;
    const vy = syy / period - my * my;
    if (!varying || vx <= 0 || vy <= 0) {
      out[i] = 0;
      continue;
    }
    const r = (sxy / period - mx * my) / Math.sqrt(vx * vy);
    out[i] = Math.min(1, Math.max(-1, r));
  }
  return out;
}
