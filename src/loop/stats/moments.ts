import { StatsError } from "./stats-error.ts";

/**
 * Moments of one per-period returns series, in the conventions the Sharpe-ratio
 * statistics need:
 * - Sharpe is per period (not annualised): mean / sample standard deviation (n − 1).
 * - Skewness and kurtosis use POPULATION moments (divide by n, no small-sample
 *   correction), i.e. scipy.stats.skew(x) and scipy.stats.kurtosis(x, fisher=False).
 * - Kurtosis is PEARSON kurtosis (a normal distribution has 3), because that is what
 *   the PSR/DSR variance term (γ4 − 1)/4·SR² expects. Excess kurtosis = Pearson − 3.
 */
export type Returns = ArrayLike<number>;

export interface ReturnMoments {
  readonly observations: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1). */
  readonly stdev: number;
  /** Per-period Sharpe ratio: mean / stdev (risk-free rate already subtracted, if any). */
  readonly sharpe: number;
  /** Population skewness γ3. */
  readonly skew: number;
  /** Population Pearson kurtosis γ4 (normal = 3). */
  readonly kurtosis: number;
}

function requireObservations(returns: Returns, minimum: number, what: string): void {
  if (returns.length < minimum) {
    throw new StatsError(`${what} needs at least ${minimum} observations, got ${returns.length}`);
  }
}

export function mean(returns: Returns): number {
  requireObservations(returns, 1, "mean");
  let sum = 0;
  for (let i = 0; i < returns.length; i++) sum += returns[i] as number;
  return sum / returns.length;
}

/** Central moments m2, m3, m4 with divisor n (population), by a second pass over the centred data. */
function centralMoments(returns: Returns, mu: number): [number, number, number] {
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < returns.length; i++) {
    const d = (returns[i] as number) - mu;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  const n = returns.length;
  return [m2 / n, m3 / n, m4 / n];
}

/** Sample standard deviation (divisor n − 1). */
export function sampleStdev(returns: Returns): number {
  requireObservations(returns, 2, "standard deviation");
  const [m2] = centralMoments(returns, mean(returns));
  return Math.sqrt((m2 * returns.length) / (returns.length - 1));
}

/**
 * Per-period Sharpe ratio mean / sample stdev. A series with zero variance has no
 * defined Sharpe ratio; we return its limit (0 for an all-zero series, ±Infinity
 * otherwise) rather than NaN, so rankings over trials stay total.
 */
export function sharpeRatio(returns: Returns): number {
  const mu = mean(returns);
  const sd = sampleStdev(returns);
  return sharpeFrom(mu, sd);
}

export function sharpeFrom(mu: number, sd: number): number {
  if (sd > 0) return mu / sd;
  if (mu === 0) return 0;
  return mu > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

/** Population skewness m3 / m2^1.5; 0 for a series with zero variance. */
export function skewness(returns: Returns): number {
  requireObservations(returns, 2, "skewness");
  const [m2, m3] = centralMoments(returns, mean(returns));
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}

/** Population Pearson kurtosis m4 / m2² (normal = 3); 3 for a series with zero variance. */
export function pearsonKurtosis(returns: Returns): number {
  requireObservations(returns, 2, "kurtosis");
  const [m2, , m4] = centralMoments(returns, mean(returns));
  return m2 > 0 ? m4 / (m2 * m2) : 3;
}

/** Every moment the Sharpe statistics need, from one pass for the mean and one for the centred moments. */
export function returnMoments(returns: Returns): ReturnMoments {
  requireObservations(returns, 2, "return moments");
  const n = returns.length;
  const mu = mean(returns);
  const [m2, m3, m4] = centralMoments(returns, mu);
  const stdev = Math.sqrt((m2 * n) / (n - 1));
  return {
    observations: n,
    mean: mu,
    stdev,
    sharpe: sharpeFrom(mu, stdev),
    skew: m2 > 0 ? m3 / m2 ** 1.5 : 0,
    kurtosis: m2 > 0 ? m4 / (m2 * m2) : 3,
  };
}

/** Pearson kurtosis from excess kurtosis (what most libraries report) — normal: 0 → 3. */
export function pearsonFromExcess(excessKurtosis: number): number {
  return excessKurtosis + 3;
}

/** Annualised Sharpe from a per-period one, under IID returns: SR·√(periods per year). */
export function annualiseSharpe(perPeriodSharpe: number, periodsPerYear: number): number {
  requirePeriods(periodsPerYear);
  return perPeriodSharpe * Math.sqrt(periodsPerYear);
}

/** Per-period Sharpe from an annualised one: SR / √(periods per year). */
export function perPeriodSharpe(annualisedSharpe: number, periodsPerYear: number): number {
  requirePeriods(periodsPerYear);
  return annualisedSharpe / Math.sqrt(periodsPerYear);
}

/** Variance of Sharpe ratios scales with the period count: V_year = V_period · periods per year. */
export function perPeriodSharpeVariance(annualisedVariance: number, periodsPerYear: number): number {
  requirePeriods(periodsPerYear);
  return annualisedVariance / periodsPerYear;
}

function requirePeriods(periodsPerYear: number): void {
  if (!(periodsPerYear > 0) || !Number.isFinite(periodsPerYear)) {
    throw new StatsError(`periods per year must be a positive number, got ${periodsPerYear}`);
  }
}
