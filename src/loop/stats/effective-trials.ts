import type { Returns } from "./moments.ts";
import { StatsError } from "./stats-error.ts";

/**
 * Average pairwise Pearson correlation ρ̄ of the trials' per-period returns (all series
 * aligned, same length). Computed in O(N·T) rather than O(N²·T): with each series
 * standardised to unit norm z_i, Σ_{i≠j} ρ_ij = ‖Σ z_i‖² − N.
 *
 * Series with zero variance have no correlation with anything and are left out of the
 * average. With fewer than two usable series the result is 0, which makes the
 * effective number of trials equal to the raw count — the conservative choice.
 */
export function averagePairwiseCorrelation(series: readonly Returns[]): number {
  const first = series[0];
  if (first === undefined || series.length < 2) return 0;
  const length = first.length;
  if (length < 2) throw new StatsError(`correlation needs at least 2 observations per trial, got ${length}`);
  const sum = new Float64Array(length);
  let usable = 0;
  for (const s of series) {
    if (s.length !== length) {
      throw new StatsError(
        `all trials must have the same number of observations (${length}), got one with ${s.length}`,
      );
    }
    let mu = 0;
    for (let t = 0; t < length; t++) mu += s[t] as number;
    mu /= length;
    let ss = 0;
    for (let t = 0; t < length; t++) {
      const d = (s[t] as number) - mu;
      ss += d * d;
    }
    if (!(ss > 0)) continue;
    const norm = Math.sqrt(ss);
    for (let t = 0; t < length; t++) sum[t] = (sum[t] as number) + ((s[t] as number) - mu) / norm;
    usable++;
  }
  if (usable < 2) return 0;
  let squared = 0;
  for (let t = 0; t < length; t++) squared += (sum[t] as number) ** 2;
  return (squared - usable) / (usable * (usable - 1));
}

/**
 * Effective number of independent trials from N correlated ones:
 *
 *   N_eff = ρ̄ + (1 − ρ̄)·N
 *
 * the linear interpolation between N independent trials (ρ̄ = 0 → N) and N copies of one
 * trial (ρ̄ = 1 → 1). This is the "number of independent trials" heuristic attributed to
 * López de Prado for use with the Deflated Sharpe Ratio when only the trials' average
 * correlation is known. The more careful estimator recommended in that literature
 * clusters the trials and counts clusters (López de Prado & Lewis 2019, "Detection of
 * false investment strategies using unsupervised learning methods"); the heuristic is
 * cheaper and needs no tuning, which suits a per-iteration gate.
 *
 * ρ̄ is clamped to [0, 1]: a negative average correlation cannot make trials more than
 * independent, so it never inflates N beyond the count actually run.
 */
export function effectiveTrials(trials: number, averageCorrelation: number): number {
  if (!Number.isFinite(trials) || trials < 1)
    throw new StatsError(`number of trials must be at least 1, got ${trials}`);
  if (!Number.isFinite(averageCorrelation)) {
    throw new StatsError(`average correlation must be a finite number, got ${averageCorrelation}`);
  }
  const rho = Math.min(1, Math.max(0, averageCorrelation));
  return rho + (1 - rho) * trials;
}
