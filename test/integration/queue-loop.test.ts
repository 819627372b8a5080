/**
 * The same research scenarios on both transports: the embedded in-process queue and BullMQ on the
 * real Redis, against a real Postgres schema, with the real sandbox and the heuristic driver.
 */
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { register as registerWorker } from "../../src/cli/worker-command.ts";
import { type RunConfig, windowMs } from "../../src/domain/run-config.ts";
import type { Driver } from "../../src/loop/driver.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import type { RunRecord } from "../../src/loop/run-repository.ts";
import { createRun, frozenOf, StoreBarSource } from "../../src/loop/runner.ts";
import type { BarRequest, BarSource } from "../../src/loop/windows.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import { BullFoldExecutors } from "../../src/queue/bull-fold-executor.ts";
import { BullTransport } from "../../src/queue/bull-transport.ts";
import { controlRun, resumeRun, submitRun } from "../../src/queue/control.ts";
import { InProcessTransport } from "../../src/queue/in-process-transport.ts";
import type { ResearchTransport } from "../../src/queue/transport.ts";
import { startWorker } from "../../src/queue/worker.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, TEST_PG_URL, testSchema } from "../support/databases.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeBars } from "../support/store-bars.ts";

const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
const prefix = `t-queue-${randomBytes(4).toString("hex")}`;
const trend = { drift: 1.2, volScale: 0.7 };

function runConfig(maxIterations: number): RunConfig {
  return lenientRunConfig(`
dataset: { symbol: QUEUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: ${maxIterations} }
loop: { driver: heuristic, seed: 5, stuck_after: 3 }
`);
}

interface TransportCase {
  name: string;
  make: (concurrency: number) => ResearchTransport;
  /** Folds on the backtests queue, taken by this worker's threads (schema: the test's). */
  folds?: boolean;
  /** How another part of the system reaches the worker: the same object in-process, a new client over Redis. */
  peer: (worker: ResearchTransport) => ResearchTransport;
}
const transports: TransportCase[] = [
  {
    name: "in-process",
    make: (concurrency) => new InProcessTransport({ concurrency, backoffMs: 50 }),
    peer: (worker) => worker,
  },
  {
    name: "bullmq",
    make: (concurrency) => new BullTransport({ redisUrl: REDIS_URL, prefix, concurrency, backoffMs: 50 }),
    peer: () => new BullTransport({ redisUrl: REDIS_URL, prefix }),
  },
  {
    name: "bullmq with folds on the backtests queue",
    make: (concurrency) => new BullTransport({ redisUrl: REDIS_URL, prefix, concurrency, backoffMs: 50 }),
    peer: () => new BullTransport({ redisUrl: REDIS_URL, prefix }),
    folds: true,
  },
];

async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("research queue", () => {
  let db: Db;
  let runs: PgRunRepository;
  const schema = testSchema("queue");
  const sandbox = new Sandbox();
  let heuristic: Driver;

  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    await storeBars(
      db,
      "QUEUSD",
      "1h",
      syntheticBars({
        n: 24 * 700,
        timeframe: "1h",
        start: "2020-01-01",
        seed: 22,
        regimes: { bull: trend, bear: trend, sideways: trend },
        annualVol: 0.5,
      }),
    );
    heuristic = createDriver("heuristic", { library: await loadLibrary("strategies", sandbox) });
  });
  afterAll(async () => {
    sandbox.dispose();
    await dropSchema(db, schema);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const finished = (id: string) => async () => {
    const r = await runs.getRun(id);
    return r && ["completed", "stopped", "failed"].includes(r.status) ? r : undefined;
  };

  async function counts(runId: string) {
    const q = async (sql: string) => (await db.query<{ n: number }>(sql, [runId])).rows[0]?.n ?? -1;
    return {
      iterations: await q("SELECT count(*)::int AS n FROM iterations WHERE run_id = $1"),
      trials: await q("SELECT count(*)::int AS n FROM trials WHERE run_id = $1"),
      completedEvents: await q(
        "SELECT count(*)::int AS n FROM outbox WHERE run_id = $1 AND type = 'iteration.completed'",
      ),
      finishedEvents: await q(
        "SELECT count(*)::int AS n FROM outbox WHERE run_id = $1 AND type = 'run.finished'",
      ),
    };
  }

  it("`alphaloop worker` without REDIS_URL picks up the store's running runs and finishes them in-process", async () => {
    const run = await createRun(runs, { brief: "cli", config: runConfig(2), driver: "heuristic" });
    await runs.setStatus(run.id, "running", null, [], ["created"]);
    let out = "";
    let stop!: () => void;
    const program = new Command().exitOverride();
    registerWorker(program, {
      openDb: () => backends[0].open(schema),
      write: (t) => {
        out += t;
      },
      env: {},
      until: new Promise<void>((r) => {
        stop = r;
      }),
    });
    const done = program.parseAsync(["worker", "--concurrency", "2"], { from: "user" });
    const end = await until(finished(run.id));
    stop();
    await done;
    expect([end.status, end.iterationsDone]).toEqual(["completed", 2]);
    expect(out).toContain("REDIS_URL is not set");
    expect(out).toMatch(/worker \d+ ready: in-process transport, concurrency 2/);
  }, 60_000);

  describe.each(transports)("on the $name transport", ({ make, peer, folds }) => {
    async function worker(driverFor: (run: RunRecord) => Promise<Driver>, concurrency = 1, bars?: BarSource) {
      const transport = make(concurrency);
      const w = await startWorker({
        db,
        transport,
        driverFor,
        sandbox,
        ...(bars ? { bars } : {}),
        ...(folds
          ? {
              folds: await new BullFoldExecutors({ redisUrl: REDIS_URL, prefix, backoffMs: 50 }).ready(),
              backtests: {
                redisUrl: REDIS_URL,
                prefix,
                concurrency: 2,
                database: { databaseUrl: TEST_PG_URL, schema },
              },
            }
          : {}),
      });
      return { transport, w };
    }

    it("runs two runs to their budgets, one step per job, each nudge claimed once", async () => {
      const a = await createRun(runs, { brief: "a", config: runConfig(4), driver: "heuristic" });
      const b = await createRun(runs, { brief: "b", config: runConfig(3), driver: "heuristic" });
      await runs.addNudge({ runId: a.id, author: "alice", source: "cli", text: "try donchian-breakout" });
      const { transport, w } = await worker(async () => heuristic, 2);
      try {
        expect(await submitRun(runs, transport, a.id)).toBe(true);
        expect(await submitRun(runs, transport, b.id)).toBe(true);
        const [endA, endB] = await Promise.all([until(finished(a.id)), until(finished(b.id))]);
        expect([endA.status, endA.statusReason]).toEqual(["completed", "reached max_iterations (4)"]);
        expect([endB.status, endB.iterationsDone]).toEqual(["completed", 3]);
        expect((await runs.iterations(a.id)).map((i) => i.n)).toEqual([1, 2, 3, 4]);
        expect(await counts(a.id)).toEqual({
          iterations: 4,
          trials: 4,
          completedEvents: 4,
          finishedEvents: 1,
        });
        expect(await counts(b.id)).toEqual({
          iterations: 3,
          trials: 3,
          completedEvents: 3,
          finishedEvents: 1,
        });
        expect((await runs.nudges(a.id)).map((n) => n.claimedIteration)).toEqual([1]);
        expect((await runs.iterations(a.id))[0]?.name).toBe("donchian-breakout");
        await until(async () => (await transport.depth()) === 0);
        const text = await w.metrics.registry.metrics();
        const total = [...text.matchAll(/^alphaloop_iterations_total\{status="\w+"\} (\d+)$/gm)].reduce(
          (s, m) => s + Number(m[1]),
          0,
        );
        expect(total).toBe(7);
        expect(text).toMatch(/^alphaloop_backtests_total 7$/m);
        // Three folds per backtest, counted by the worker that ran them (this one) when queued.
        expect(text).toMatch(new RegExp(`^alphaloop_fold_backtests_total ${folds ? 21 : 0}$`, "m"));
        expect(text).toMatch(/^alphaloop_queue_depth 0$/m);
        expect(text).toMatch(/^alphaloop_model_latency_seconds_count 7$/m);
      } finally {
        await w.close(5000);
      }
    }, 60_000);

    it("loads a run's search window once for all of its iterations on a worker", async () => {
      const run = await createRun(runs, { brief: "bars once", config: runConfig(3), driver: "heuristic" });
      const requests: BarRequest[] = [];
      const store = new StoreBarSource(db);
      const source: BarSource = {
        load: (r) => {
          requests.push(r);
          return store.load(r);
        },
      };
      const { transport, w } = await worker(async () => heuristic, 1, source);
      try {
        expect(await submitRun(runs, transport, run.id)).toBe(true);
        const end = await until(finished(run.id));
        expect([end.status, end.iterationsDone]).toEqual(["completed", 3]);
        const search = windowMs(frozenOf(run).config.windows.search);
        expect(requests.filter((r) => r.from === search.start && r.to === search.end)).toHaveLength(1);
      } finally {
        await w.close(5000);
      }
    }, 60_000);

    it("a pause from another process aborts the in-flight iteration, and resume redoes it once", async () => {
      const run = await createRun(runs, { brief: "pause", config: runConfig(3), driver: "heuristic" });
      let entered!: () => void;
      const inIteration2 = new Promise<void>((r) => {
        entered = r;
      });
      let block = true;
      // The heuristic, except that iteration 2 waits (like a slow model) until its signal aborts.
      const slow: Driver = {
        name: heuristic.name,
        propose: async (ctx) => {
          if (ctx.iteration === 2 && block) {
            entered();
            await new Promise((_, reject) =>
              ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
            );
          }
          return heuristic.propose(ctx);
        },
        decide: (ctx, c, o) => heuristic.decide(ctx, c, o),
      };
      const { transport, w } = await worker(async () => slow);
      // Over Redis, control comes from a different client, as from the bot's process.
      const other = peer(transport);
      try {
        await submitRun(runs, transport, run.id);
        await inIteration2;
        expect(await controlRun(runs, other, run.id, "pause", "paused from Discord")).toBe(true);
        await until(async () => (await transport.depth()) === 0, 10_000);
        const paused = (await runs.getRun(run.id)) as RunRecord;
        expect([paused.status, paused.statusReason, paused.iterationsDone]).toEqual([
          "paused",
          "paused from Discord",
          1,
        ]);
        block = false;
        expect(await resumeRun(runs, other, run.id)).toBe(true);
        const end = await until(finished(run.id));
        expect([end.status, end.iterationsDone]).toEqual(["completed", 3]);
        expect(await counts(run.id)).toEqual({
          iterations: 3,
          trials: 3,
          completedEvents: 3,
          finishedEvents: 1,
        });
      } finally {
        if (other !== transport) await other.close(1000);
        await w.close(5000);
      }
    }, 60_000);

    it("stops a run from another process; a duplicate or stale job changes nothing", async () => {
      const run = await createRun(runs, { brief: "stop", config: runConfig(2), driver: "heuristic" });
      const { transport, w } = await worker(async () => heuristic);
      try {
        await submitRun(runs, transport, run.id);
        const end = await until(finished(run.id));
        expect(end.iterationsDone).toBe(2);
        // Redelivered jobs for committed iterations, and for the next one of a finished run: no-ops.
        await transport.enqueueIteration({ runId: run.id, iteration: 1 });
        await transport.enqueueIteration({ runId: run.id, iteration: 3 });
        await until(async () => (await transport.depth()) === 0, 10_000);
        expect(await counts(run.id)).toEqual({
          iterations: 2,
          trials: 2,
          completedEvents: 2,
          finishedEvents: 1,
        });
        // A finished run cannot be stopped; a fresh one can, and no worker touches it afterwards.
        expect(await controlRun(runs, transport, run.id, "stop", "stopped")).toBe(false);
        const next = await createRun(runs, { brief: "stop2", config: runConfig(2), driver: "heuristic" });
        expect(await controlRun(runs, transport, next.id, "stop", "stopped from Discord")).toBe(true);
        await transport.enqueueIteration({ runId: next.id, iteration: 1 });
        await until(async () => (await transport.depth()) === 0, 10_000);
        const stopped = (await runs.getRun(next.id)) as RunRecord;
        expect([stopped.status, stopped.iterationsDone]).toEqual(["stopped", 0]);
        expect(await counts(next.id)).toEqual({
          iterations: 0,
          trials: 0,
          completedEvents: 0,
          finishedEvents: 1,
        });
      } finally {
        await w.close(5000);
      }
    }, 60_000);

    it("retries a failing iteration with backoff, then marks the run failed with the reason", async () => {
      const run = await createRun(runs, { brief: "broken", config: runConfig(3), driver: "heuristic" });
      let calls = 0;
      // A driver with a bug (not an outage): every attempt throws.
      const broken: Driver = {
        name: "heuristic",
        propose: async () => {
          calls++;
          throw new Error("driver bug");
        },
        decide: (ctx, c, o) => heuristic.decide(ctx, c, o),
      };
      const { transport, w } = await worker(async () => broken);
      try {
        await submitRun(runs, transport, run.id);
        const end = await until(finished(run.id), 20_000);
        expect([end.status, end.statusReason]).toEqual(["failed", "iteration 1 failed: driver bug"]);
        expect(calls).toBe(3);
        expect(await counts(run.id)).toEqual({
          iterations: 0,
          trials: 0,
          completedEvents: 0,
          finishedEvents: 1,
        });
      } finally {
        await w.close(1000);
      }
    });

    it("serves /health and /metrics", async () => {
      const transport = make(1);
      const w = await startWorker({
        db,
        transport,
        driverFor: async () => heuristic,
        sandbox,
        healthPort: 0,
      });
      try {
        const port = w.health?.port as number;
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
        const body = (await health.json()) as Record<string, unknown>;
        expect(body["ok"]).toBe(true);
        expect(body["postgres"]).toBe("ok");
        expect(body[transport.kind === "bullmq" ? "redis" : "queue"]).toBe("ok");
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        for (const name of [
          "alphaloop_iterations_total",
          "alphaloop_backtests_total",
          "alphaloop_queue_depth",
          "alphaloop_gate_passes_total",
          "alphaloop_model_latency_seconds",
          "alphaloop_parse_repairs_total",
        ]) {
          expect(metrics).toContain(`# TYPE ${name} `);
        }
        expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
      } finally {
        await w.close(1000);
      }
    });

    it("enqueues one job per iteration id while it is pending", async () => {
      const producer = make(1);
      try {
        const runId = `r-${randomBytes(4).toString("hex")}`;
        await producer.enqueueIteration({ runId, iteration: 1 });
        await producer.enqueueIteration({ runId, iteration: 1 });
        await producer.enqueueIteration({ runId, iteration: 2 });
        expect(await producer.depth()).toBe(2);
      } finally {
        await producer.close(1000);
      }
    });
  });
});
