/**
 * Gaps in a bar series: runs of missing bars on the timeframe grid. Exchanges have outages
 * (Binance spot stopped for hours on 2023-03-24), and a backtest that quietly treats the bar after
 * an outage as "the next minute" is wrong, so `data info` and validation list them.
 */
import type { Bars } from "../domain/bars.ts";
import { type Timeframe, timeframeMs } from "../domain/timeframe.ts";

export interface Gap {
  /** Open time of the first missing bar (ms UTC). */
  readonly from: number;
  /** Open time of the last missing bar (ms UTC). */
  readonly to: number;
  readonly missingBars: number;
}

export interface GapReport {
  readonly gaps: Gap[];
  /** Sum of `missingBars` over all gaps. */
  readonly missingBars: number;
  /** Bars the span would hold with nothing missing (present + missing). */
  readonly expectedBars: number;
  /** Consecutive bars with the same time. */
  readonly duplicates: number;
  /** Bars earlier than the bar before them. */
  readonly outOfOrder: number;
  /** Bars whose time is not a multiple of the timeframe. */
  readonly offGrid: number;
}

export interface GapOptions {
  /**
   * The span the series should cover, as [start, end) in ms: missing bars before the first bar and
   * from the last bar up to `end` count as gaps too. Without it, only interior gaps are found.
   */
  readonly start?: number;
  readonly end?: number;
}

/**
 * Finds the gaps in `bars` (or its `time` column) at `timeframe`. Never throws on messy input:
 * duplicates, out-of-order and off-grid bars are counted so validation can report them.
 */
export function findGaps(
  bars: Bars | Float64Array,
  timeframe: Timeframe | number,
  options: GapOptions = {},
): GapReport {
  const time = bars instanceof Float64Array ? bars : bars.time;
  const step = typeof timeframe === "number" ? timeframe : timeframeMs(timeframe);
  if (!(step > 0)) throw new Error(`timeframe must be positive, got ${timeframe}`);
  const gaps: Gap[] = [];
  let missing = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let offGrid = 0;

  const addGap = (from: number, count: number) => {
    if (count <= 0) return;
    gaps.push({ from, to: from + (count - 1) * step, missingBars: count });
    missing += count;
  };

  const n = time.length;
  if (n === 0) {
    if (options.start !== undefined && options.end !== undefined) {
      addGap(alignUp(options.start, step), countSlots(alignUp(options.start, step), options.end, step));
    }
    return { gaps, missingBars: missing, expectedBars: missing, duplicates, outOfOrder, offGrid };
  }

  const first = time[0] as number;
  if (options.start !== undefined && options.start < first) {
    const from = alignUp(options.start, step);
    addGap(from, countSlots(from, first, step));
  }
  let prev = first;
  if (!onGrid(first, step)) offGrid++;
  for (let i = 1; i < n; i++) {
    const t = time[i] as number;
    if (!onGrid(t, step)) offGrid++;
    const d = t - prev;
    if (d === 0) {
      duplicates++;
      continue;
    }
    if (d < 0) {
      outOfOrder++;
      continue;
    }
    if (d > step) addGap(prev + step, Math.ceil(d / step) - 1);
    prev = t;
  }
  if (options.end !== undefined && options.end > prev + step) {
    addGap(prev + step, countSlots(prev + step, options.end, step));
  }
  const present = n - duplicates - outOfOrder;
  return { gaps, missingBars: missing, expectedBars: present + missing, duplicates, outOfOrder, offGrid };
}

/** Division rather than %: float modulo is a runtime call, and grid times divide exactly. */
function onGrid(t: number, step: number): boolean {
  const q = t / step;
  return q === Math.floor(q);
}

function alignUp(t: number, step: number): number {
  const r = ((t % step) + step) % step;
  return r === 0 ? t : t - r + step;
}

/** Grid slots in [from, end). */
function countSlots(from: number, end: number, step: number): number {
  return end > from ? Math.ceil((end - from) / step) : 0;
}
