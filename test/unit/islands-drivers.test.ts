import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import type { IterationSummary } from "../../src/domain/run.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { briefVariant, buildPrompt, formatMigrants, MIGRANTS_HEADING } from "../../src/llm/prompt.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type DriverContext, driverView } from "../../src/loop/driver.ts";
import { breed, parentPool } from "../../src/loop/drivers/ga.ts";
import { type Genome, genomeFromYaml, genomeYaml, shippedGenome } from "../../src/loop/drivers/genome.ts";
import { HeuristicDriver } from "../../src/loop/drivers/heuristic.ts";
import { MIGRANT_DRAW_RATE, randomDraw } from "../../src/loop/drivers/random.ts";
import type { Migrant } from "../../src/loop/islands.ts";
import { type Library, type LibraryEntry, loadLibrary } from "../../src/loop/library.ts";

const runConfig = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
const config = driverView(runConfig);

function scored(n: number, g: Genome, status: IterationSummary["status"], distance: number, sharpe = 0.5) {
  return {
    n,
    name: g.strategy,
    family: null,
    hypothesis: "h",
    status,
    metrics: { sharpe },
    reasons: status === "passed" ? [] : ["sharpe 0.1 < 1.00"],
    distance,
    decision: "new_approach",
    nextHypothesis: null,
    configYaml: genomeYaml(g),
  } satisfies IterationSummary;
}

function context(history: IterationSummary[], migrants: Migrant[], iteration: number): DriverContext {
  return {
    runId: "r",
    iteration,
    brief: "",
    config,
    seed: 2,
    history,
    island: 1,
    islands: 2,
    migrants,
    nudges: [],
    signal: new AbortController().signal,
    evaluate: () => Promise.reject(new Error("not used")),
  };
}

describe("drivers on an island", () => {
  const sandbox = new Sandbox();
  let library: Library;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(() => sandbox.dispose());
  const entry = (name: string) => library.find((e) => e.name === name) as LibraryEntry;

  it("ga: migrants join the parent pool with the fitness their island measured", () => {
    const P = 2;
    const own = [
      scored(2, shippedGenome(entry("ema-cross"), "1h"), "discarded", 0.4),
      scored(4, shippedGenome(entry("supertrend-follow"), "1h"), "discarded", 0.5),
    ];
    const migrant: Migrant = {
      island: 0,
      iteration: scored(3, shippedGenome(entry("donchian-breakout"), "1h"), "passed", 0, 1.4),
    };
    const without = parentPool(own, library, 1, { populationSize: P });
    const withM = parentPool(own, library, 1, { populationSize: P }, [migrant]);
    expect(without.map((x) => x.n)).toEqual([2, 4]);
    // The passing migrant ranks first and is marked as not this island's own (negative index).
    expect(withM.map((x) => x.n)).toEqual([3, 2, 4]);
    expect(withM[0]?.index).toBeLessThan(0);
    // Bred with the migrant in the pool, the children differ from those bred without it, and
    // never repeat the migrant's own config.
    const kids = (m: Migrant[]) =>
      Array.from({ length: 6 }, (_, k) => {
        const h = [...own, ...Array.from({ length: k }, (_, j) => own[j % 2] as IterationSummary)];
        return breed(h.slice(0, 2 + (k % 2)), library, 5, "1h", { populationSize: P }, { migrants: m });
      });
    const a = kids([migrant]);
    expect(a.map((o) => genomeYaml(o.genome))).not.toContain(migrant.iteration.configYaml);
    expect(a.some((o) => o.entry.name === "donchian-breakout")).toBe(true);
    expect(a.some((o) => o.hypothesis.includes("(migrant)"))).toBe(true);
  });

  it("heuristic: moving on, it tunes from a migrant that beats its own best, once", async () => {
    const driver = new HeuristicDriver(library);
    // The island's only strategy so far has no edge: the heuristic moves on.
    const first = await driver.propose(context([], [], 2));
    const g = genomeFromYaml(library, first.candidate?.configYaml) as Genome;
    const own = [{ ...scored(2, g, "discarded", 0.6), reasons: ["sharpe -0.20 < 1.00"], decision: null }];
    const other = entry(g.strategy === "supertrend-follow" ? "ema-cross" : "supertrend-follow");
    const migrant: Migrant = {
      island: 0,
      iteration: scored(3, shippedGenome(other, "1h"), "discarded", 0.1),
    };
    const next = await driver.propose(context(own, [migrant], 4));
    expect(next.hypothesis).toContain("island 0's best (#3)");
    expect(next.candidate?.name).toBe(other.name);
    expect(next.candidate?.configYaml).not.toBe(migrant.iteration.configYaml);
    // Without migrants the same history moves on to a library strategy instead.
    const alone = await driver.propose(context(own, [], 4));
    expect(alone.hypothesis).not.toContain("island");
    // Once adopted (its tag is in the island's history), the same migrant is not adopted again.
    const adopted = [
      ...own,
      {
        ...scored(4, genomeFromYaml(library, next.candidate?.configYaml) as Genome, "discarded", 0.7),
        reasons: ["sharpe -0.30 < 1.00"],
        hypothesis: next.hypothesis ?? null,
        decision: null,
      },
    ];
    const after = await driver.propose(context(adopted, [migrant], 6));
    expect(after.hypothesis).not.toContain("island 0's best (#3)");
  });

  it("ga and heuristic never rerun a config another island ran: the shipped one becomes a variant", async () => {
    const first = breed([], library, 5, "1h");
    const taken = genomeYaml(first.genome);
    const again = breed([], library, 5, "1h", {}, { elsewhere: new Set([taken]) });
    expect(again.entry.name).toBe(first.entry.name);
    expect(genomeYaml(again.genome)).not.toBe(taken);
    expect(again.hypothesis).toContain("with random params");

    const driver = new HeuristicDriver(library);
    const plain = await driver.propose(context([], [], 2));
    expect(plain.hypothesis).toContain("as shipped");
    const ctx = { ...context([], [], 2), triedElsewhere: [plain.candidate?.configYaml as string] };
    const near = await driver.propose(ctx);
    expect(near.candidate?.name).toBe(plain.candidate?.name);
    expect(near.candidate?.configYaml).not.toBe(plain.candidate?.configYaml);
    expect(near.hypothesis).toContain("another island ran it as shipped");
  });

  it("heuristic: moving on, it prefers a strategy no other island is working on", async () => {
    const driver = new HeuristicDriver(library);
    const first = await driver.propose(context([], [], 2));
    const g = genomeFromYaml(library, first.candidate?.configYaml) as Genome;
    const own = [{ ...scored(2, g, "discarded", 0.6), reasons: ["sharpe -0.20 < 1.00"], decision: null }];
    const alone = await driver.propose(context(own, [], 4));
    const next = alone.candidate?.name as string;
    const busy = { ...context(own, [], 4), triedElsewhere: [genomeYaml(shippedGenome(entry(next), "1h"))] };
    const moved = await driver.propose(busy);
    expect(moved.candidate?.name).not.toBe(next);
    expect(moved.candidate?.name).not.toBe(g.strategy);
  });

  it("random: about a quarter of the draws mutate a migrant; the rest are unchanged by it", () => {
    const migrant: Migrant = {
      island: 0,
      iteration: scored(1, shippedGenome(entry("ema-cross"), "1h"), "discarded", 0.1),
    };
    let fromMigrant = 0;
    const N = 400;
    for (let n = 1; n <= N; n++) {
      const plain = randomDraw(library, 3, n, "1h");
      const d = randomDraw(library, 3, n, "1h", new Set(), undefined, [migrant]);
      if (d.from) {
        fromMigrant++;
        expect(d.entry.name).toBe("ema-cross");
        expect(genomeYaml(d.genome)).not.toBe(migrant.iteration.configYaml);
      } else expect(genomeYaml(d.genome)).toBe(genomeYaml(plain.genome));
    }
    expect(fromMigrant / N).toBeGreaterThan(MIGRANT_DRAW_RATE - 0.08);
    expect(fromMigrant / N).toBeLessThan(MIGRANT_DRAW_RATE + 0.08);
  });

  it("llm prompt: the island's section names the island and shows each migrant's config", () => {
    const m = scored(7, shippedGenome(entry("ema-cross"), "1h"), "passed", 0, 1.3);
    const text = formatMigrants([{ island: 2, ...m }]);
    expect(text).toContain("best from island 2: #7 ema-cross");
    expect(text).toContain("PASSED every gate");
    expect(text).toContain(m.configYaml.trim());
    const state = {
      runId: "r",
      iteration: 8,
      maxIterations: 50,
      brief: "b",
      dataset: { symbol: "BTCUSDT", timeframe: "1h" },
      search: { start: "2019-01-01", end: "2024-01-01" },
      walkForward: { folds: 4, scheme: "rolling" as const, warmupBars: 500 },
      costs: { feeBps: 10, slippageBps: 5 },
      gates: runConfig.gates,
    };
    const prompt = buildPrompt({
      state,
      history: "",
      nudges: [],
      island: { index: 1, of: 3, migrants: text },
    });
    expect(prompt.user).toContain(MIGRANTS_HEADING);
    expect(prompt.user).toContain("you work for island 1");
    expect(prompt.user).toContain("best from island 2");
    const plain = buildPrompt({
      state,
      history: "",
      nudges: [],
    });
    expect(plain.user).not.toContain(MIGRANTS_HEADING);
  });

  it("llm brief: the islands of one run never share an angle; island 0 keeps the run's", () => {
    const angle = (s: string) => s.split("\n").at(-1);
    for (const seed of [1, 2, 3, 9]) {
      expect(briefVariant("b", seed, 0)).toBe(briefVariant("b", seed));
      const angles = [0, 1, 2, 3].map((i) => angle(briefVariant("b", seed, i)));
      expect(new Set(angles).size).toBe(4);
    }
  });
});
