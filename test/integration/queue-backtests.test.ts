/**
 * The `backtests` queue against real Redis and Postgres: folds fanned out as a BullMQ flow and run
 * by sandboxed worker threads (isolated-vm inside them) give exactly the evaluation the in-process
 * fold loop gives; ids make a repeated flow a no-op; a candidate's failure is a result, an
 * infrastructure failure is retried and then fails the evaluation; a fold job reads only the
 * run's search window.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import type { Bars } from "../../src/domain/bars.ts";
import {
  type FrozenRunConfig,
  loadRunConfig,
  type RunConfig,
  windowMs,
} from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type Candidate, evaluateCandidate } from "../../src/loop/evaluate.ts";
import type { RunRecord } from "../../src/loop/run-repository.ts";
import { createRun, frozenOf, StoreBarSource } from "../../src/loop/runner.ts";
import { type BarRequest, RunWindows } from "../../src/loop/windows.ts";
import { BACKTESTS_QUEUE, type FoldJobData, RESULT_LINGER_S } from "../../src/queue/backtest-jobs.ts";
import { foldJobRunner } from "../../src/queue/backtest-processor.ts";
import { type BacktestWorker, startBacktestWorker } from "../../src/queue/backtest-worker.ts";
import { BullFoldExecutors, FoldJobsFailedError } from "../../src/queue/bull-fold-executor.ts";
import { WorkerMetrics } from "../../src/queue/metrics.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, TEST_PG_URL, testSchema } from "../support/databases.ts";
import { storeTrendBars } from "../support/store-bars.ts";
import { waitFor } from "../support/wait.ts";

const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
const prefix = `t-qbt-${randomBytes(4).toString("hex")}`;

const EMA: Candidate = {
  code: readFileSync("strategies/ema-cross.ts", "utf8"),
  configYaml: "strategy: ema-cross\ntimeframe: 4h\nparams: { fast: 12, slow: 40 }\ndirection: long_only\n",
};

/** Computes fine on short windows, throws once a fold's slice is longer than 2000 bars. */
const PICKY: Candidate = {
  code: `import { defineStrategy } from "alphaloop/strategy";
export default defineStrategy({
  name: "picky",
  family: "trend",
  description: "Throws on long windows.",
  params: {},
  signals(bars) {
    const n = bars.close.length;
    if (n > 2000) throw new Error("too many bars: " + n);
    return { enterLong: new Uint8Array(n), exitLong: new Uint8Array(n) };
  },
});
`,
  configYaml: "strategy: picky\ntimeframe: 1h\n",
};

function runConfig(symbol: string): RunConfig {
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    {
      source: "test",
      text: `
dataset: { symbol: ${symbol}, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 4, warmup_bars: 200 }
loop: { driver: heuristic, seed: 3 }
`,
    },
  ]);
}

class RecordingSource extends StoreBarSource {
  readonly requests: BarRequest[] = [];
  override load(r: BarRequest): Promise<Bars> {
    this.requests.push(r);
    return super.load(r);
  }
}

describe("backtests queue", () => {
  const schema = testSchema("qbt");
  const sandbox = new Sandbox();
  let db: Db;
  let run: RunRecord;
  let frozen: FrozenRunConfig;
  let searchBars: Bars;
  let executors: BullFoldExecutors;
  let backtests: BacktestWorker;
  const metrics = new WorkerMetrics();

  beforeAll(async () => {
    db = await backends[0].open(schema);
    await storeTrendBars(db, "QBTUSD", 31);
    const runs = new PgRunRepository(db);
    run = await createRun(runs, { brief: "folds", config: runConfig("QBTUSD"), driver: "heuristic" });
    frozen = frozenOf(run);
    searchBars = await new RunWindows(new StoreBarSource(db), frozen.config).search();
    backtests = await startBacktestWorker({
      redisUrl: REDIS_URL,
      prefix,
      concurrency: 2,
      database: { databaseUrl: TEST_PG_URL, schema },
      metrics,
    });
    executors = await new BullFoldExecutors({ redisUrl: REDIS_URL, prefix, backoffMs: 50 }).ready();
  });
  afterAll(async () => {
    await executors?.close();
    await backtests?.close(5000);
    sandbox.dispose();
    await dropSchema(db, schema);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const folded = () => metrics.foldJobs.get().then((m) => m.values[0]?.value ?? 0);
  /**
   * The fold count once the worker has counted `expected` folds: it counts on BullMQ's `completed`
   * event, which can arrive just after the join's result was read. A fold run twice shows as more.
   */
  const foldedOnce = async (expected: number) => {
    await waitFor(async () => (await folded()) >= expected, 10_000, `${expected} folds counted`).catch(
      () => undefined,
    );
    return folded();
  };

  it("fold jobs in worker threads give exactly the in-process evaluation, then leave no jobs behind", async () => {
    const local = await evaluateCandidate(EMA, { run: frozen, searchBars, sandbox, lookaheadCuts: 0 });
    const before = await folded();
    const queued = await evaluateCandidate(EMA, {
      run: frozen,
      searchBars,
      sandbox,
      lookaheadCuts: 0,
      folds: executors.forIteration(run.id, 1),
    });
    expect(local.status).toBe("evaluated");
    expect(queued.status).toBe("evaluated");
    expect(queued.folds).toHaveLength(4);
    expect(queued.folds).toEqual(local.folds);
    expect(queued.aggregate).toEqual(local.aggregate);
    expect(queued.trades).toEqual(local.trades);
    expect(Array.from(queued.returns ?? [])).toEqual(Array.from(local.returns ?? []));
    expect(Array.from(queued.time ?? [])).toEqual(Array.from(local.time ?? []));
    expect(await foldedOnce(before + 4)).toBe(before + 4);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:${BACKTESTS_QUEUE}:${run.id}:*`)).toEqual([]);
      // The folds' results were read; they expire shortly after instead of piling up in Redis.
      const results = await redis.keys(`${prefix}:${BACKTESTS_QUEUE}:result:${run.id}:1:*`);
      expect(results).toHaveLength(4);
      for (const k of results) {
        const ttl = await redis.ttl(k);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(RESULT_LINGER_S);
      }
    } finally {
      await redis.quit();
    }
  });

  it("the same candidate sent twice for one iteration, at once or again later, runs each fold once", async () => {
    const before = await folded();
    const ctx = {
      run: frozen,
      searchBars,
      sandbox,
      lookaheadCuts: 0,
      folds: executors.forIteration(run.id, 2),
    };
    const [a, b] = await Promise.all([evaluateCandidate(EMA, ctx), evaluateCandidate(EMA, ctx)]);
    expect(a.aggregate).toEqual(b.aggregate);
    expect(a.folds).toEqual(b.folds);
    expect(await foldedOnce(before + 4)).toBe(before + 4);
    // A redone iteration soon after: the results are read back, no fold runs again.
    const c = await evaluateCandidate(EMA, ctx);
    expect(c.aggregate).toEqual(a.aggregate);
    expect(await foldedOnce(before + 4)).toBe(before + 4);
  });

  it("waiting past its probe interval on slow folds re-runs none of them", async () => {
    const spinning: Candidate = {
      code: EMA.code.replace(
        "signals(bars, p, ta) {",
        'signals(bars, p, ta) {\n    let spin = 0;\n    for (let i = 0; i < 3e7; i++) spin += i % 7;\n    if (spin < 0) throw new Error("unreachable");',
      ),
      configYaml: EMA.configYaml,
    };
    expect(spinning.code).toContain("spin +=");
    const impatient = await new BullFoldExecutors({ redisUrl: REDIS_URL, prefix, probeMs: 50 }).ready();
    try {
      const before = await folded();
      const ev = await evaluateCandidate(spinning, {
        run: frozen,
        searchBars,
        sandbox,
        lookaheadCuts: 0,
        folds: impatient.forIteration(run.id, 4),
      });
      expect(ev.status).toBe("evaluated");
      expect(await foldedOnce(before + 4)).toBe(before + 4);
    } finally {
      await impatient.close();
    }
  });

  it("with two fold takers, each candidate's folds all run on one of them", async () => {
    // A fold thread that has a candidate's context warm runs its next fold far cheaper than a
    // thread setting the candidate up afresh: the folds of one candidate stay together.
    const own = [new WorkerMetrics(), new WorkerMetrics()];
    const takers = await Promise.all(
      own.map((m) =>
        startBacktestWorker({
          redisUrl: REDIS_URL,
          prefix: `${prefix}-two`,
          concurrency: 1,
          database: { databaseUrl: TEST_PG_URL, schema },
          metrics: m,
        }),
      ),
    );
    const two = await new BullFoldExecutors({ redisUrl: REDIS_URL, prefix: `${prefix}-two` }).ready();
    try {
      const candidates = [10, 13, 16, 19, 22, 25, 28, 31].map((fast) => ({
        ...EMA,
        configYaml: EMA.configYaml.replace("fast: 12", `fast: ${fast}`),
      }));
      const evs = await Promise.all(
        candidates.map((c) =>
          evaluateCandidate(c, {
            run: frozen,
            searchBars,
            sandbox,
            lookaheadCuts: 0,
            folds: two.forIteration(run.id, 7),
          }),
        ),
      );
      for (const ev of evs) expect(ev.status).toBe("evaluated");
      const counted = () =>
        Promise.all(own.map((m) => m.foldJobs.get().then((x) => x.values[0]?.value ?? 0)));
      await waitFor(
        async () => (await counted()).reduce((a, b) => a + b, 0) >= 32,
        10_000,
        "32 folds counted",
      );
      const counts = await counted();
      expect(counts.reduce((a, b) => a + b, 0)).toBe(32);
      for (const n of counts) expect(n % 4).toBe(0);
    } finally {
      await two.close();
      await Promise.all(takers.map((t) => t.close(5000)));
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}-two:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });

  it("a candidate failing in a fold is a crash with the sandbox's error, as in-process", async () => {
    const local = await evaluateCandidate(PICKY, { run: frozen, searchBars, sandbox, lookaheadCuts: 0 });
    const queued = await evaluateCandidate(PICKY, {
      run: frozen,
      searchBars,
      sandbox,
      lookaheadCuts: 0,
      folds: executors.forIteration(run.id, 3),
    });
    expect(local.status).toBe("crash");
    expect(local.error?.message).toMatch(/too many bars/);
    expect(queued.status).toBe("crash");
    expect(queued.error).toEqual(local.error);
  });

  it("retries a fold whose bars cannot be loaded with backoff, then fails the evaluation", async () => {
    const runs = new PgRunRepository(db);
    const orphan = await createRun(runs, {
      brief: "no bars",
      config: runConfig("NOBARSUSD"),
      driver: "heuristic",
    });
    const events = new QueueEvents(BACKTESTS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    const retried: string[] = [];
    events.on("retries-exhausted", ({ jobId, attemptsMade }) => {
      retried.push(`${jobId}:${attemptsMade}`);
    });
    await events.waitUntilReady();
    try {
      const failing = evaluateCandidate(EMA, {
        run: frozenOf(orphan),
        searchBars,
        sandbox,
        lookaheadCuts: 0,
        folds: executors.forIteration(orphan.id, 1),
      });
      await expect(failing).rejects.toThrow(FoldJobsFailedError);
      await expect(failing).rejects.toThrow(/no bars stored for NOBARSUSD 1h/);
      // The first fold to run out of attempts fails the flow; each attempt was made.
      expect(retried.length).toBeGreaterThanOrEqual(1);
      for (const r of retried) expect(r).toMatch(new RegExp(`^${orphan.id}:1:fold\\d-[0-9a-f]{16}:3$`));
    } finally {
      await events.close();
    }
  });

  it("a fold job loads the run's search window and nothing else, and refuses a config that is not the run's", async () => {
    const source = new RecordingSource(db);
    const runner = foldJobRunner({ runs: new PgRunRepository(db), bars: source, sandbox });
    const job: FoldJobData = {
      runId: run.id,
      iteration: 9,
      configHash: frozen.hash,
      code: EMA.code,
      configYaml: EMA.configYaml,
      timeframe: "4h",
      fold: { index: 0, warmupStart: 0, start: 50, end: 400 },
    };
    const r = await runner(job);
    expect(r.ok).toBe(true);
    const search = windowMs(frozen.config.windows.search);
    expect(source.requests).toEqual([
      { symbol: "QBTUSD", timeframe: "1h", from: search.start, to: search.end },
    ]);
    // Bounds past the search window's bars are refused, never read from elsewhere.
    const outside = await runner({ ...job, fold: { index: 0, warmupStart: 0, start: 50, end: 10_000 } });
    expect(outside).toMatchObject({
      ok: false,
      error: { message: "fold 0 lies outside the search window's bars" },
    });
    expect(source.requests).toHaveLength(1);
    await expect(runner({ ...job, configHash: "0".repeat(64) })).rejects.toThrow(
      /carries config 000000000000/,
    );
  });

  it("a fold job whose bars failed to load loads them again on its retry", async () => {
    const runs = new PgRunRepository(db);
    const later = await createRun(runs, {
      brief: "bars later",
      config: runConfig("LATERUSD"),
      driver: "heuristic",
    });
    const runner = foldJobRunner({ runs, bars: new StoreBarSource(db), sandbox });
    const job: FoldJobData = {
      runId: later.id,
      iteration: 1,
      configHash: frozenOf(later).hash,
      code: EMA.code,
      configYaml: EMA.configYaml,
      timeframe: "4h",
      fold: { index: 0, warmupStart: 0, start: 50, end: 400 },
    };
    await expect(runner(job)).rejects.toThrow(/no bars stored for LATERUSD 1h/);
    await storeTrendBars(db, "LATERUSD", 32);
    const r = await runner(job);
    expect(r).toMatchObject({ index: 0, ok: true });
  });
});
