import { describe, expect, it } from "vitest";
import { planFolds } from "../../src/loop/folds.ts";

describe("walk-forward folds", () => {
  it("splits the bars after the warm-up into contiguous folds that cover them exactly", () => {
    const folds = planFolds(1100, { folds: 4, scheme: "rolling", warmupBars: 100 });
    expect(folds.map((f) => [f.start, f.end])).toEqual([
      [100, 350],
      [350, 600],
      [600, 850],
      [850, 1100],
    ]);
    expect(folds.map((f) => f.warmupStart)).toEqual([0, 250, 500, 750]);
  });

  it("anchored folds take their warm-up from the start of the search window", () => {
    const folds = planFolds(1100, { folds: 4, scheme: "anchored", warmupBars: 100 });
    expect(folds.every((f) => f.warmupStart === 0)).toBe(true);
    expect(folds[3]).toMatchObject({ start: 850, end: 1100 });
  });

  it("never reaches before the first bar or past the last", () => {
    for (const n of [50, 333, 1000, 43_801]) {
      const folds = planFolds(n, { folds: 5, scheme: "rolling", warmupBars: 500 });
      expect(folds[0]?.warmupStart).toBe(0);
      expect(folds.at(-1)?.end).toBe(n);
      for (const f of folds) expect(f.warmupStart).toBeGreaterThanOrEqual(0);
    }
  });

  it("refuses a window too short for the folds", () => {
    expect(() => planFolds(10, { folds: 8, scheme: "rolling", warmupBars: 5 })).toThrow(
      /too few for 8 folds/,
    );
  });
});
