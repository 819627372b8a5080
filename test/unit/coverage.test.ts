import { describe, expect, it } from "vitest";
import type { IterationSummary } from "../../src/domain/run.ts";
import {
  configTimeframe,
  coverageOf,
  coverageTimeframes,
  formatCoverage,
  libraryFamilies,
  turnoverBucket,
} from "../../src/loop/coverage.ts";

function it_(
  n: number,
  family: string | null,
  configYaml: string | null,
  turnover: number | undefined,
  distance: number | null,
): IterationSummary {
  return {
    n,
    name: `s${n}`,
    family,
    hypothesis: null,
    status: distance === null ? "crashed" : "discarded",
    metrics: turnover === undefined ? null : { sharpe: 0.5, turnover },
    reasons: [],
    distance,
    decision: "tune",
    nextHypothesis: null,
    configYaml,
  };
}

const cfg = (tf: string) => `strategy: x\ntimeframe: ${tf}\nparams: {}\n`;

describe("coverage map", () => {
  it("buckets turnover per year at 20 and 200", () => {
    expect(turnoverBucket(5)).toBe("low");
    expect(turnoverBucket(19.99)).toBe("low");
    expect(turnoverBucket(20)).toBe("mid");
    expect(turnoverBucket(200)).toBe("mid");
    expect(turnoverBucket(201)).toBe("high");
    expect(turnoverBucket(undefined)).toBe("n/a");
    expect(turnoverBucket(Number.NaN)).toBe("n/a");
  });

  it("reads the timeframe from a config and spells equal durations the same way", () => {
    expect(configTimeframe(cfg("4h"))).toBe("4h");
    expect(configTimeframe(cfg("240m"))).toBe("4h");
    expect(configTimeframe(cfg("1440m"))).toBe("1d");
    expect(configTimeframe("strategy: x\n")).toBeNull();
    expect(configTimeframe("timeframe: [broken")).toBeNull();
    expect(configTimeframe(null)).toBeNull();
  });

  it("counts tries per family × timeframe × turnover cell and keeps the best gate distance", () => {
    const history = [
      it_(1, "trend", cfg("1h"), 50, 0.9),
      it_(2, "trend", cfg("1h"), 120, 0.4),
      it_(3, "trend", cfg("60m"), 80, 0.6),
      it_(4, "trend", cfg("4h"), 10, 0.7),
      it_(5, "breakout", "strategy: b\n", 300, 1.2), // no timeframe: filed under the base
      it_(6, "breakout", cfg("1h"), undefined, null), // crashed: counted, no distance
      it_(7, null, null, undefined, null), // never backtested: looked nowhere
      it_(8, "trend", cfg("1h"), 150, 0.4), // ties the best: the first one stays
    ];
    const map = coverageOf(history, { baseTimeframe: "1h" });
    const cell = (f: string, tf: string, t: string) =>
      map.cells.find((c) => c.family === f && c.timeframe === tf && c.turnover === t);
    expect(map.cells).toHaveLength(4);
    expect(cell("trend", "1h", "mid")).toMatchObject({ tries: 4, bestDistance: 0.4, bestIteration: 2 });
    expect(cell("trend", "4h", "low")).toMatchObject({ tries: 1, bestDistance: 0.7, bestIteration: 4 });
    expect(cell("breakout", "1h", "high")).toMatchObject({ tries: 1, bestDistance: 1.2, bestIteration: 5 });
    expect(cell("breakout", "1h", "n/a")).toMatchObject({
      tries: 1,
      bestDistance: null,
      bestIteration: null,
    });
  });

  it("lists the tried cells and names every untried family × timeframe pair", () => {
    const map = coverageOf(
      [
        it_(1, "trend", cfg("1h"), 50, 0.9),
        it_(2, "trend", cfg("4h"), 10, 0.3),
        it_(3, "range", cfg("1d"), 5, 2),
      ],
      { baseTimeframe: "1h" },
    );
    const text = formatCoverage(map, {
      families: ["trend", "breakout", "range"],
      timeframes: coverageTimeframes("1h"),
    });
    expect(text).toContain("trend · 1h · mid | 1 | 0.90 (iteration 1)");
    expect(text).toContain("trend · 4h · low | 1 | 0.30 (iteration 2)");
    expect(text).toContain("range · 1d · low | 1 | 2.00 (iteration 3)");
    const untried = text.split("\n").find((l) => l.startsWith("untried:"));
    expect(untried).toBe("untried: trend·1d, breakout·1h, breakout·4h, breakout·1d, range·1h, range·4h");
    // Library order first: trend rows before range rows.
    expect(text.indexOf("trend · 1h")).toBeLessThan(text.indexOf("range · 1d"));
  });

  it("says nothing was tried on an empty history, and nothing is untried once all pairs are", () => {
    const empty = formatCoverage(coverageOf([], { baseTimeframe: "1h" }), {
      families: ["trend"],
      timeframes: ["1h", "4h"],
    });
    expect(empty).toBe("Nothing tried yet.\nuntried: trend·1h, trend·4h");
    const full = formatCoverage(
      coverageOf([it_(1, "trend", cfg("1h"), 1, 1), it_(2, "trend", cfg("4h"), 1, 1)], {
        baseTimeframe: "1h",
      }),
      { families: ["trend"], timeframes: ["1h", "240m"] },
    );
    expect(full).toContain("none of the library's family × timeframe pairs is left untried");
  });

  it("derives the timeframes to show from the base, and the families from the library sources", () => {
    expect(coverageTimeframes("1h")).toEqual(["1h", "4h", "1d"]);
    expect(coverageTimeframes("6h")).toEqual(["6h", "1d"]);
    expect(coverageTimeframes("1d")).toEqual(["1d", "4d"]);
    expect(
      libraryFamilies([
        'defineStrategy({ name: "a", family: "trend", })',
        "family: 'breakout'",
        'family: "trend"',
        "no family here",
      ]),
    ).toEqual(["trend", "breakout"]);
  });
});
