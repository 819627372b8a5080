import { averagePairwiseCorrelation, effectiveTrials } from "./effective-trials.ts";
import { type Returns, returnMoments, sharpeRatio } from "./moments.ts";
import { EULER_MASCHERONI, normalUpperQuantile } from "./normal.ts";
import { probabilisticSharpeRatio, probabilisticSharpeZ } from "./probabilistic-sharpe.ts";
import { StatsError } from "./stats-error.ts";

/**
 * Expected maximum of N independent standard normal draws, by the extreme-value
 * approximation of Bailey, Borwein, López de Prado & Zhu (2014) used in the DSR paper:
 *
 *   E[max] ≈ (1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)),   γ = Euler–Mascheroni
 *
 * N may be fractional (an effective number of trials). One trial has nothing to be
 * selected from, so N = 1 gives 0. The approximation dips below zero for N just above 1
 * (below N ≈ 1.28) where it is not meaningful; selecting the best of ≥ 1 trials never
 * lowers the bar, so the result is floored at 0.
 */
export function expectedMaxStandardNormal(trials: number): number {
  if (!Number.isFinite(trials) || trials < 1)
    throw new StatsError(`number of trials must be at least 1, got ${trials}`);
  if (trials === 1) return 0;
  const value =
    (1 - EULER_MASCHERONI) * normalUpperQuantile(1 / trials) +
    EULER_MASCHERONI * normalUpperQuantile(1 / (trials * Math.E));
  return Math.max(0, value);
}

/**
 * SR₀ = √V[SR_n] · E[max]: the Sharpe ratio the best of N skill-less trials is expected
 * to show when the trials' Sharpe ratios have variance V (DSR paper, eq. 2 with zero mean).
 */
export function expectedMaxSharpe(trials: number, sharpeVariance: number): number {
  if (!Number.isFinite(sharpeVariance) || sharpeVariance < 0) {
    throw new StatsError(`variance of the trials' Sharpe ratios must be ≥ 0, got ${sharpeVariance}`);
  }
  return Math.sqrt(sharpeVariance) * expectedMaxStandardNormal(trials);
}

export interface DeflatedSharpeInput {
  /** Observed per-period Sharpe ratio of the selected trial. */
  readonly sharpe: number;
  /** Number of (independent, or effective) trials N the selection was made from. */
  readonly trials: number;
  /** Variance of the trials' per-period Sharpe ratios V[SR_n]. */
  readonly sharpeVariance: number;
  /** Number of return observations T of the selected trial. */
  readonly observations: number;
  readonly skew?: number;
  /** PEARSON kurtosis (normal = 3). */
  readonly kurtosis?: number;
}

export interface DeflatedSharpeResult {
  /** E[max] of N standard normals. */
  readonly expectedMax: number;
  /** SR₀ = √V · E[max], per period. */
  readonly sr0: number;
  /** PSR against 0: the probability the true Sharpe ratio is positive, ignoring selection. */
  readonly psr: number;
  /** Deflated Sharpe Ratio: PSR against SR₀. */
  readonly dsr: number;
  /** The z statistic behind the DSR. */
  readonly z: number;
}

/**
 * Deflated Sharpe Ratio (Bailey & López de Prado, "The Deflated Sharpe Ratio: Correcting
 * for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
 * Management 40(5), 2014): PSR with the benchmark raised to SR₀, the Sharpe ratio the
 * best of N trials would show by luck alone.
 */
export function deflatedSharpeRatio(input: DeflatedSharpeInput): DeflatedSharpeResult {
  const expectedMax = expectedMaxStandardNormal(input.trials);
  const sr0 = expectedMaxSharpe(input.trials, input.sharpeVariance);
  const estimate = {
    sharpe: input.sharpe,
    observations: input.observations,
    skew: input.skew ?? 0,
    kurtosis: input.kurtosis ?? 3,
  };
  const z = probabilisticSharpeZ(estimate, sr0);
  return {
    expectedMax,
    sr0,
    psr: probabilisticSharpeRatio(estimate, 0),
    dsr: probabilisticSharpeRatio(estimate, sr0),
    z,
  };
}

export interface TrialSelection {
  /** Per-period returns of the selected trial. */
  readonly selected: Returns;
  /**
   * Per-period Sharpe ratios of every trial run on this dataset and window, the selected
   * one included (the ledger's count is N).
   */
  readonly trialSharpes: readonly number[];
  /**
   * Average pairwise correlation of the trials' returns, if known (see
   * `averagePairwiseCorrelation`). Omitted → trials treated as independent (N_eff = N).
   */
  readonly averageCorrelation?: number;
}

export interface SelectionDeflation extends DeflatedSharpeResult {
  readonly sharpe: number;
  readonly observations: number;
  readonly skew: number;
  readonly kurtosis: number;
  /** Raw number of trials in the ledger. */
  readonly trials: number;
  /** Effective number of independent trials used for SR₀. */
  readonly effectiveTrials: number;
  readonly averageCorrelation: number;
  /** Sample variance (n − 1) of the trials' Sharpe ratios; 0 with a single trial. */
  readonly sharpeVariance: number;
}

/** Sample variance (divisor n − 1) of finite values; 0 when fewer than two. */
export function sampleVariance(values: readonly number[]): number {
  const finiteValues = values.filter((v) => Number.isFinite(v));
  const n = finiteValues.length;
  if (n < 2) return 0;
  const mu = finiteValues.reduce((a, b) => a + b, 0) / n;
  return finiteValues.reduce((a, v) => a + (v - mu) ** 2, 0) / (n - 1);
}

/**
 * Deflates the Sharpe ratio of a selected trial against everything tried on the same
 * data: N from the ledger (corrected for correlation when ρ̄ is given), V from the spread
 * of the trials' Sharpe ratios, skew and kurtosis from the selected returns.
 */
export function deflateSelection(selection: TrialSelection): SelectionDeflation {
  const trials = selection.trialSharpes.length;
  if (trials < 1)
    throw new StatsError("at least one trial (the selected one) is needed to deflate a Sharpe ratio");
  const moments = returnMoments(selection.selected);
  const averageCorrelation = selection.averageCorrelation ?? 0;
  const nEff = effectiveTrials(trials, averageCorrelation);
  const sharpeVariance = sampleVariance(selection.trialSharpes);
  const result = deflatedSharpeRatio({
    sharpe: moments.sharpe,
    trials: nEff,
    sharpeVariance,
    observations: moments.observations,
    skew: moments.skew,
    kurtosis: moments.kurtosis,
  });
  return {
    ...result,
    sharpe: moments.sharpe,
    observations: moments.observations,
    skew: moments.skew,
    kurtosis: moments.kurtosis,
    trials,
    effectiveTrials: nEff,
    averageCorrelation,
    sharpeVariance,
  };
}

/**
 * Convenience for when every trial's aligned returns are at hand: Sharpe ratios and the
 * average correlation are computed from them, then `deflateSelection`.
 */
export function deflateFromTrialReturns(
  selectedIndex: number,
  trialReturns: readonly Returns[],
): SelectionDeflation {
  const selected = trialReturns[selectedIndex];
  if (selected === undefined)
    throw new StatsError(`selected trial ${selectedIndex} is not among ${trialReturns.length} trials`);
  return deflateSelection({
    selected,
    trialSharpes: trialReturns.map((r) => sharpeRatio(r)),
    averageCorrelation: averagePairwiseCorrelation(trialReturns),
  });
}
