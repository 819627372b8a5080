/**
 * Resampling bars to a coarser timeframe that is a whole multiple of the base: 1m → 5m, 1h, 4h, 1d;
 * 1h → 4h, 1d. Buckets sit on the UTC epoch grid (`bucketStart % targetMs === 0`), so 1d bars open at
 * 00:00 UTC and 4h bars at 00:00, 04:00, … — the same grid exchanges use. One caveat: the epoch fell
 * on a Thursday, so 1w buckets start on Thursdays; pass `origin: MONDAY_ORIGIN` for Binance's
 * Monday weeks.
 *
 * Gaps are explicit. A bucket missing any of its base bars is "incomplete": by default it is dropped
 * (a 1h bar built from 40 minutes would understate range and volume), and every incomplete bucket's
 * start is reported either way so callers can say what happened.
 */
import { type Bars, emptyBars } from "../domain/bars.ts";
import { type Timeframe, timeframeMs } from "../domain/timeframe.ts";

export interface ResampleOptions {
  /** "drop" (default): incomplete buckets are left out. "keep": emitted from the base bars present. */
  readonly partial?: "drop" | "keep";
  /** Shifts the grid: bucket starts satisfy (start - origin) % target === 0. Default 0 (the epoch). */
  readonly origin?: number;
}

/** 1970-01-05T00:00Z, a Monday: the origin for weeks that start on Monday, as Binance's do. */
export const MONDAY_ORIGIN = Date.UTC(1970, 0, 5);

export interface ResampleResult {
  readonly bars: Bars;
  /** Start times of buckets that had some but not all of their base bars (emitted only with "keep"). */
  readonly incomplete: number[];
  /** Buckets inside the covered span with no base bar at all (never emitted). */
  readonly empty: number;
}

function toMs(tf: Timeframe | number, what: string): number {
  if (typeof tf === "number") {
    if (!(Number.isInteger(tf) && tf > 0))
      throw new Error(`${what} must be a positive whole number of ms, got ${tf}`);
    return tf;
  }
  return timeframeMs(tf);
}

/** Start of the epoch-grid bucket holding `t`, also for times before 1970. */
function bucketOf(t: number, size: number): number {
  const r = t % size;
  return r < 0 ? t - r - size : t - r;
}

/**
 * Resamples `bars` (at timeframe `base`) to `target`. Single pass over the input, output in typed
 * arrays sized once. Throws when the target is not a whole multiple of the base, or when the input is
 * not strictly increasing on the base grid (resampling it would silently double-count).
 */
export function resampleBars(
  bars: Bars,
  base: Timeframe | number,
  target: Timeframe | number,
  options: ResampleOptions = {},
): ResampleResult {
  const baseMs = toMs(base, "base timeframe");
  const targetMs = toMs(target, "target timeframe");
  if (targetMs < baseMs || targetMs % baseMs !== 0) {
    throw new Error(
      `cannot resample ${String(base)} bars to ${String(target)}: the target must be a whole multiple of the base timeframe`,
    );
  }
  const keep = (options.partial ?? "drop") === "keep";
  if (options.partial !== undefined && options.partial !== "drop" && options.partial !== "keep") {
    throw new Error(`partial must be "drop" or "keep", got ${String(options.partial)}`);
  }
  const perBucket = targetMs / baseMs;
  const { time, open, high, low, close, volume } = bars;
  const n = time.length;
  const incomplete: number[] = [];
  if (n === 0) return { bars: emptyBars(0), incomplete, empty: 0 };

  const origin = options.origin ?? 0;
  if (!Number.isFinite(origin)) throw new Error(`origin must be a finite time in ms, got ${origin}`);
  const first = bucketOf((time[0] as number) - origin, targetMs) + origin;
  const last = bucketOf((time[n - 1] as number) - origin, targetMs) + origin;
  const capacity = Math.min(n, Math.floor((last - first) / targetMs) + 1);
  const out = emptyBars(Math.max(capacity, 1));
  const oT = out.time;
  const oO = out.open;
  const oH = out.high;
  const oL = out.low;
  const oC = out.close;
  const oV = out.volume;

  let k = -1; // index of the bucket being filled
  let bucket = Number.NaN;
  let bucketEnd = Number.NEGATIVE_INFINITY;
  let count = 0;
  let empty = 0;
  let prev = Number.NEGATIVE_INFINITY;

  for (let i = 0; i < n; i++) {
    const t = time[i] as number;
    if (!(t > prev)) {
      throw new Error(
        `bars are not strictly increasing in time at index ${i} (${iso(t)} after ${iso(prev)})`,
      );
    }
    // Division, not %: float modulo is a runtime call, and t / baseMs is exact for grid times.
    const q = t / baseMs;
    if (q !== Math.floor(q)) {
      throw new Error(`bar at index ${i} (${iso(t)}) is not on the ${String(base)} grid`);
    }
    prev = t;
    const h = high[i] as number;
    const l = low[i] as number;
    if (t >= bucketEnd) {
      const b = bucketOf(t - origin, targetMs) + origin;
      if (i > 0) {
        if (count < perBucket) {
          incomplete.push(bucket);
          if (!keep) k--;
        }
        empty += (b - bucket) / targetMs - 1;
      }
      k++;
      bucket = b;
      bucketEnd = b + targetMs;
      count = 1;
      oT[k] = b;
      oO[k] = open[i] as number;
      oH[k] = h;
      oL[k] = l;
      oC[k] = close[i] as number;
      oV[k] = volume[i] as number;
    } else {
      count++;
      if (h > (oH[k] as number)) oH[k] = h;
      if (l < (oL[k] as number)) oL[k] = l;
      oC[k] = close[i] as number;
      oV[k] = (oV[k] as number) + (volume[i] as number);
    }
  }
  if (count < perBucket) {
    incomplete.push(bucket);
    if (!keep) k--;
  }

  const m = k + 1;
  // Copy rather than subarray so a small result does not pin the large buffer.
  return {
    bars: {
      time: oT.slice(0, m),
      open: oO.slice(0, m),
      high: oH.slice(0, m),
      low: oL.slice(0, m),
      close: oC.slice(0, m),
      volume: oV.slice(0, m),
    },
    incomplete,
    empty,
  };
}

function iso(t: number): string {
  return Number.isFinite(t) ? new Date(t).toISOString() : String(t);
}
