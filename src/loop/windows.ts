/**
 * The only way the loop gets bars: the run's frozen windows decide what may be loaded. Search
 * evaluation asks for the search window; the holdout is a separate, explicit call made only for a
 * candidate that passed every gate. Neither path can widen its window.
 */
import type { Bars } from "../domain/bars.ts";
import { lowerBound } from "../domain/bars.ts";
import { type RunConfig, windowMs } from "../domain/run-config.ts";
import { timeframeMs } from "../domain/timeframe.ts";

export interface BarRequest {
  readonly symbol: string;
  readonly timeframe: string;
  /** Open-time bounds in ms: from inclusive, to exclusive. */
  readonly from: number;
  readonly to: number;
}

/** Where bars come from (the store, through the window cache); an interface so tests can watch it. */
export interface BarSource {
  load(request: BarRequest): Promise<Bars>;
}

export class RunWindows {
  private searchBars: Promise<Bars> | undefined;

  constructor(
    private readonly source: BarSource,
    private readonly config: RunConfig,
  ) {}

  /**
   * Bars of the search window at the dataset's base timeframe (loaded once per run; a load that
   * failed, e.g. with the database down, is tried again on the next call).
   */
  search(): Promise<Bars> {
    if (this.searchBars) return this.searchBars;
    const w = windowMs(this.config.windows.search);
    const loading = this.source.load({
      symbol: this.config.dataset.symbol,
      timeframe: this.config.dataset.timeframe,
      from: w.start,
      to: w.end,
    });
    this.searchBars = loading;
    loading.catch(() => {
      if (this.searchBars === loading) this.searchBars = undefined;
    });
    return loading;
  }

  /**
   * Holdout bars with `warmupMs` of history before the holdout for indicator warm-up (that history
   * lies in or before the search window, never in the holdout). `start` is the first holdout bar.
   */
  async holdout(warmupMs: number): Promise<{ bars: Bars; start: number }> {
    const h = windowMs(this.config.windows.holdout);
    const bars = await this.source.load({
      symbol: this.config.dataset.symbol,
      timeframe: this.config.dataset.timeframe,
      from: h.start - Math.max(0, warmupMs),
      to: h.end,
    });
    return { bars, start: lowerBound(bars.time, h.start) };
  }

  /** Warm-up history for a strategy timeframe: the run's warmup_bars of that timeframe, in ms. */
  warmupMs(strategyTimeframe: string): number {
    return this.config.walk_forward.warmup_bars * timeframeMs(strategyTimeframe);
  }
}
