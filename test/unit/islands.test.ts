import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IterationSummary } from "../../src/domain/run.ts";
import { loadRunConfig, RunConfigError } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import {
  bestOf,
  betterMigrant,
  islandHistory,
  islandOf,
  islandSeed,
  islandSettings,
  lastMigration,
  migrantsFor,
  runSeedOf,
  triedElsewhere,
} from "../../src/loop/islands.ts";

function it_(
  n: number,
  status: IterationSummary["status"],
  distance: number | null,
  sharpe = 0.5,
  configYaml: string | null = `strategy: s${n}\n`,
): IterationSummary {
  return {
    n,
    name: `s${n}`,
    family: "trend",
    hypothesis: null,
    status,
    metrics: status === "crashed" || status === "model_error" ? null : { sharpe },
    reasons: status === "passed" ? [] : ["sharpe 0.1 < 1.00"],
    distance,
    decision: "tune",
    nextHypothesis: null,
    configYaml,
  };
}

const defaults = readFileSync(DEFAULT_CONFIG_PATH, "utf8");

describe("island keys in the run config", () => {
  it("default to one island migrating every 10 iterations", () => {
    const c = loadRunConfig(defaults);
    expect(c.loop.islands).toBe(1);
    expect(c.loop.migrate_every).toBe(10);
    expect(islandSettings(c.loop)).toEqual({ islands: 1, migrateEvery: 10 });
  });

  it("a run stored before islands existed is one island", () => {
    expect(islandSettings({})).toEqual({ islands: 1, migrateEvery: 10 });
  });

  it.each([
    ["islands: 0", /loop\.islands: at least 1 island/],
    ["islands: 17", /loop\.islands: at most 16 islands/],
    ["islands: 2.5", /loop\.islands/],
    ["migrate_every: 0", /loop\.migrate_every: migrate every 1 or more iterations/],
    [
      "islands: 4\nbudgets: { max_iterations: 3 }",
      /loop\.islands \(4\) exceeds budgets\.max_iterations \(3\)/,
    ],
    ["island: 2", /loop\.island: unknown key; did you mean islands\?/],
  ])("rejects loop.%s with a clear error", (line, message) => {
    const bad = () => loadRunConfig(defaults, [{ text: `loop:\n  ${line}\n`, source: "f.yaml" }]);
    expect(bad).toThrow(RunConfigError);
    expect(bad).toThrow(message);
  });
});

describe("island scheduling", () => {
  it("islands take turns: iteration n belongs to island (n − 1) mod N", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => islandOf(n, 3))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect([1, 2, 3].map((n) => islandOf(n, 1))).toEqual([0, 0, 0]);
    expect(() => islandOf(0, 2)).toThrow(/start at 1/);
  });

  it("island 0 keeps the run seed; the others are offset by their index", () => {
    expect([0, 1, 2].map((i) => islandSeed(7, i))).toEqual([7, 8, 9]);
    expect([0, 1, 2].map((i) => runSeedOf(islandSeed(7, i), i))).toEqual([7, 7, 7]);
  });

  it("an island's history is exactly its own iterations, in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 60 }), (islands, len) => {
        const history = Array.from({ length: len }, (_, i) => ({ n: i + 1 }));
        const parts = Array.from({ length: islands }, (_, k) => islandHistory(history, k, islands));
        // Every iteration lands on exactly one island, and each island's share is in order.
        expect(parts.flat().length).toBe(len);
        parts.forEach((p, k) => {
          for (const h of p) expect(islandOf(h.n, islands)).toBe(k);
          expect(p.map((h) => h.n)).toEqual([...p.map((h) => h.n)].sort((a, b) => a - b));
        });
      }),
    );
  });

  it("migration points are M, 2M, …: the last one before n", () => {
    expect([1, 10, 11, 20, 21, 35].map((n) => lastMigration(n, 10))).toEqual([0, 0, 10, 10, 20, 30]);
    expect([1, 2, 3].map((n) => lastMigration(n, 1))).toEqual([0, 1, 2]);
  });
});

describe("migrants", () => {
  it("the best of an island: passes by Sharpe, then the smallest distance; crashes never", () => {
    expect(bestOf([it_(1, "discarded", 0.3), it_(2, "discarded", 0.1), it_(3, "crashed", 1)])?.n).toBe(2);
    expect(bestOf([it_(1, "discarded", 0.01), it_(2, "passed", 0, 1.2), it_(3, "passed", 0, 1.5)])?.n).toBe(
      3,
    );
    expect(bestOf([it_(1, "crashed", 1), it_(2, "model_error", null)])).toBeUndefined();
    // Without a config there is nothing another island could start from.
    expect(bestOf([it_(1, "discarded", 0.1, 0.5, null)])).toBeUndefined();
  });

  it("none before the first migration, nor with one island", () => {
    const h = Array.from({ length: 9 }, (_, i) => it_(i + 1, "discarded", 0.5 - i * 0.01));
    expect(migrantsFor(h, 10, { islands: 2, migrateEvery: 10 })).toEqual([]);
    const h20 = Array.from({ length: 20 }, (_, i) => it_(i + 1, "discarded", 0.5));
    expect(migrantsFor(h20, 21, { islands: 1, migrateEvery: 10 })).toEqual([]);
  });

  it("after M iterations each island receives every other island's best up to the migration", () => {
    // 3 islands; distances make island 0's best #4, island 1's #2, island 2's #6 (by iteration 6).
    const d: Record<number, number> = { 1: 0.5, 2: 0.2, 3: 0.4, 4: 0.1, 5: 0.3, 6: 0.05, 7: 0.01 };
    const h = Object.entries(d).map(([n, x]) => it_(Number(n), "discarded", x));
    const s = { islands: 3, migrateEvery: 6 };
    // Iteration 7 is island 0's: it gets islands 1 and 2; #7 (after the migration) is not counted.
    expect(migrantsFor(h, 7, s).map((m) => [m.island, m.iteration.n])).toEqual([
      [1, 2],
      [2, 6],
    ]);
    expect(migrantsFor(h, 8, s).map((m) => [m.island, m.iteration.n])).toEqual([
      [0, 4],
      [2, 6],
    ]);
    // Until the next migration (after #12) the migrants stay the same, even if #7 is better.
    expect(migrantsFor(h, 11, s)).toEqual(migrantsFor(h, 8, s));
  });

  it("the configs tried elsewhere are the other islands', never the island's own", () => {
    const h = [1, 2, 3, 4, 5].map((n) => it_(n, "discarded", 0.5));
    expect(triedElsewhere(h, 0, 2)).toEqual(["strategy: s2\n", "strategy: s4\n"]);
    expect(triedElsewhere(h, 1, 3)).toEqual(["strategy: s1\n", "strategy: s3\n", "strategy: s4\n"]);
    expect(triedElsewhere(h, 0, 1)).toEqual([]);
  });

  it("a migrant is adopted only when it beats the island's own best", () => {
    const own = [it_(1, "discarded", 0.2)];
    const worse = { island: 1, iteration: it_(2, "discarded", 0.3) };
    const better = { island: 2, iteration: it_(3, "discarded", 0.1) };
    expect(betterMigrant(own, [worse])).toBeUndefined();
    expect(betterMigrant(own, [worse, better])?.island).toBe(2);
    expect(betterMigrant([], [worse])?.island).toBe(1);
    expect(betterMigrant(own, [])).toBeUndefined();
  });
});
