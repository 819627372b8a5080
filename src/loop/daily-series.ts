import type { DailySeries } from "./ledger.ts";

const DAY_MS = 86_400_000;

/**
 * The overlapping days of several daily series, as equal-length arrays: trials on one window
 * start on different days (a 4h strategy needs more warm-up days than a 1h one), so correlation is
 * taken over the days they share. Series that share fewer than `minDays` days are left out.
 */
export function alignDaily(series: readonly DailySeries[], minDays = 20): Float64Array[] {
  if (series.length === 0) return [];
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  for (const s of series) {
    from = Math.max(from, s.firstDay);
    to = Math.min(to, s.firstDay + s.returns.length * DAY_MS);
  }
  const days = Math.floor((to - from) / DAY_MS);
  if (days < minDays) return [];
  return series.map((s) => {
    const offset = Math.round((from - s.firstDay) / DAY_MS);
    return Float64Array.from(s.returns.subarray(offset, offset + days));
  });
}

/** Pearson correlation of two daily series over the days they share; undefined if too few. */
export function dailyCorrelation(a: DailySeries, b: DailySeries, minDays = 20): number | undefined {
  const aligned = alignDaily([a, b], minDays);
  const x = aligned[0];
  const y = aligned[1];
  if (!x || !y) return undefined;
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0 && syy > 0)) return undefined;
  return sxy / Math.sqrt(sxx * syy);
}

/** Float32 little-endian bytes: half the size of doubles, more precision than daily returns need. */
export function encodeReturns(returns: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(returns);
  const out = new Uint8Array(f.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < f.length; i++) view.setFloat32(i * 4, f[i] as number, true);
  return out;
}

export function decodeReturns(bytes: Uint8Array): Float32Array {
  const n = Math.floor(bytes.byteLength / 4);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
