import { type Returns, sharpeFrom } from "./moments.ts";
import { SeededRandom } from "./seeded-random.ts";
import { StatsError } from "./stats-error.ts";

/**
 * Probability of Backtest Overfitting by Combinatorially Symmetric Cross-Validation
 * (Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting",
 * Journal of Computational Finance 20(4), 2017; SSRN 2326253, 2015).
 *
 * The T×N matrix of the trials' per-period returns is cut into S contiguous blocks of
 * rows. For every choice of S/2 blocks as in-sample (IS), the rest out-of-sample (OOS):
 * the trial with the best IS Sharpe ratio is "selected", its OOS Sharpe ratio is ranked
 * among all trials' OOS Sharpe ratios, ω = rank / (N + 1), and λ = ln(ω / (1 − ω)).
 * PBO is the share of splits with λ ≤ 0: how often the IS winner lands at or below
 * the OOS median.
 */
export interface CscvOptions {
  /** Number of blocks S (even, 2…30). Default 16, as in the paper's examples. */
  readonly blocks?: number;
  /** Enumerate every split when C(S, S/2) ≤ this, else sample this many distinct splits. Default 5000. */
  readonly maxSplits?: number;
  /** Seed for the split sample (only used when sampling). Default 1. */
  readonly seed?: number;
}

export interface CscvResult {
  /** Probability of Backtest Overfitting: share of splits with λ ≤ 0. */
  readonly pbo: number;
  /** Share of splits where the selected trial's OOS Sharpe ratio is negative. */
  readonly probabilityOfLoss: number;
  /**
   * Least-squares fit OOS = intercept + slope·IS over the selected trials' Sharpe ratios
   * (per period). A slope well below 1 (often negative) is performance degradation.
   * NaN when the IS Sharpe ratios do not vary.
   */
  readonly degradation: { readonly slope: number; readonly intercept: number; readonly rSquared: number };
  /** λ (logit of the selected trial's relative OOS rank), one per split, in split order. */
  readonly lambdas: readonly number[];
  /** Index of the trial selected in each split. */
  readonly selectedTrials: readonly number[];
  /** IS and OOS per-period Sharpe ratios of the selected trial in each split. */
  readonly isSharpe: readonly number[];
  readonly oosSharpe: readonly number[];
  readonly blocks: number;
  readonly observations: number;
  readonly trials: number;
  /** Number of splits evaluated. */
  readonly splits: number;
  /** C(S, S/2): the number of splits there are. */
  readonly possibleSplits: number;
  /** True when a seeded sample of the splits was evaluated instead of all of them. */
  readonly sampled: boolean;
  readonly seed: number;
}

/** n choose k, exact for the sizes CSCV allows (S ≤ 30). */
export function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** Block b covers rows [⌊b·T/S⌋, ⌊(b+1)·T/S⌋): sizes differ by at most one, no row is dropped. */
export function blockBounds(observations: number, blocks: number): number[] {
  const bounds: number[] = [];
  for (let b = 0; b <= blocks; b++) bounds.push(Math.floor((b * observations) / blocks));
  return bounds;
}

/** Per block and trial: count, mean and sum of squared deviations, merged exactly later (Chan et al. 1979). */
interface BlockMoments {
  readonly count: Float64Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
}

function blockMoments(trials: readonly Returns[], bounds: readonly number[], blocks: number): BlockMoments {
  const n = trials.length;
  const count = new Float64Array(blocks * n);
  const mean = new Float64Array(blocks * n);
  const m2 = new Float64Array(blocks * n);
  for (let j = 0; j < n; j++) {
    const series = trials[j] as Returns;
    for (let b = 0; b < blocks; b++) {
      const start = bounds[b] as number;
      const end = bounds[b + 1] as number;
      let mu = 0;
      for (let t = start; t < end; t++) mu += series[t] as number;
      mu /= end - start;
      let ss = 0;
      for (let t = start; t < end; t++) {
        const d = (series[t] as number) - mu;
        ss += d * d;
      }
      const k = b * n + j;
      count[k] = end - start;
      mean[k] = mu;
      m2[k] = ss;
    }
  }
  return { count, mean, m2 };
}

/** Sharpe ratio (sample stdev) of each trial over the union of the given blocks, into `out`. */
function pooledSharpe(
  moments: BlockMoments,
  blockList: readonly number[],
  trials: number,
  out: Float64Array,
): void {
  for (let j = 0; j < trials; j++) {
    let n = 0;
    let mu = 0;
    let m2 = 0;
    for (const b of blockList) {
      const k = b * trials + j;
      const nb = moments.count[k] as number;
      const mb = moments.mean[k] as number;
      const total = n + nb;
      const delta = mb - mu;
      mu += (delta * nb) / total;
      m2 += (moments.m2[k] as number) + (delta * delta * n * nb) / total;
      n = total;
    }
    out[j] = sharpeFrom(mu, Math.sqrt(m2 / (n - 1)));
  }
}

/** All k-subsets of 0…n−1 in lexicographic order (itertools.combinations order). */
function allCombinations(n: number, k: number): number[][] {
  const result: number[][] = [];
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    result.push(idx.slice());
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return result;
    idx[i] = (idx[i] as number) + 1;
    for (let m = i + 1; m < k; m++) idx[m] = (idx[m - 1] as number) + 1;
  }
}

/**
 * `count` distinct k-subsets of 0…n−1 drawn with a seeded partial Fisher–Yates shuffle,
 * each returned sorted, in draw order. Requires count < C(n, k).
 */
export function sampleCombinations(n: number, k: number, count: number, seed: number): number[][] {
  const rng = new SeededRandom(seed);
  const seen = new Set<number>();
  const result: number[][] = [];
  const pool = Array.from({ length: n }, (_, i) => i);
  while (result.length < count) {
    for (let i = 0; i < n; i++) pool[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + rng.below(n - i);
      const tmp = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = tmp;
    }
    const chosen = pool.slice(0, k).sort((a, b) => a - b);
    let mask = 0;
    for (const b of chosen) mask |= 1 << b;
    if (seen.has(mask)) continue;
    seen.add(mask);
    result.push(chosen);
  }
  return result;
}

/** Rank of `values[index]` among `values`, 1 = lowest, ties sharing their average rank. */
function averageRank(values: Float64Array, index: number): number {
  const v = values[index] as number;
  let below = 0;
  let equal = 0;
  for (const x of values) {
    if (x < v) below++;
    else if (x === v) equal++;
  }
  return below + (equal + 1) / 2;
}

function leastSquares(x: readonly number[], y: readonly number[]): CscvResult["degradation"] {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    const yi = y[i] as number;
    if (!Number.isFinite(xi) || !Number.isFinite(yi)) continue;
    n++;
    sx += xi;
    sy += yi;
  }
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, rSquared: Number.NaN };
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    const yi = y[i] as number;
    if (!Number.isFinite(xi) || !Number.isFinite(yi)) continue;
    sxx += (xi - mx) ** 2;
    sxy += (xi - mx) * (yi - my);
    syy += (yi - my) ** 2;
  }
  if (!(sxx > 0)) return { slope: Number.NaN, intercept: Number.NaN, rSquared: Number.NaN };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, rSquared: syy > 0 ? (sxy * sxy) / (sxx * syy) : Number.NaN };
}

/**
 * Runs CSCV over the trials' per-period returns: one series per trial, all aligned and
 * of the same length T (the columns of the paper's T×N matrix).
 */
export function probabilityOfBacktestOverfitting(
  trials: readonly Returns[],
  options: CscvOptions = {},
): CscvResult {
  const blocks = options.blocks ?? 16;
  const maxSplits = options.maxSplits ?? 5000;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(blocks) || blocks < 2 || blocks > 30 || blocks % 2 !== 0) {
    throw new StatsError(`CSCV needs an even number of blocks between 2 and 30, got ${blocks}`);
  }
  if (!Number.isInteger(maxSplits) || maxSplits < 1) {
    throw new StatsError(`maximum number of splits must be a positive integer, got ${maxSplits}`);
  }
  const n = trials.length;
  if (n < 2) throw new StatsError(`CSCV needs at least 2 trials to rank, got ${n}`);
  const observations = (trials[0] as Returns).length;
  for (const [j, series] of trials.entries()) {
    if (series.length !== observations) {
      throw new StatsError(
        `every trial needs the same number of observations: trial 0 has ${observations}, trial ${j} has ${series.length}`,
      );
    }
  }
  // Each block needs two rows so that every half has a defined standard deviation.
  if (observations < 2 * blocks) {
    throw new StatsError(
      `${observations} observations are too few for ${blocks} blocks (need at least ${2 * blocks})`,
    );
  }

  const half = blocks / 2;
  const possibleSplits = binomial(blocks, half);
  const sampled = possibleSplits > maxSplits;
  const combos = sampled ? sampleCombinations(blocks, half, maxSplits, seed) : allCombinations(blocks, half);

  const moments = blockMoments(trials, blockBounds(observations, blocks), blocks);
  const isSr = new Float64Array(n);
  const oosSr = new Float64Array(n);
  const lambdas: number[] = [];
  const selectedTrials: number[] = [];
  const isSharpe: number[] = [];
  const oosSharpe: number[] = [];
  let overfit = 0;
  let losses = 0;
  const inSample = new Array<boolean>(blocks);
  for (const combo of combos) {
    inSample.fill(false);
    for (const b of combo) inSample[b] = true;
    const outOfSample: number[] = [];
    for (let b = 0; b < blocks; b++) if (!inSample[b]) outOfSample.push(b);
    pooledSharpe(moments, combo, n, isSr);
    pooledSharpe(moments, outOfSample, n, oosSr);
    let best = 0;
    for (let j = 1; j < n; j++) if ((isSr[j] as number) > (isSr[best] as number)) best = j;
    const omega = averageRank(oosSr, best) / (n + 1);
    const lambda = Math.log(omega / (1 - omega));
    lambdas.push(lambda);
    selectedTrials.push(best);
    isSharpe.push(isSr[best] as number);
    oosSharpe.push(oosSr[best] as number);
    if (lambda <= 0) overfit++;
    if ((oosSr[best] as number) < 0) losses++;
  }
  const splits = combos.length;
  return {
    pbo: overfit / splits,
    probabilityOfLoss: losses / splits,
    degradation: leastSquares(isSharpe, oosSharpe),
    lambdas,
    selectedTrials,
    isSharpe,
    oosSharpe,
    blocks,
    observations,
    trials: n,
    splits,
    possibleSplits,
    sampled,
    seed,
  };
}
