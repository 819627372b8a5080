import { normalCdf, normalQuantile } from "./normal.ts";
import { StatsError } from "./stats-error.ts";

/**
 * An observed per-period Sharpe ratio with what its sampling error depends on.
 * Skew and kurtosis default to the normal case (0 and Pearson 3).
 */
export interface SharpeEstimate {
  /** Observed per-period (not annualised) Sharpe ratio SR^. */
  readonly sharpe: number;
  /** Number of return observations T. */
  readonly observations: number;
  /** Skewness γ3 of the returns. */
  readonly skew?: number;
  /** PEARSON kurtosis γ4 of the returns (normal = 3, not 0). */
  readonly kurtosis?: number;
}

function finite(value: number, name: string): number {
  if (!Number.isFinite(value)) throw new StatsError(`${name} must be a finite number, got ${value}`);
  return value;
}

/**
 * 1 − γ3·SR + (γ4 − 1)/4·SR²: the non-normality factor of the Sharpe ratio's asymptotic
 * variance (Mertens 2002; Bailey & López de Prado 2012, eq. 3). For real data it is ≥ 0
 * because γ4 ≥ 1 + γ3²; a value ≤ 0 means the moments given are impossible.
 */
export function sharpeVarianceFactor(sharpe: number, skew = 0, kurtosis = 3): number {
  finite(sharpe, "Sharpe ratio");
  finite(skew, "skew");
  finite(kurtosis, "kurtosis");
  if (kurtosis < 1) {
    throw new StatsError(
      `kurtosis must be Pearson kurtosis (≥ 1, normal = 3), got ${kurtosis}; if you have excess kurtosis, add 3`,
    );
  }
  const factor = 1 - skew * sharpe + ((kurtosis - 1) / 4) * sharpe * sharpe;
  if (!(factor > 0)) {
    throw new StatsError(
      `skew ${skew} and kurtosis ${kurtosis} are inconsistent (Pearson kurtosis must be ≥ 1 + skew²): variance factor ${factor}`,
    );
  }
  return factor;
}

function requireTrackRecord(observations: number): void {
  if (!Number.isFinite(observations) || observations < 2) {
    throw new StatsError(
      `at least 2 observations are needed for a Sharpe ratio's standard error, got ${observations}`,
    );
  }
}

/** Standard error of the per-period Sharpe estimate: √(factor / (T − 1)). */
export function sharpeStandardError(estimate: SharpeEstimate): number {
  requireTrackRecord(estimate.observations);
  const factor = sharpeVarianceFactor(estimate.sharpe, estimate.skew, estimate.kurtosis);
  return Math.sqrt(factor / (estimate.observations - 1));
}

/** z = (SR^ − SR*) / standard error — the statistic PSR puts through Φ. */
export function probabilisticSharpeZ(estimate: SharpeEstimate, benchmarkSharpe = 0): number {
  finite(benchmarkSharpe, "benchmark Sharpe ratio");
  return (estimate.sharpe - benchmarkSharpe) / sharpeStandardError(estimate);
}

/**
 * Probabilistic Sharpe Ratio (Bailey & López de Prado, "The Sharpe Ratio Efficient
 * Frontier", Journal of Risk 15(2), 2012): the probability that the true Sharpe ratio
 * exceeds the benchmark SR*, given T observations with skew γ3 and Pearson kurtosis γ4:
 *
 *   PSR(SR*) = Φ( (SR^ − SR*)·√(T − 1) / √(1 − γ3·SR^ + (γ4 − 1)/4·SR^²) )
 */
export function probabilisticSharpeRatio(estimate: SharpeEstimate, benchmarkSharpe = 0): number {
  return normalCdf(probabilisticSharpeZ(estimate, benchmarkSharpe));
}

export interface MinTrackRecordInput {
  /** Observed per-period Sharpe ratio SR^. */
  readonly sharpe: number;
  /** Benchmark per-period Sharpe ratio SR* (default 0). */
  readonly benchmarkSharpe?: number;
  readonly skew?: number;
  /** PEARSON kurtosis (normal = 3). */
  readonly kurtosis?: number;
  /** Confidence level α in [0.5, 1) (default 0.95). */
  readonly confidence?: number;
}

/**
 * Minimum Track Record Length (Bailey & López de Prado 2012, eq. 11): the number of
 * observations for which PSR(SR*) reaches the confidence α if the returns keep their
 * Sharpe ratio, skew and kurtosis:
 *
 *   MinTRL = 1 + (1 − γ3·SR^ + (γ4 − 1)/4·SR^²)·(Φ⁻¹(α) / (SR^ − SR*))²
 *
 * In the same periodicity as the Sharpe ratios. Infinity when SR^ ≤ SR*: no track
 * record is long enough to show a Sharpe ratio above one it does not exceed.
 */
export function minTrackRecordLength(input: MinTrackRecordInput): number {
  const benchmark = finite(input.benchmarkSharpe ?? 0, "benchmark Sharpe ratio");
  const confidence = input.confidence ?? 0.95;
  // Below 0.5 any positive edge already qualifies at T = 1, and the squared quantile would mislead.
  if (!(confidence >= 0.5 && confidence < 1)) {
    throw new StatsError(`confidence must be at least 0.5 and below 1, got ${confidence}`);
  }
  const factor = sharpeVarianceFactor(input.sharpe, input.skew, input.kurtosis);
  const edge = input.sharpe - benchmark;
  if (!(edge > 0)) return Number.POSITIVE_INFINITY;
  const z = normalQuantile(confidence);
  return 1 + factor * (z / edge) ** 2;
}
