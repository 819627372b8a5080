/**
 * Walk-forward folds over the search window. The harness fits nothing, so a fold is a contiguous
 * out-of-sample test segment; what differs between schemes is the history its indicators see:
 * - rolling: the `warmup_bars` bars right before the fold;
 * - anchored: every bar from the start of the search window.
 * The first `warmup_bars` bars of the search window are warm-up only, so the first fold has
 * history too. Warm-up never reaches outside the search window (never into the holdout).
 */
export interface Fold {
  readonly index: number;
  /** First bar of the warm-up history (index into the search-window bars). */
  readonly warmupStart: number;
  /** First evaluated bar. */
  readonly start: number;
  /** One past the last evaluated bar. */
  readonly end: number;
}

export interface FoldPlan {
  readonly folds: number;
  readonly scheme: "anchored" | "rolling";
  readonly warmupBars: number;
}

export function planFolds(barCount: number, plan: FoldPlan): Fold[] {
  const warmup = Math.min(plan.warmupBars, Math.floor(barCount / 2));
  const usable = barCount - warmup;
  if (plan.folds < 1 || usable < plan.folds * 2) {
    throw new Error(
      `search window has ${barCount} bars: too few for ${plan.folds} folds after ${warmup} warm-up bars`,
    );
  }
  const out: Fold[] = [];
  for (let k = 0; k < plan.folds; k++) {
    const start = warmup + Math.floor((usable * k) / plan.folds);
    const end = warmup + Math.floor((usable * (k + 1)) / plan.folds);
    const warmupStart = plan.scheme === "anchored" ? 0 : Math.max(0, start - plan.warmupBars);
    out.push({ index: k, warmupStart, start, end });
  }
  return out;
}
