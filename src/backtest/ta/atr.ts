import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";
import { trueRange } from "./true-range.ts";

/**
 * Average true range: Wilder's RMA (seeded with the SMA of the first `period` true ranges) of the
 * true range max(high − low, |high − prevClose|, |low − prevClose|), the first bar's being
 * high − low. Matches trading-signals `ATR`. In price units.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: a bar with a NaN input outputs NaN and
 * is skipped (the next true range uses the last finite close).
 * Reference: https://www.investopedia.com/terms/a/atr.asp
 */
export function atr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkInt("atr", "period", period);
  const n = checkSameLength("atr", high, low, close);
  const h = toF64(high);
  const l = toF64(low);
  const c = toF64(close);
  const out = new Float64Array(n);
  // One fused pass (true range + Wilder smoothing): no intermediate arrays to allocate and fault in.
  const factor = 1 / period;
  let prevClose = Number.NaN;
  let avg = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const hi = h[i]!;
    const lo = l[i]!;
    const cl = c[i]!;
    if (hi - hi !== 0 || lo - lo !== 0 || cl - cl !== 0) {
      out[i] = Number.NaN;
      continue;
    }
    const tr = Number.isNaN(prevClose) ? hi - lo : trueRange(hi, lo, prevClose);
    prevClose = cl;
    count++;
    if (count < period) {
      avg += tr;
      out[i] = Number.NaN;
      continue;
    }
    avg = count === period ? (avg + tr) / period : (tr - avg) * factor + avg;
    out[i] = avg;
  }
  return out;
}
