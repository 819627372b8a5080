/**
 * Redis killed in the middle of a distributed run and started again, empty (no persistence): two
 * real `alphaloop worker` processes reconnect, the run is picked up again from Postgres (the
 * source of truth) and finishes with every iteration, trial and outbox event exactly once.
 *
 * The Redis here is this test's own `redis-server` on a free port, never the shared one. With one
 * that may evict keys, the worker says so at start (BullMQ needs `noeviction`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { register as registerWorker } from "../../src/cli/worker-command.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { evaluateCandidate } from "../../src/loop/evaluate.ts";
import { createRun, frozenOf, StoreBarSource } from "../../src/loop/runner.ts";
import { RunWindows } from "../../src/loop/windows.ts";
import { startBacktestWorker } from "../../src/queue/backtest-worker.ts";
import { BullFoldExecutors } from "../../src/queue/bull-fold-executor.ts";
import { BullTransport } from "../../src/queue/bull-transport.ts";
import { submitRun } from "../../src/queue/control.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, TEST_PG_URL, testSchema } from "../support/databases.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeTrendBars } from "../support/store-bars.ts";
import { exited, freePort, waitFor } from "../support/wait.ts";

const N = 8;

describe("Redis restarted mid-run", () => {
  const schema = testSchema("qredis");
  const home = mkdtempSync(join(tmpdir(), "alphaloop-qredis-"));
  const children: ChildProcess[] = [];
  let db: Db;
  let port: number;
  let redis: ChildProcess | undefined;
  let redisUrl: string;

  async function startRedis(at = port, extra: string[] = []): Promise<ChildProcess> {
    const child = spawn(
      "redis-server",
      ["--port", String(at), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extra],
      { stdio: "ignore" },
    );
    children.push(child);
    if (at === port) redis = child;
    const probe = new Redis(`redis://127.0.0.1:${at}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Refused connections while the server starts are expected: the probe just tries again.
    probe.on("error", () => undefined);
    try {
      await waitFor(
        async () => {
          if (probe.status !== "ready") await probe.connect();
          return (await probe.ping()) === "PONG";
        },
        10_000,
        "redis-server to answer",
      );
    } finally {
      probe.disconnect();
    }
    return child;
  }

  function worker(): ChildProcess {
    const url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema},public`)}`;
    const child = spawn(
      process.execPath,
      [
        "--no-node-snapshot",
        "--import",
        "tsx",
        "test/support/worker-main.ts",
        "worker",
        "--lock-duration",
        "2000",
        "--stalled-interval",
        "1000",
        "--reconcile-seconds",
        "1",
        "--shutdown-timeout",
        "5",
      ],
      {
        env: {
          ...process.env,
          DATABASE_URL: url,
          ALPHALOOP_HOME: home,
          REDIS_URL: redisUrl,
          LLM_BASE_URL: "",
          LOG_LEVEL: "fatal",
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    port = await freePort();
    redisUrl = `redis://127.0.0.1:${port}`;
    db = await backends[0].open(schema);
    await storeTrendBars(db, "REDISUSD", 41);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
    await dropSchema(db, schema);
  });

  it("workers reconnect and the run finishes with nothing lost or doubled", async () => {
    await startRedis();
    const runs = new PgRunRepository(db);
    const config = lenientRunConfig(`
dataset: { symbol: REDISUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: ${N} }
loop: { driver: heuristic, seed: 13, stuck_after: 3 }
`);
    const run = await createRun(runs, { brief: "redis restart", config, driver: "heuristic" });
    const producer = new BullTransport({ redisUrl, prefix: "alphaloop" });
    try {
      await submitRun(runs, producer, run.id);
    } finally {
      await producer.close();
    }
    const workers = [worker(), worker()];
    let stderr = "";
    for (const w of workers) w.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const committed = async () =>
      Number(
        (
          await db.query<{ n: number }>("SELECT count(*)::int AS n FROM iterations WHERE run_id = $1", [
            run.id,
          ])
        ).rows[0]?.n ?? 0,
      );
    await waitFor(async () => (await committed()) >= 2, 90_000, "two iterations").catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; workers' stderr: ${stderr.slice(-2000)}`);
    });

    // Redis dies mid-run, with everything it held, and comes back empty a moment later.
    redis?.kill("SIGKILL");
    await exited(redis as ChildProcess);
    const during = await committed();
    expect(during).toBeLessThan(N);
    await new Promise((r) => setTimeout(r, 1500));
    await startRedis();

    await waitFor(
      async () => (await runs.getRun(run.id))?.status !== "running",
      90_000,
      "the run to end",
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; workers' stderr: ${stderr.slice(-2000)}`);
    });
    for (const w of workers) w.kill("SIGTERM");
    expect(await Promise.all(workers.map(exited))).toEqual([0, 0]);

    const end = await runs.getRun(run.id);
    expect([end?.status, end?.iterationsDone]).toEqual(["completed", N]);
    const its = await runs.iterations(run.id);
    expect(its.map((i) => i.n)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const trials = await db.query<{ id: string | number; iteration: number }>(
      "SELECT id, iteration FROM trials WHERE run_id = $1 ORDER BY id",
      [run.id],
    );
    // One backtest per iteration, one trial each, referenced from its own iteration only.
    expect(trials.rows.map((t) => t.iteration)).toEqual(its.map((i) => i.n));
    expect(its.flatMap((i) => i.trialIds.map(String))).toEqual(trials.rows.map((t) => String(t.id)));
    const events = await db.query<{ type: string; n: number; ids: number }>(
      "SELECT type, count(*)::int AS n, count(DISTINCT event_id)::int AS ids FROM outbox WHERE run_id = $1 GROUP BY type",
      [run.id],
    );
    const byType = Object.fromEntries(events.rows.map((r) => [r.type, r.n]));
    expect(byType["iteration.completed"]).toBe(N);
    expect(byType["run.started"]).toBe(1);
    expect(byType["run.finished"]).toBe(1);
    for (const r of events.rows) expect(r.ids).toBe(r.n);
  }, 240_000);

  it("`alphaloop worker` warns at start when Redis may evict keys, and not when it may not", async () => {
    const out: string[] = [];
    for (const policy of ["allkeys-lru", "noeviction"]) {
      const at = await freePort();
      const server = await startRedis(at, ["--maxmemory-policy", policy]);
      let text = "";
      const program = new Command().exitOverride();
      registerWorker(program, {
        openDb: () => backends[0].open(schema),
        write: (t) => {
          text += t;
        },
        env: { REDIS_URL: `redis://127.0.0.1:${at}`, ALPHALOOP_QUEUE_PREFIX: "evict" },
        until: Promise.resolve(),
      });
      try {
        await program.parseAsync(["worker"], { from: "user" });
      } finally {
        server.kill("SIGKILL");
      }
      out.push(text);
    }
    expect(out[0]).toContain(
      "warning: redis maxmemory-policy is allkeys-lru: set it to noeviction or BullMQ can lose jobs",
    );
    expect(out[1]).not.toContain("warning:");
    expect(out[1]).toMatch(/worker \d+ ready: bullmq transport/);
  });

  it("an evaluation waiting on its fold jobs when Redis dies adds them again and gets the in-process result", async () => {
    const at = await freePort();
    const url = `redis://127.0.0.1:${at}`;
    let server = await startRedis(at);
    const runs = new PgRunRepository(db);
    const config = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
      {
        source: "test",
        text: `
dataset: { symbol: REDISUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 4, warmup_bars: 200 }
`,
      },
    ]);
    const run = await createRun(runs, { brief: "folds across a restart", config, driver: "heuristic" });
    const frozen = frozenOf(run);
    const searchBars = await new RunWindows(new StoreBarSource(db), frozen.config).search();
    // Long enough per fold (a busy loop in the sandbox) that Redis can die while folds are pending.
    const slow = {
      code: `import { defineStrategy } from "alphaloop/strategy";
export default defineStrategy({
  name: "slow-cross",
  family: "trend",
  description: "An EMA cross that first spins for a while.",
  params: {},
  signals(bars, _p, ta) {
    let spin = 0;
    for (let i = 0; i < 3e7; i++) spin += i % 7;
    if (spin < 0) throw new Error("unreachable");
    const fast = ta.ema(bars.close, 10);
    const slow = ta.ema(bars.close, 40);
    return { enterLong: ta.crossover(fast, slow), exitLong: ta.crossunder(fast, slow) };
  },
});
`,
      configYaml: "strategy: slow-cross\ntimeframe: 1h\n",
    };
    const ctx = { run: frozen, searchBars, sandbox: new Sandbox(), lookaheadCuts: 0 };
    const local = await evaluateCandidate(slow, ctx);
    expect(local.status, local.error?.message).toBe("evaluated");

    const prefix = "restart";
    const backtests = await startBacktestWorker({
      redisUrl: url,
      prefix,
      concurrency: 1,
      database: { databaseUrl: TEST_PG_URL, schema },
    });
    const executors = await new BullFoldExecutors({ redisUrl: url, prefix, probeMs: 500 }).ready();
    const watcher = new Redis(url, { maxRetriesPerRequest: null });
    watcher.on("error", () => undefined);
    try {
      let settled = false;
      const queued = evaluateCandidate(slow, { ...ctx, folds: executors.forIteration(run.id, 1) }).finally(
        () => {
          settled = true;
        },
      );
      await waitFor(
        async () => (await watcher.keys(`${prefix}:backtests:${run.id}:1:join-*`)).length > 0,
        20_000,
        "the flow",
      );
      server.kill("SIGKILL");
      await exited(server);
      expect(settled).toBe(false);
      await new Promise((r) => setTimeout(r, 1000));
      server = await startRedis(at);
      const ev = await queued;
      expect(ev.status).toBe("evaluated");
      expect(ev.folds).toEqual(local.folds);
      expect(ev.aggregate).toEqual(local.aggregate);
      expect(Array.from(ev.returns ?? [])).toEqual(Array.from(local.returns ?? []));
    } finally {
      watcher.disconnect();
      await executors.close();
      await backtests.close(5000);
      ctx.sandbox.dispose();
      server.kill("SIGKILL");
    }
  }, 120_000);
});
