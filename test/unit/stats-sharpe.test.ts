import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  deflatedSharpeRatio,
  deflateFromTrialReturns,
  deflateSelection,
  expectedMaxSharpe,
  expectedMaxStandardNormal,
} from "../../src/loop/stats/deflated-sharpe.ts";
import { averagePairwiseCorrelation, effectiveTrials } from "../../src/loop/stats/effective-trials.ts";
import {
  annualiseSharpe,
  pearsonKurtosis,
  perPeriodSharpe,
  perPeriodSharpeVariance,
  returnMoments,
  sampleStdev,
  sharpeRatio,
  skewness,
} from "../../src/loop/stats/moments.ts";
import {
  minTrackRecordLength,
  probabilisticSharpeRatio,
  probabilisticSharpeZ,
  sharpeStandardError,
} from "../../src/loop/stats/probabilistic-sharpe.ts";
import { parseReturnsCsv } from "../../src/loop/stats/returns-csv.ts";
import { SeededRandom } from "../../src/loop/stats/seeded-random.ts";
import { StatsError } from "../../src/loop/stats/stats-error.ts";

interface Reference {
  observations: number;
  moments: { name: string; mean: number; stdev: number; sharpe: number; skew: number; kurtosis: number }[];
  selection: {
    selectedIndex: number;
    trials: number;
    averageCorrelation: number;
    effectiveTrials: number;
    sharpeVariance: number;
    expectedMax: number;
    sr0: number;
    psr: number;
    dsr: number;
    z: number;
  };
  expectedMax: { trials: number; expectedMax: number }[];
  psr: {
    sharpe: number;
    observations: number;
    skew: number;
    kurtosis: number;
    benchmark: number;
    psr: number;
    z: number;
  }[];
  dsr: {
    sharpe: number;
    trials: number;
    sharpeVariance: number;
    observations: number;
    skew: number;
    kurtosis: number;
    expectedMax: number;
    sr0: number;
    psr: number;
    dsr: number;
    z: number;
  }[];
  mintrl: {
    sharpe: number;
    benchmark: number;
    skew: number;
    kurtosis: number;
    confidence: number;
    minTrl: number;
  }[];
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/stats/${name}`, import.meta.url), "utf8");
const reference = JSON.parse(fixture("reference.json")) as Reference;
const table = parseReturnsCsv(fixture("trials.csv"));
const TOL = 1e-6;

function within(actual: number, expected: number, tolerance = TOL, label = ""): void {
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

function gaussian(rng: SeededRandom): number {
  // Box–Muller; 1 − u keeps the log argument in (0, 1].
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

describe("returns-series moments against numpy/scipy", () => {
  it("reads the fixture dataset as the generator wrote it", () => {
    expect(table.names).toEqual(reference.moments.map((m) => m.name));
    for (const column of table.columns) expect(column.length).toBe(reference.observations);
  });

  it("sharpe (sample stdev), population skew and Pearson kurtosis match scipy within 1e-6", () => {
    reference.moments.forEach((ref, j) => {
      const column = table.columns[j] as Float64Array;
      const m = returnMoments(column);
      within(m.mean, ref.mean, 1e-12, `${ref.name} mean`);
      within(m.stdev, ref.stdev, 1e-12, `${ref.name} stdev`);
      within(m.sharpe, ref.sharpe, TOL, `${ref.name} sharpe`);
      within(m.skew, ref.skew, TOL, `${ref.name} skew`);
      within(m.kurtosis, ref.kurtosis, TOL, `${ref.name} kurtosis`);
      expect(sharpeRatio(column)).toBe(m.sharpe);
      expect(skewness(column)).toBeCloseTo(m.skew, 12);
      expect(pearsonKurtosis(column)).toBeCloseTo(m.kurtosis, 12);
      expect(sampleStdev(column)).toBeCloseTo(m.stdev, 15);
    });
  });

  it("kurtosis is Pearson (≈ 3 for normal draws), not excess (≈ 0)", () => {
    const rng = new SeededRandom(11);
    const draws = Float64Array.from({ length: 50_000 }, () => gaussian(rng));
    expect(pearsonKurtosis(draws)).toBeGreaterThan(2.9);
    expect(pearsonKurtosis(draws)).toBeLessThan(3.1);
    expect(Math.abs(skewness(draws))).toBeLessThan(0.05);
  });

  it("annualisation scales Sharpe by √periods and its variance by periods", () => {
    expect(annualiseSharpe(0.1, 365)).toBeCloseTo(0.1 * Math.sqrt(365), 14);
    expect(perPeriodSharpe(annualiseSharpe(0.07, 8760), 8760)).toBeCloseTo(0.07, 14);
    expect(perPeriodSharpeVariance(0.5, 250)).toBeCloseTo(0.002, 15);
    expect(() => annualiseSharpe(1, 0)).toThrow(StatsError);
  });

  it("refuses series too short for a standard deviation, and handles zero variance", () => {
    expect(() => sharpeRatio([0.01])).toThrow(/at least 2 observations/);
    expect(() => returnMoments([])).toThrow(StatsError);
    expect(sharpeRatio([0, 0, 0])).toBe(0);
    expect(sharpeRatio([0.01, 0.01])).toBe(Number.POSITIVE_INFINITY);
    const flat = returnMoments([0.002, 0.002, 0.002]);
    expect(flat.skew).toBe(0);
    expect(flat.kurtosis).toBe(3);
  });
});

describe("Probabilistic Sharpe Ratio and Minimum Track Record Length", () => {
  it("PSR matches the scipy reference within 1e-6", () => {
    for (const c of reference.psr) {
      const estimate = { sharpe: c.sharpe, observations: c.observations, skew: c.skew, kurtosis: c.kurtosis };
      within(probabilisticSharpeRatio(estimate, c.benchmark), c.psr, TOL, `PSR ${JSON.stringify(c)}`);
      within(probabilisticSharpeZ(estimate, c.benchmark), c.z, TOL, "z");
    }
  });

  it("MinTRL matches the scipy reference within 1e-6 relative", () => {
    for (const c of reference.mintrl) {
      const value = minTrackRecordLength({
        sharpe: c.sharpe,
        benchmarkSharpe: c.benchmark,
        skew: c.skew,
        kurtosis: c.kurtosis,
        confidence: c.confidence,
      });
      within(value / c.minTrl, 1, TOL, `MinTRL ${JSON.stringify(c)}`);
    }
  });

  it("PSR at exactly MinTRL observations equals the confidence (the two definitions agree)", () => {
    const input = { sharpe: 0.12, benchmarkSharpe: 0.02, skew: -0.7, kurtosis: 6, confidence: 0.975 };
    const length = minTrackRecordLength(input);
    const psr = probabilisticSharpeRatio(
      { sharpe: input.sharpe, observations: length, skew: input.skew, kurtosis: input.kurtosis },
      input.benchmarkSharpe,
    );
    within(psr, 0.975, 1e-12, "PSR(MinTRL)");
  });

  it("PSR increases with T when SR > SR*, decreases when SR < SR*", () => {
    let previousUp = 0;
    let previousDown = 1;
    for (const observations of [10, 50, 200, 1000, 5000]) {
      const up = probabilisticSharpeRatio({ sharpe: 0.08, observations, skew: -1, kurtosis: 7 }, 0.03);
      const down = probabilisticSharpeRatio({ sharpe: 0.01, observations, skew: -1, kurtosis: 7 }, 0.03);
      expect(up).toBeGreaterThan(previousUp);
      expect(down).toBeLessThan(previousDown);
      previousUp = up;
      previousDown = down;
    }
  });

  it("negative skew and fat tails widen the standard error and lengthen MinTRL", () => {
    const normal = sharpeStandardError({ sharpe: 0.1, observations: 500 });
    const ugly = sharpeStandardError({ sharpe: 0.1, observations: 500, skew: -2, kurtosis: 12 });
    expect(ugly).toBeGreaterThan(normal);
    expect(minTrackRecordLength({ sharpe: 0.1, skew: -2, kurtosis: 12 })).toBeGreaterThan(
      minTrackRecordLength({ sharpe: 0.1 }),
    );
  });

  it("MinTRL is infinite when the Sharpe ratio does not beat the benchmark", () => {
    expect(minTrackRecordLength({ sharpe: 0.05, benchmarkSharpe: 0.05 })).toBe(Number.POSITIVE_INFINITY);
    expect(minTrackRecordLength({ sharpe: -0.1 })).toBe(Number.POSITIVE_INFINITY);
  });

  it("gives clear errors for T < 2, impossible moments, excess kurtosis and bad confidence", () => {
    expect(() => probabilisticSharpeRatio({ sharpe: 0.1, observations: 1 })).toThrow(
      /at least 2 observations/,
    );
    expect(() => probabilisticSharpeRatio({ sharpe: 0.1, observations: Number.NaN })).toThrow(StatsError);
    expect(() => probabilisticSharpeRatio({ sharpe: 0.1, observations: 100, kurtosis: 0.2 })).toThrow(
      /excess kurtosis, add 3/,
    );
    expect(() =>
      probabilisticSharpeRatio({ sharpe: 2.2, observations: 100, skew: 1, kurtosis: 1.5 }),
    ).toThrow(/inconsistent/);
    expect(() => minTrackRecordLength({ sharpe: 0.1, confidence: 1 })).toThrow(/confidence/);
    expect(() => minTrackRecordLength({ sharpe: 0.1, confidence: 0.3 })).toThrow(/confidence/);
  });
});

describe("Deflated Sharpe Ratio", () => {
  it("reproduces the numerical example of Bailey & López de Prado (2014): DSR ≈ 0.9004", () => {
    // 100 trials, V[SR] = 0.5 and SR = 2.5 annualised, 5 years of daily returns
    // (T = 1250, 250 per year), skew −3, Pearson kurtosis 10. The paper reports
    // SR₀ ≈ 0.1132 per period and DSR ≈ 0.9004.
    const result = deflatedSharpeRatio({
      sharpe: perPeriodSharpe(2.5, 250),
      trials: 100,
      sharpeVariance: perPeriodSharpeVariance(0.5, 250),
      observations: 1250,
      skew: -3,
      kurtosis: 10,
    });
    expect(result.sr0).toBeCloseTo(0.1132, 4);
    expect(result.dsr).toBeCloseTo(0.9004, 4);
  });

  it("E[max] of N standard normals matches the scipy formula", () => {
    for (const c of reference.expectedMax)
      within(expectedMaxStandardNormal(c.trials), c.expectedMax, TOL, `N=${c.trials}`);
  });

  it("E[max] approximation tracks a Monte Carlo maximum of N normals", () => {
    const rng = new SeededRandom(3);
    for (const n of [10, 100]) {
      let total = 0;
      const runs = 2000;
      for (let r = 0; r < runs; r++) {
        let best = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < n; i++) best = Math.max(best, gaussian(rng));
        total += best;
      }
      // The extreme-value approximation is known to be within a few percent here.
      expect(Math.abs(total / runs - expectedMaxStandardNormal(n)) / (total / runs)).toBeLessThan(0.04);
    }
  });

  it("SR₀, PSR and DSR match the scipy reference within 1e-6", () => {
    for (const c of reference.dsr) {
      const result = deflatedSharpeRatio(c);
      within(result.expectedMax, c.expectedMax, TOL, "E[max]");
      within(result.sr0, c.sr0, TOL, "SR0");
      within(result.psr, c.psr, TOL, "PSR");
      within(result.dsr, c.dsr, TOL, `DSR ${JSON.stringify(c)}`);
      within(result.z, c.z, TOL, "z");
    }
  });

  it("deflates the fixture's best trial like the reference: N, ρ̄, N_eff, V and moments from the data", () => {
    const ref = reference.selection;
    const result = deflateFromTrialReturns(ref.selectedIndex, table.columns);
    expect(result.trials).toBe(ref.trials);
    within(result.averageCorrelation, ref.averageCorrelation, TOL, "ρ̄");
    within(result.effectiveTrials, ref.effectiveTrials, TOL, "N_eff");
    within(result.sharpeVariance, ref.sharpeVariance, TOL, "V");
    within(result.sr0, ref.sr0, TOL, "SR0");
    within(result.psr, ref.psr, TOL, "PSR");
    within(result.dsr, ref.dsr, TOL, "DSR");
    // The selected trial really is the best one, as the ledger would pick it.
    const sharpes = table.columns.map((c) => sharpeRatio(c));
    expect(Math.max(...sharpes)).toBe(sharpes[ref.selectedIndex]);
  });

  it("DSR decreases as N grows with the same SR and V", () => {
    let previous = 1;
    for (const trials of [1, 2, 5, 20, 100, 1000, 100_000]) {
      const { dsr } = deflatedSharpeRatio({ sharpe: 0.1, trials, sharpeVariance: 0.002, observations: 1000 });
      expect(dsr).toBeLessThan(previous);
      previous = dsr;
    }
  });

  it("N = 1 gives SR₀ = 0, so DSR is the plain PSR against zero", () => {
    const result = deflatedSharpeRatio({
      sharpe: 0.06,
      trials: 1,
      sharpeVariance: 0.01,
      observations: 400,
      skew: -0.5,
      kurtosis: 5,
    });
    expect(result.sr0).toBe(0);
    expect(result.dsr).toBe(result.psr);
    expect(result.dsr).toBe(
      probabilisticSharpeRatio({ sharpe: 0.06, observations: 400, skew: -0.5, kurtosis: 5 }, 0),
    );
  });

  it("zero variance across trials gives SR₀ = 0 whatever N is", () => {
    expect(expectedMaxSharpe(500, 0)).toBe(0);
    const result = deflatedSharpeRatio({ sharpe: 0.06, trials: 500, sharpeVariance: 0, observations: 400 });
    expect(result.dsr).toBe(result.psr);
  });

  it("floors E[max] at 0 where the approximation turns negative (1 < N < 1.28)", () => {
    expect(expectedMaxStandardNormal(1.1)).toBe(0);
    expect(expectedMaxStandardNormal(1.5)).toBeGreaterThan(0);
  });

  it("refuses N < 1, negative variance and T < 2 with clear errors", () => {
    expect(() =>
      deflatedSharpeRatio({ sharpe: 0.1, trials: 0, sharpeVariance: 0.01, observations: 100 }),
    ).toThrow(/at least 1/);
    expect(() =>
      deflatedSharpeRatio({ sharpe: 0.1, trials: 5, sharpeVariance: -0.01, observations: 100 }),
    ).toThrow(/≥ 0/);
    expect(() =>
      deflatedSharpeRatio({ sharpe: 0.1, trials: 5, sharpeVariance: 0.01, observations: 1 }),
    ).toThrow(/at least 2 observations/);
    expect(() => deflateSelection({ selected: [0.01, 0.02], trialSharpes: [] })).toThrow(StatsError);
  });

  it("a single-trial ledger deflates to PSR(0): no variance, no selection", () => {
    const selected = table.columns[6] as Float64Array;
    const result = deflateSelection({ selected, trialSharpes: [sharpeRatio(selected)] });
    expect(result.sharpeVariance).toBe(0);
    expect(result.sr0).toBe(0);
    expect(result.dsr).toBe(result.psr);
  });
});

describe("effective number of trials", () => {
  it("N_eff = ρ̄ + (1 − ρ̄)·N: N when independent, 1 when identical, clamped in between", () => {
    expect(effectiveTrials(50, 0)).toBe(50);
    expect(effectiveTrials(50, 1)).toBe(1);
    expect(effectiveTrials(50, 0.5)).toBeCloseTo(25.5, 12);
    expect(effectiveTrials(50, -0.3)).toBe(50);
    expect(effectiveTrials(50, 1.2)).toBe(1);
    expect(() => effectiveTrials(0, 0.2)).toThrow(StatsError);
  });

  it("average pairwise correlation matches the direct O(N²) computation and numpy", () => {
    within(
      averagePairwiseCorrelation(table.columns),
      reference.selection.averageCorrelation,
      1e-12,
      "ρ̄ vs numpy",
    );
    const rng = new SeededRandom(5);
    const common = Float64Array.from({ length: 300 }, () => gaussian(rng));
    const series = Array.from({ length: 6 }, (_, j) =>
      Float64Array.from(common, (c) => c * (j / 5) + gaussian(rng)),
    );
    let sum = 0;
    let pairs = 0;
    for (let a = 0; a < series.length; a++) {
      for (let b = a + 1; b < series.length; b++) {
        sum += pearson(series[a] as Float64Array, series[b] as Float64Array);
        pairs++;
      }
    }
    within(averagePairwiseCorrelation(series), sum / pairs, 1e-12, "ρ̄ direct");
  });

  it("identical trials collapse to one effective trial; constant series are left out", () => {
    const a = Float64Array.from([0.01, -0.02, 0.03, 0.0, 0.015]);
    expect(averagePairwiseCorrelation([a, a, a])).toBeCloseTo(1, 12);
    expect(averagePairwiseCorrelation([a, a, new Float64Array(5)])).toBeCloseTo(1, 12);
    expect(averagePairwiseCorrelation([a])).toBe(0);
    expect(() => averagePairwiseCorrelation([a, a.subarray(1)])).toThrow(/same number of observations/);
  });

  it("correlated trials deflate less than the same count of independent ones", () => {
    const selected = table.columns[6] as Float64Array;
    const trialSharpes = table.columns.map((c) => sharpeRatio(c));
    const independent = deflateSelection({ selected, trialSharpes });
    const correlated = deflateSelection({ selected, trialSharpes, averageCorrelation: 0.6 });
    expect(correlated.effectiveTrials).toBeLessThan(independent.effectiveTrials);
    expect(correlated.dsr).toBeGreaterThan(independent.dsr);
  });
});

function pearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}
