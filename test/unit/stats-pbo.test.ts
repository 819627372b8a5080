import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  binomial,
  blockBounds,
  probabilityOfBacktestOverfitting,
  sampleCombinations,
} from "../../src/loop/stats/backtest-overfitting.ts";
import { parseReturnsCsv } from "../../src/loop/stats/returns-csv.ts";
import { SeededRandom } from "../../src/loop/stats/seeded-random.ts";
import { StatsError } from "../../src/loop/stats/stats-error.ts";

interface CscvReference {
  blocks: number;
  maxSplits: number;
  seed: number;
  sampled: boolean;
  splits: number;
  possibleSplits: number;
  pbo: number;
  probabilityOfLoss: number;
  slope: number;
  intercept: number;
  rSquared: number;
  lambdas: number[];
  selectedTrials: number[];
  isSharpe: number[];
  oosSharpe: number[];
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/stats/${name}`, import.meta.url), "utf8");
const reference = JSON.parse(fixture("reference.json")) as { cscv: CscvReference[] };
const table = parseReturnsCsv(fixture("trials.csv"));
const TOL = 1e-6;

function gaussian(rng: SeededRandom): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function noiseTrials(rng: SeededRandom, trials: number, observations: number): Float64Array[] {
  return Array.from({ length: trials }, () =>
    Float64Array.from({ length: observations }, () => 0.01 * gaussian(rng)),
  );
}

describe("CSCV against the numpy/scipy reference", () => {
  it("covers full enumeration (S = 8, 10) and a seeded sample (S = 12, 100 of 924 splits)", () => {
    expect(reference.cscv.map((c) => [c.blocks, c.sampled])).toEqual([
      [8, false],
      [10, false],
      [12, true],
    ]);
  });

  for (const ref of reference.cscv) {
    it(`S = ${ref.blocks}: PBO, P(OOS loss), degradation and every λ match within 1e-6`, () => {
      const result = probabilityOfBacktestOverfitting(table.columns, {
        blocks: ref.blocks,
        maxSplits: ref.maxSplits,
        seed: ref.seed,
      });
      expect(result.sampled).toBe(ref.sampled);
      expect(result.splits).toBe(ref.splits);
      expect(result.possibleSplits).toBe(ref.possibleSplits);
      expect(result.selectedTrials).toEqual(ref.selectedTrials);
      expect(Math.abs(result.pbo - ref.pbo)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(result.probabilityOfLoss - ref.probabilityOfLoss)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(result.degradation.slope - ref.slope)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(result.degradation.intercept - ref.intercept)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(result.degradation.rSquared - ref.rSquared)).toBeLessThanOrEqual(TOL);
      ref.lambdas.forEach((lambda, i) => {
        expect(Math.abs((result.lambdas[i] as number) - lambda), `λ[${i}]`).toBeLessThanOrEqual(TOL);
        expect(Math.abs((result.isSharpe[i] as number) - (ref.isSharpe[i] as number))).toBeLessThanOrEqual(
          TOL,
        );
        expect(Math.abs((result.oosSharpe[i] as number) - (ref.oosSharpe[i] as number))).toBeLessThanOrEqual(
          TOL,
        );
      });
    });
  }
});

describe("CSCV properties", () => {
  it("PBO of pure-noise trials is about 0.5 on average", () => {
    const rng = new SeededRandom(2024);
    const pbos: number[] = [];
    for (let dataset = 0; dataset < 24; dataset++) {
      pbos.push(probabilityOfBacktestOverfitting(noiseTrials(rng, 20, 400), { blocks: 10 }).pbo);
    }
    const average = pbos.reduce((a, b) => a + b, 0) / pbos.length;
    expect(average).toBeGreaterThan(0.4);
    expect(average).toBeLessThan(0.6);
  });

  it("PBO is near 0 when one trial has a real edge in every block", () => {
    const rng = new SeededRandom(99);
    const trials = noiseTrials(rng, 20, 800);
    const edge = trials[7] as Float64Array;
    for (let t = 0; t < edge.length; t++) edge[t] = (edge[t] as number) + 0.006; // 0.6σ per period
    const result = probabilityOfBacktestOverfitting(trials, { blocks: 16 });
    expect(result.pbo).toBeLessThan(0.02);
    expect(result.probabilityOfLoss).toBeLessThan(0.02);
    expect(result.selectedTrials.every((j) => j === 7)).toBe(true);
  });

  it("samples a seeded subset when C(S, S/2) exceeds the cap, reproducibly", () => {
    const rng = new SeededRandom(1);
    const trials = noiseTrials(rng, 8, 320);
    const a = probabilityOfBacktestOverfitting(trials, { blocks: 16, maxSplits: 300, seed: 42 });
    const b = probabilityOfBacktestOverfitting(trials, { blocks: 16, maxSplits: 300, seed: 42 });
    const c = probabilityOfBacktestOverfitting(trials, { blocks: 16, maxSplits: 300, seed: 43 });
    expect(a.sampled).toBe(true);
    expect(a.possibleSplits).toBe(12870);
    expect(a.splits).toBe(300);
    expect(a.lambdas).toEqual(b.lambdas);
    expect(a.lambdas).not.toEqual(c.lambdas);
    const full = probabilityOfBacktestOverfitting(trials, { blocks: 16, maxSplits: 20000 });
    expect(full.sampled).toBe(false);
    expect(full.splits).toBe(12870);
    // A 300-split sample estimates the full PBO (standard error ≤ 0.03).
    expect(Math.abs(a.pbo - full.pbo)).toBeLessThan(0.1);
  });

  it("sampled splits are distinct, sorted, half the blocks each", () => {
    const combos = sampleCombinations(16, 8, 500, 7);
    expect(new Set(combos.map((c) => c.join(","))).size).toBe(500);
    for (const c of combos) {
      expect(c).toHaveLength(8);
      expect([...c].sort((x, y) => x - y)).toEqual(c);
      expect(c.every((b) => b >= 0 && b < 16)).toBe(true);
    }
  });

  it("blocks partition every row, sizes differing by at most one", () => {
    const bounds = blockBounds(1003, 16);
    expect(bounds[0]).toBe(0);
    expect(bounds[16]).toBe(1003);
    const sizes = bounds.slice(1).map((b, i) => b - (bounds[i] as number));
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(binomial(16, 8)).toBe(12870);
    expect(binomial(30, 15)).toBe(155117520);
  });

  it("refuses inputs CSCV cannot use, naming the problem", () => {
    const rng = new SeededRandom(5);
    const trials = noiseTrials(rng, 4, 100);
    expect(() => probabilityOfBacktestOverfitting(trials, { blocks: 7 })).toThrow(/even number of blocks/);
    expect(() => probabilityOfBacktestOverfitting(trials, { blocks: 32 })).toThrow(StatsError);
    expect(() => probabilityOfBacktestOverfitting(trials, { blocks: 16, maxSplits: 0 })).toThrow(/splits/);
    expect(() => probabilityOfBacktestOverfitting(trials.slice(0, 1), { blocks: 4 })).toThrow(
      /at least 2 trials/,
    );
    expect(() => probabilityOfBacktestOverfitting(trials, { blocks: 60 })).toThrow(StatsError);
    expect(() =>
      probabilityOfBacktestOverfitting(
        trials.map((t) => t.subarray(0, 20)),
        { blocks: 16 },
      ),
    ).toThrow(/too few/);
    expect(() =>
      probabilityOfBacktestOverfitting([trials[0] as Float64Array, (trials[1] as Float64Array).subarray(1)]),
    ).toThrow(/same number of observations/);
  });

  it("runs 5000 sampled splits over 200 trials × 10 000 periods within seconds", () => {
    const rng = new SeededRandom(8);
    // Uniform noise: generating Gaussians would cost more than the CSCV being timed.
    const trials = Array.from({ length: 200 }, () =>
      Float64Array.from({ length: 10_000 }, () => rng.next() - 0.5),
    );
    const start = performance.now();
    const result = probabilityOfBacktestOverfitting(trials, { blocks: 16 });
    const elapsed = performance.now() - start;
    expect(result.splits).toBe(5000);
    expect(elapsed).toBeLessThan(5000);
  });
});

describe("returns CSV", () => {
  it("parses a header of trial names and one row per period", () => {
    const parsed = parseReturnsCsv('"ema cross",rsi\r\n0.01,-0.02\n\n-1e-3, 0.5\n');
    expect(parsed.names).toEqual(["ema cross", "rsi"]);
    expect(Array.from(parsed.columns[0] as Float64Array)).toEqual([0.01, -0.001]);
    expect(Array.from(parsed.columns[1] as Float64Array)).toEqual([-0.02, 0.5]);
  });

  it("names the line and column of a bad or missing value", () => {
    expect(() => parseReturnsCsv("a,b\n0.1,0.2\n0.3,abc\n")).toThrow(/line 3, column "b"/);
    expect(() => parseReturnsCsv("a,b\n0.1,\n")).toThrow(/line 2/);
    expect(() => parseReturnsCsv("a,b\n0.1,0.2,0.3\n")).toThrow(/3 values, the header names 2/);
    expect(() => parseReturnsCsv("\n\n")).toThrow(/empty/);
    expect(() => parseReturnsCsv("a,,c\n1,2,3")).toThrow(/column 2 has no trial name/);
  });
});
