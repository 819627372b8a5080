/**
 * Islands in the real research loop (Postgres, sandbox, model-free drivers): two islands take turns,
 * each from its own seed, the other island's best arrives after `migrate_every` iterations, every
 * trial lands in the one ledger, and a run stopped half-way and resumed by a fresh loop (as another
 * process would) proposes exactly what the uninterrupted run proposed.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { loadRunConfig, type RunConfig, searchWindowHash } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { breed } from "../../src/loop/drivers/ga.ts";
import { genomeYaml } from "../../src/loop/drivers/genome.ts";
import { createDriver, type ModelFreeDriverName } from "../../src/loop/drivers/index.ts";
import { type Library, loadLibrary } from "../../src/loop/library.ts";
import { buildLoop, createRun } from "../../src/loop/runner.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { PgTrialLedger } from "../../src/store/trial-ledger.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { storeTrendBars } from "../support/store-bars.ts";

/**
 * Each run gets its own copy of the bars under its own symbol: the ledger is per dataset and window,
 * and the Deflated Sharpe of one run's candidates must not depend on another test run's trials.
 */
function runConfig(
  symbol: string,
  driver: ModelFreeDriverName,
  iterations: number,
  migrateEvery: number,
): RunConfig {
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    {
      source: "test",
      text: `
dataset: { symbol: ${symbol}, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: ${iterations} }
loop: { driver: ${driver}, seed: 3, islands: 2, migrate_every: ${migrateEvery} }
`,
    },
  ]);
}

describe("islands", () => {
  let db: Db;
  let runs: PgRunRepository;
  let library: Library;
  const schema = testSchema("islands");
  const sandbox = new Sandbox();
  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    for (const symbol of ["ISLEGA", "ISLEA", "ISLEB"]) await storeTrendBars(db, symbol);
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(async () => {
    sandbox.dispose();
    await dropSchema(db, schema);
  });

  async function runToEnd(config: RunConfig, stopAfter?: number): Promise<string> {
    const run = await createRun(runs, { brief: "islands", config, driver: config.loop.driver });
    const controller = new AbortController();
    const loop = buildLoop(run, {
      db,
      driver: createDriver(config.loop.driver as ModelFreeDriverName, { library }),
      sandbox,
      onIteration: (it) => {
        if (it.n === stopAfter) controller.abort();
      },
    });
    await loop.run(controller.signal);
    return run.id;
  }

  it("two ga islands take turns from their own seeds, share the ledger and exchange their best", async () => {
    const config = runConfig("ISLEGA", "ga", 8, 4);
    const runId = await runToEnd(config);
    const its = await runs.iterations(runId);
    expect(its.map((i) => i.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Island 0 searches from the run's seed (3), island 1 from seed 4: each island's first
    // individuals are the strategies a fresh ga population of that seed starts with.
    const firstOf = (seed: number, k: number) => {
      const h: Parameters<typeof breed>[0][number][] = [];
      const out: string[] = [];
      for (let i = 0; i < k; i++) {
        const o = breed(h, library, seed, "1h");
        out.push(genomeYaml(o.genome));
        h.push({
          n: i + 1,
          name: o.entry.name,
          family: null,
          hypothesis: null,
          status: "discarded",
          metrics: null,
          reasons: [],
          distance: 0.5,
          decision: null,
          nextHypothesis: null,
          configYaml: genomeYaml(o.genome),
        });
      }
      return out;
    };
    const strategy = (yaml: string | null) => /^strategy: (\S+)/.exec(yaml ?? "")?.[1];
    const island0 = its.filter((i) => i.n % 2 === 1).map((i) => i.configYaml);
    const island1 = its.filter((i) => i.n % 2 === 0).map((i) => i.configYaml);
    expect(island0.map(strategy)).toEqual(firstOf(3, 4).map(strategy));
    expect(island1.map(strategy)).toEqual(firstOf(4, 4).map(strategy));
    expect(island0.map(strategy)).not.toEqual(island1.map(strategy));
    // A config one island ran is never run again by the other (it would only be a duplicate):
    // where both populations start from the same shipped config, the later one draws params.
    expect(new Set(its.map((i) => i.configYaml)).size).toBe(its.length);
    const shared = firstOf(3, 4).filter((y) => firstOf(4, 4).includes(y));
    expect(shared.length).toBeGreaterThan(0);

    // The iteration events say which island; migrants arrive after iteration 4 (the other island's best).
    const events = (await runs.pendingEvents(1000, runId)).filter((e) => e.type === "iteration.completed");
    expect(events.map((e) => e.payload["island"])).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    for (const e of events) {
      const n = e.payload["n"] as number;
      const migrants = e.payload["migrants"] as { island: number; n: number }[] | undefined;
      if (n <= 4) {
        expect(migrants).toBeUndefined();
        continue;
      }
      const self = (n - 1) % 2;
      expect(migrants).toHaveLength(1);
      expect(migrants?.[0]?.island).toBe(1 - self);
      // The migrant is the other island's best among iterations 1..4.
      const theirs = its.filter((i) => i.n <= 4 && (i.n - 1) % 2 === 1 - self && i.distance !== null);
      const best = [...theirs].sort(
        (a, b) =>
          Number(b.status === "passed") - Number(a.status === "passed") ||
          (a.status === "passed"
            ? (b.metrics?.["sharpe"] ?? 0) - (a.metrics?.["sharpe"] ?? 0)
            : (a.distance as number) - (b.distance as number)) ||
          a.n - b.n,
      )[0];
      expect(migrants?.[0]?.n).toBe(best?.n);
    }

    // One ledger: every backtest of both islands is a trial of this run on the one search window.
    const trials = await new PgTrialLedger(db).runTrials(runId);
    expect(trials).toHaveLength(8);
    expect(new Set(trials.map((t) => t.iteration))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8]));
    const { rows } = await db.query<{ window_hash: string }>(
      "SELECT DISTINCT window_hash FROM trials WHERE run_id = $1",
      [runId],
    );
    expect(rows.map((r) => r.window_hash)).toEqual([searchWindowHash(config)]);
  }, 240_000);

  it("a run stopped half-way and resumed by a fresh loop continues every island exactly", async () => {
    const straight = await runToEnd(runConfig("ISLEA", "heuristic", 10, 2));
    const interrupted = await runToEnd(runConfig("ISLEB", "heuristic", 10, 2), 5);
    expect((await runs.iterations(interrupted)).map((i) => i.n)).toEqual([1, 2, 3, 4, 5]);
    // A new loop object and driver, as `alphaloop run --resume` builds them in a new process.
    const run = await runs.getRun(interrupted);
    if (!run) throw new Error("run missing");
    await buildLoop(run, {
      db,
      driver: createDriver("heuristic", { library }),
      sandbox,
    }).run(new AbortController().signal);

    const a = await runs.iterations(straight);
    const b = await runs.iterations(interrupted);
    expect(b.map((i) => i.n)).toEqual(a.map((i) => i.n));
    expect(b.map((i) => i.configYaml)).toEqual(a.map((i) => i.configYaml));
    expect(b.map((i) => i.hypothesis)).toEqual(a.map((i) => i.hypothesis));
    // Migration reached the heuristic: an island tuned from the other's best, on both runs alike.
    expect(a.some((i) => /tuned from island \d's best/.test(i.hypothesis ?? ""))).toBe(true);
    // The two islands did not search the same things.
    const island = (k: number) => new Set(a.filter((i) => (i.n - 1) % 2 === k).map((i) => i.name));
    expect(island(0)).not.toEqual(island(1));
  }, 300_000);
});
