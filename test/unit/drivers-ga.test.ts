import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../../src/backtest/strategy-config.ts";
import type { IterationSummary } from "../../src/domain/run.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type CandidateOutcome, type DriverContext, driverView } from "../../src/loop/driver.ts";
import {
  breed,
  compareFitness,
  crossover,
  fitnessOf,
  GaDriver,
  parentPool,
} from "../../src/loop/drivers/ga.ts";
import {
  type Genome,
  genomeFromYaml,
  genomeYaml,
  randomGenome,
  shippedGenome,
} from "../../src/loop/drivers/genome.ts";
import { type Library, type LibraryEntry, loadLibrary } from "../../src/loop/library.ts";
import { createRandom } from "../../src/market/prng.ts";

const config = driverView(loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8")));

function context(history: IterationSummary[], seed = 1): DriverContext {
  return {
    runId: "r",
    iteration: history.length + 1,
    brief: "",
    config,
    seed,
    history,
    nudges: [],
    signal: new AbortController().signal,
    evaluate: () => Promise.reject(new Error("not used")),
  };
}

function scored(
  n: number,
  g: Genome,
  status: IterationSummary["status"],
  distance: number,
  sharpe = 0.5,
): IterationSummary {
  return {
    n,
    name: g.strategy,
    family: null,
    hypothesis: "h",
    status,
    metrics: status === "crashed" ? null : { sharpe },
    reasons: status === "passed" ? [] : ["sharpe 0.1 < 1.00"],
    distance: status === "crashed" ? 1 : distance,
    decision: "tune",
    nextHypothesis: null,
    configYaml: genomeYaml(g),
  };
}

/** Plays the GA for `k` iterations with a made-up, deterministic score per genome. */
async function play(
  driver: GaDriver,
  k: number,
  seed: number,
  score: (g: Genome, n: number) => number,
  library: Library,
) {
  const history: IterationSummary[] = [];
  for (let n = 1; n <= k; n++) {
    const p = await driver.propose(context(history, seed));
    const g = genomeFromYaml(library, p.candidate?.configYaml) as Genome;
    expect(g).toBeDefined();
    history.push(scored(n, g, "discarded", score(g, n)));
  }
  return history;
}

describe("ga driver", () => {
  const sandbox = new Sandbox();
  let library: Library;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(() => sandbox.dispose());
  const entry = (name: string) => library.find((e) => e.name === name) as LibraryEntry;

  it("fitness: passed beats discarded beats crashed; lower distance and higher Sharpe win", () => {
    const g = shippedGenome(entry("ema-cross"), "1h");
    const passed = fitnessOf(scored(1, g, "passed", 0, 1.5));
    const passedLess = fitnessOf(scored(1, g, "passed", 0, 1.1));
    const close = fitnessOf(scored(1, g, "discarded", 0.1));
    const far = fitnessOf(scored(1, g, "discarded", 0.6));
    const crashed = fitnessOf(scored(1, g, "crashed", 1));
    expect(compareFitness(passed, passedLess)).toBeGreaterThan(0);
    expect(compareFitness(passedLess, close)).toBeGreaterThan(0);
    expect(compareFitness(close, far)).toBeGreaterThan(0);
    expect(compareFitness(far, crashed)).toBeGreaterThan(0);
  });

  it("generation 0 seeds the population with shipped configs of different strategies", async () => {
    const driver = new GaDriver(library, { populationSize: 4 });
    const history = await play(driver, 4, 3, () => 0.5, library);
    const names = history.map((s) => s.name);
    expect(new Set(names).size).toBe(4);
    for (const s of history)
      expect(genomeFromYaml(library, s.configYaml)).toEqual(shippedGenome(entry(s.name as string), "1h"));
  });

  it("elitism: the best genome ever seen stays a parent even when the last generation is worse", () => {
    const P = 4;
    const ema = entry("ema-cross");
    const mk = (n: number, d: number) => scored(n, randomGenome(ema, "1h", createRandom(n)), "discarded", d);
    // Generation 0: #2 is the best by far; generation 1: all worse.
    const history = [
      mk(1, 0.5),
      mk(2, 0.05),
      mk(3, 0.6),
      mk(4, 0.7),
      mk(5, 0.8),
      mk(6, 0.9),
      mk(7, 0.85),
      mk(8, 0.95),
    ];
    const pool = parentPool(history, library, 2, { populationSize: P, elite: 1 });
    expect(pool[0]?.n).toBe(2);
    expect(pool.map((x) => x.n).sort()).toEqual([2, 5, 6, 7, 8]);
    // And it is the most frequent parent of generation 2.
    const parents = new Map<number, number>();
    for (let seed = 1; seed <= 40; seed++) {
      const o = breed(history, library, seed, "1h", { populationSize: P, elite: 1 });
      for (const p of o.parents) parents.set(p, (parents.get(p) ?? 0) + 1);
    }
    const top = [...parents.entries()].sort((a, b) => b[1] - a[1])[0];
    expect(top?.[0]).toBe(2);
  });

  it("crossover mixes params of one strategy only, each param from one parent", () => {
    const don = entry("donchian-breakout");
    const a = { ...shippedGenome(don, "1h"), params: { entry: 10, exit: 5 } };
    const b = { ...shippedGenome(don, "1h"), params: { entry: 100, exit: 50 } };
    const seen = new Set<string>();
    for (let s = 0; s < 30; s++) {
      const c = crossover(a, b, createRandom(s));
      expect([10, 100]).toContain(c.params["entry"]);
      expect([5, 50]).toContain(c.params["exit"]);
      seen.add(`${c.params["entry"]}/${c.params["exit"]}`);
    }
    expect(seen.size).toBe(4);
    expect(() => crossover(a, shippedGenome(entry("ema-cross"), "1h"), createRandom(1))).toThrow(
      /one strategy/,
    );
  });

  it("bred children name parents of their own strategy", async () => {
    const driver = new GaDriver(library, { populationSize: 4 });
    const history = await play(driver, 16, 5, (g) => (g.strategy === "ema-cross" ? 0.1 : 0.5), library);
    for (let k = 4; k < history.length; k++) {
      const o = breed(history.slice(0, k), library, 5, "1h", { populationSize: 4 });
      for (const p of o.parents) expect(history[p - 1]?.name).toBe(o.entry.name);
    }
  });

  it("rebuilds the population from history: a fresh driver proposes what the running one would", async () => {
    const a = new GaDriver(library, { populationSize: 4 });
    const history = await play(a, 10, 7, (_g, n) => (n % 3) / 3, library);
    const next = await a.propose(context(history, 7));
    const fresh = await new GaDriver(library, { populationSize: 4 }).propose(context([...history], 7));
    expect(fresh).toEqual(next);
    expect(next.hypothesis).toMatch(/generation 2, individual 3\/4/);
  });

  it("decides tune within a strategy and new_approach when the next individual switches", async () => {
    const driver = new GaDriver(library, { populationSize: 4 });
    const history = await play(driver, 3, 2, () => 0.5, library);
    const p = await driver.propose(context(history, 2));
    const out: CandidateOutcome = {
      status: "discarded",
      reasons: ["sharpe 0.1 < 1.00"],
      gates: [],
      distance: 0.4,
      trialId: 4,
    };
    const d = await driver.decide({ ...context(history, 2), iteration: 4 }, p.candidate as never, out);
    const g = genomeFromYaml(library, p.candidate?.configYaml) as Genome;
    const after = [...history, scored(4, g, "discarded", 0.4)];
    const next = await driver.propose(context(after, 2));
    expect(d.decision).toBe(next.candidate?.name === p.candidate?.name ? "tune" : "new_approach");
    expect(d.nextHypothesis).toBe(next.hypothesis);
  });

  it("property: every individual's config parses and never repeats an evaluated config", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 2, max: 6 }),
        async (seed, P) => {
          const driver = new GaDriver(library, { populationSize: P });
          const rng = createRandom(seed);
          const history: IterationSummary[] = [];
          for (let n = 1; n <= 3 * P; n++) {
            const p = await driver.propose(context(history, seed));
            const e = entry(p.candidate?.name as string);
            const parsed = parseStrategyConfig(p.candidate?.configYaml as string, e.params);
            expect(parsed.ok).toBe(true);
            expect(history.some((s) => s.configYaml === p.candidate?.configYaml)).toBe(false);
            const g = genomeFromYaml(library, p.candidate?.configYaml) as Genome;
            const r = rng.next();
            history.push(
              scored(
                n,
                g,
                r < 0.1 ? "crashed" : r < 0.2 ? "passed" : "discarded",
                rng.next(),
                rng.next() * 2,
              ),
            );
          }
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  });
});
