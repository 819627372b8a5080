/**
 * Columnar OHLCV bars: one typed array per field, all the same length, `time` holding each bar's
 * open time in milliseconds since the Unix epoch (UTC). Columnar because indicators and the
 * simulator stream over one field at a time, and typed arrays transfer into the sandbox cheaply.
 */
export interface Bars {
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

export const BAR_FIELDS = ["time", "open", "high", "low", "close", "volume"] as const;
export type BarField = (typeof BAR_FIELDS)[number];

/** A dataset is one symbol at one base timeframe. */
export interface DatasetId {
  readonly symbol: string;
  readonly timeframe: string;
}

export function barCount(bars: Bars): number {
  return bars.time.length;
}

export function emptyBars(n = 0): Bars {
  return {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
}

/** Bars [from, to) as views over the same memory: no copy, so slicing folds is free. */
export function sliceBars(bars: Bars, from: number, to: number): Bars {
  return {
    time: bars.time.subarray(from, to),
    open: bars.open.subarray(from, to),
    high: bars.high.subarray(from, to),
    low: bars.low.subarray(from, to),
    close: bars.close.subarray(from, to),
    volume: bars.volume.subarray(from, to),
  };
}

/** Index of the first bar whose time is >= t (binary search; bars are sorted by time). */
export function lowerBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((time[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
