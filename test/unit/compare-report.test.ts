import { describe, expect, it } from "vitest";
import {
  type ComparisonMeta,
  chartConfig,
  checkpoints,
  finalCorrelation,
  median,
  type RunFigures,
  renderReport,
  sparkline,
  summarise,
} from "../../src/loop/compare-report.ts";
import type { DailySeries } from "../../src/loop/ledger.ts";

const DAY = 86_400_000;
const DAY0 = Date.UTC(2020, 0, 1);

function series(values: readonly number[], firstDay = DAY0): DailySeries {
  return { firstDay, returns: Float64Array.from(values) };
}

/** A deterministic wiggle so two series have a known, non-trivial correlation. */
function wave(n: number, phase: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + phase) * 0.01);
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

function run(p: Partial<RunFigures> & Pick<RunFigures, "driver" | "seed">): RunFigures {
  return {
    runId: `r-${p.driver}-${p.seed}`,
    iterations: 4,
    backtests: 4,
    bestDistanceByBacktest: [0.5, 0.4, 0.4, 0.3],
    backtestsToFirstPass: null,
    passes: [],
    bestDsr: null,
    families: [],
    final: null,
    crashed: 0,
    wallMs: 1000,
    ...p,
  };
}

const meta: ComparisonMeta = {
  drivers: ["heuristic", "random"],
  seeds: [1, 2, 3],
  budget: 4,
  dataset: "BTCUSDT:1h",
  searchWindow: "2019-01-01 → 2024-01-01",
  holdoutWindow: "2024-01-01 → 2026-01-01",
  configHash: "abcdef0123456789",
  gates: { sharpe_min: 1, dsr_min: 0.95 },
  ledgerBefore: 7,
  ledgerAfter: 31,
  wallMs: 65_000,
  command: "alphaloop compare --drivers heuristic,random --budget 4 --seeds 3",
};

describe("median", () => {
  it("odd, even, empty", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5);
    expect(median([])).toBeNull();
  });
});

describe("finalCorrelation", () => {
  it("is the mean of the pairwise Pearson correlations over the shared days", () => {
    const a = wave(60, 0);
    const b = wave(60, 0.9);
    const c = wave(60, 2.1);
    const r = finalCorrelation([series(a), series(b), series(c)]);
    const expected = (pearson(a, b) + pearson(a, c) + pearson(b, c)) / 3;
    expect(r.used).toBe(3);
    expect(r.value).toBeCloseTo(expected, 10);
  });

  it("aligns series that start on different days", () => {
    const long = wave(80, 0);
    // The same returns as `long` from its 10th day on: perfectly correlated where they overlap.
    const late = series(long.slice(10), DAY0 + 10 * DAY);
    const r = finalCorrelation([series(long), late]);
    expect(r.value).toBeCloseTo(1, 6);
  });

  it("gives no figure for one series, too little overlap, or flat returns", () => {
    expect(finalCorrelation([series(wave(60, 0))]).value).toBeNull();
    expect(finalCorrelation([series(wave(30, 0)), series(wave(30, 1), DAY0 + 25 * DAY)]).value).toBeNull();
    expect(finalCorrelation([series(wave(60, 0)), series(new Array(60).fill(0))]).value).toBeNull();
  });
});

describe("summarise", () => {
  const a = wave(60, 0);
  const b = wave(60, 1.3);
  const runs: RunFigures[] = [
    run({
      driver: "heuristic",
      seed: 1,
      backtestsToFirstPass: 3,
      bestDsr: 0.97,
      bestDistanceByBacktest: [0.6, 0.2, 0, 0],
      families: ["trend", "breakout"],
      passes: [
        {
          iteration: 3,
          name: "ema-cross",
          family: "trend",
          dsr: 0.97,
          holdout: { ok: true, sharpe: 1.234, totalReturn: 0.4567, maxDrawdown: 0.12, peeks: 1 },
        },
      ],
      final: { iteration: 3, name: "ema-cross", family: "trend", distance: 0, daily: series(a), endDsr: 0.4 },
    }),
    run({
      driver: "heuristic",
      seed: 2,
      backtestsToFirstPass: null,
      bestDsr: 0.5,
      bestDistanceByBacktest: [null, 0.8, 0.4, 0.4],
      families: ["trend"],
      final: {
        iteration: 3,
        name: "donchian",
        family: "breakout",
        distance: 0.4,
        daily: series(b),
        endDsr: 0.2,
      },
      crashed: 1,
    }),
    run({
      driver: "heuristic",
      seed: 3,
      backtestsToFirstPass: 1,
      bestDsr: 0.99,
      bestDistanceByBacktest: [0, 0, 0, 0],
      families: ["mean-reversion"],
      passes: [
        {
          iteration: 1,
          name: "rsi",
          family: "mean-reversion",
          dsr: 0.99,
          holdout: { ok: false, error: "no trades", peeks: 2 },
        },
      ],
      final: { iteration: 1, name: "rsi", family: "mean-reversion", distance: 0, daily: null, endDsr: null },
    }),
    run({ driver: "random", seed: 1, bestDistanceByBacktest: [0.9, 0.9, 0.7, 0.7], bestDsr: 0.1 }),
    run({ driver: "random", seed: 2, bestDistanceByBacktest: [0.5, 0.5, 0.5, 0.5], bestDsr: null }),
    run({ driver: "random", seed: 3, bestDistanceByBacktest: [0.7, 0.3, 0.3, 0.3], bestDsr: 0.3 }),
  ];
  const c = summarise(meta, runs);
  const [h, r] = c.drivers;

  it("per-driver figures", () => {
    expect(h?.driver).toBe("heuristic");
    expect(h?.seeds).toBe(3);
    expect(h?.runsWithPass).toBe(2);
    expect(h?.medianBacktestsToFirstPass).toBe(2); // median of 3 and 1
    expect(h?.bestDsr).toBe(0.99);
    expect(h?.passes.map((p) => [p.seed, p.iteration])).toEqual([
      [1, 3],
      [3, 1],
    ]);
    expect(h?.families).toEqual(["breakout", "mean-reversion", "trend"]);
    expect(h?.crashed).toBe(1);
    expect(h?.backtests).toBe(12);
    // Only seeds 1 and 2 have daily returns for their final candidate.
    expect(h?.correlated).toBe(2);
    expect(h?.finalCorrelation).toBeCloseTo(pearson(a, b), 10);
    expect(h?.medianBestDistance).toBe(0);
    expect(h?.medianEndDsr).toBeCloseTo(0.3, 12); // median of 0.4 and 0.2; seed 3 has none
    expect(r?.medianEndDsr).toBeNull();
    // Seed 3's holdout failed, so only seed 1's counts.
    expect([h?.holdoutPositive, h?.holdoutEvaluated, h?.medianHoldoutSharpe]).toEqual([1, 1, 1.234]);
    expect(r?.runsWithPass).toBe(0);
    expect(r?.medianBacktestsToFirstPass).toBeNull();
    expect(r?.bestDsr).toBe(0.3);
    expect(r?.finalCorrelation).toBeNull();
  });

  it("the curve is the median over seeds at each backtest, skipping seeds with no result yet", () => {
    expect(h?.curve).toEqual([0.3, 0.2, 0, 0]);
    expect(r?.curve).toEqual([0.7, 0.5, 0.5, 0.5]);
  });

  it("renders the summary table, the holdout rows, the curve and the reproduce line", () => {
    const md = renderReport(c);
    const lines = md.split("\n");
    const header = lines.findIndex((l) => l.startsWith("| driver | runs with a full pass"));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(/^\|(---\|)+$/);
    expect(lines[header + 2]).toBe(
      `| heuristic | 2/3 | 2 | 0.99 | 0.30 | 2 | 1/1 / 1.23 | 3 (breakout, mean-reversion, trend) | ${pearson(a, b).toFixed(2)} (n=2) | 0.000 | 1/12 |`,
    );
    expect(lines[header + 3]).toBe(
      "| random | 0/3 | — | 0.30 | — | 0 | — | 0 (—) | — (0 usable) | 0.500 | 0/12 |",
    );
    expect(md).toContain(
      "| heuristic | 1 | #3 ema-cross | trend | 0.97 | sharpe 1.23, return 45.7%, max DD 12.0% (peek 1) |",
    );
    expect(md).toContain("| heuristic | 3 | #1 rsi | mean-reversion | 0.99 | failed: no trades (peek 2) |");
    expect(md).toContain("Reproduce: `alphaloop compare --drivers heuristic,random --budget 4 --seeds 3`");
    expect(md).toContain("Independent trials on this window: 7 before, 31 after.");
    expect(md).toContain("| 4 | 0.000 | 0.500 |");
    expect(md).toMatch(/^heuristic ▄▃▁▁ {2}0\.000$/m);
    expect(md).toMatch(/^random {4}█▆▆▆ {2}0\.500$/m);
  });

  it("says so when nothing passed", () => {
    const none = summarise(
      meta,
      runs.filter((x) => x.driver === "random"),
    );
    expect(renderReport(none)).toContain("No candidate passed every gate");
  });

  it("chart config: one dataset per driver, the median curve as data", () => {
    const cfg = chartConfig(c) as {
      type: string;
      data: { labels: number[]; datasets: { label: string; data: unknown[] }[] };
    };
    expect(cfg.type).toBe("line");
    expect(cfg.data.labels).toEqual([1, 2, 3, 4]);
    expect(cfg.data.datasets.map((d) => d.label)).toEqual(["heuristic", "random"]);
    expect(cfg.data.datasets[1]?.data).toEqual([0.7, 0.5, 0.5, 0.5]);
    expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg);
  });
});

describe("sparkline and checkpoints", () => {
  it("maps 0 to the lowest block and the top to the highest, blank before any result", () => {
    expect(sparkline([null, 1, 0.5, 0], 4, 1)).toBe(" █▅▁");
  });

  it("buckets a long curve into the width, taking each bucket's last value", () => {
    const curve = Array.from({ length: 100 }, (_, i) => 1 - i / 99);
    const s = sparkline(curve, 10, 1);
    expect(s).toHaveLength(10);
    expect(s.at(-1)).toBe("▁");
    expect(s[0]).toBe("▇");
  });

  it("checkpoints end at the budget and never repeat", () => {
    expect(checkpoints(40)).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    expect(checkpoints(3)).toEqual([1, 2, 3]);
  });
});
