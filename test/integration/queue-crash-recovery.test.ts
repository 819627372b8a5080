/**
 * A real worker process killed with SIGKILL in the middle of a run, another started: the run
 * finishes with every iteration, trial, nudge claim and outbox event exactly once (real Postgres,
 * real Redis, BullMQ's stalled-job recovery).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../src/loop/runner.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import { BullTransport, RESEARCH_QUEUE } from "../../src/queue/bull-transport.ts";
import { submitRun } from "../../src/queue/control.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, TEST_PG_URL, testSchema } from "../support/databases.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeBars } from "../support/store-bars.ts";
import { exited, waitFor } from "../support/wait.ts";

const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
const N = 6;

describe("worker killed with SIGKILL mid-run", () => {
  let db: Db;
  const schema = testSchema("qcrash");
  const prefix = `t-qcrash-${randomBytes(4).toString("hex")}`;
  const home = mkdtempSync(join(tmpdir(), "alphaloop-qcrash-"));
  const url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema},public`)}`;
  const env = { DATABASE_URL: url, ALPHALOOP_HOME: home, REDIS_URL, LLM_BASE_URL: "", LOG_LEVEL: "warn" };
  const children: ChildProcess[] = [];

  function worker(): ChildProcess {
    const child = spawn(
      process.execPath,
      [
        "--no-node-snapshot",
        "--import",
        "tsx",
        "test/support/worker-main.ts",
        "worker",
        "--prefix",
        prefix,
        // Short locks so the killed worker's iteration is picked up within seconds, not 30 s.
        "--lock-duration",
        "2000",
        "--stalled-interval",
        "1000",
        "--reconcile-seconds",
        "2",
        "--shutdown-timeout",
        "5",
      ],
      { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    db = await backends[0].open(schema);
    const trend = { drift: 1.2, volScale: 0.7 };
    await storeBars(
      db,
      "CRASHUSD",
      "1h",
      syntheticBars({
        n: 24 * 700,
        timeframe: "1h",
        start: "2020-01-01",
        seed: 23,
        regimes: { bull: trend, bear: trend, sideways: trend },
        annualVol: 0.5,
      }),
    );
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
    await dropSchema(db, schema);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it("finishes the run on another worker with nothing lost or doubled", async () => {
    const runs = new PgRunRepository(db);
    const config = lenientRunConfig(`
dataset: { symbol: CRASHUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: ${N} }
loop: { driver: heuristic, seed: 9, stuck_after: 3 }
`);
    const run = await createRun(runs, { brief: "crash", config, driver: "heuristic" });
    await runs.addNudge({ runId: run.id, author: "alice", source: "discord", text: "try donchian-breakout" });
    const producer = new BullTransport({ redisUrl: REDIS_URL, prefix });
    try {
      await submitRun(runs, producer, run.id);
    } finally {
      await producer.close();
    }

    const first = worker();
    let err = "";
    first.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const committed = async () =>
      Number(
        (
          await db.query<{ n: number }>("SELECT count(*)::int AS n FROM iterations WHERE run_id = $1", [
            run.id,
          ])
        ).rows[0]?.n ?? 0,
      );
    await waitFor(async () => (await committed()) >= 1, 60_000, "a committed iteration").catch(
      (e: unknown) => {
        throw new Error(`${(e as Error).message}; worker stderr: ${err.slice(-2000)}`);
      },
    );
    // A nudge arriving mid-run is claimed by exactly one later iteration, even across the crash.
    await runs.addNudge({ runId: run.id, author: "bob", source: "discord", text: "tighter stops please" });
    // Kill it in the middle of the next iteration (the heuristic's iterations take ~0.3 s).
    await new Promise((r) => setTimeout(r, 150));
    first.kill("SIGKILL");
    await exited(first);
    const before = await committed();
    expect(before).toBeLessThan(N);
    expect((await runs.getRun(run.id))?.status).toBe("running");
    // The dead worker held a job, taken and never completed: the next iteration's (killed
    // mid-iteration) or, when killed between a commit and the next enqueue, the committed one's.
    const inspector = new Queue(RESEARCH_QUEUE, { connection: { url: REDIS_URL }, prefix });
    try {
      const active = (await inspector.getActive()).map((j) => j.id);
      expect(active).toHaveLength(1);
      expect([`${run.id}:${before + 1}:iterate`, `${run.id}:${before}:iterate`]).toContain(active[0]);
    } finally {
      await inspector.close();
    }

    const second = worker();
    await waitFor(async () => (await runs.getRun(run.id))?.status !== "running", 60_000, "the run to end");
    second.kill("SIGTERM");
    expect(await exited(second)).toBe(0);

    const end = await runs.getRun(run.id);
    expect([end?.status, end?.iterationsDone]).toEqual(["completed", N]);
    const its = await runs.iterations(run.id);
    expect(its.map((i) => i.n)).toEqual([1, 2, 3, 4, 5, 6]);
    const trials = await db.query<{
      id: string | number;
      iteration: number;
      code_hash: string;
      config_hash: string;
    }>("SELECT id, iteration, code_hash, config_hash FROM trials WHERE run_id = $1 ORDER BY id", [run.id]);
    // Each iteration's one backtest is one trial, referenced once, from its own iteration.
    const referenced = its.flatMap((i) => i.trialIds.map((t) => ({ t: String(t), n: i.n })));
    expect(referenced).toHaveLength(N);
    expect(new Set(referenced.map((r) => r.t)).size).toBe(N);
    for (const r of referenced) expect(trials.rows.find((x) => String(x.id) === r.t)?.iteration).toBe(r.n);
    // The same candidate redone is never a second trial.
    const candidates = trials.rows.map((x) => `${x.iteration}:${x.code_hash}:${x.config_hash}`);
    expect(new Set(candidates).size).toBe(candidates.length);
    // The only other trial possible is the killed iteration's backtest of a candidate the redo did
    // not propose again (it saw bob's nudge, the killed attempt did not): a real backtest, counted.
    const orphans = trials.rows.filter((x) => !referenced.some((r) => r.t === String(x.id)));
    expect(orphans.length).toBeLessThanOrEqual(1);
    for (const o of orphans) expect(o.iteration).toBe(before + 1);
    const nudges = await runs.nudges(run.id);
    expect(nudges.map((x) => x.claimedIteration)).toEqual([1, expect.any(Number)]);
    expect(its.flatMap((i) => i.nudgeIds).sort()).toEqual(nudges.map((x) => x.id).sort());
    const events = await db.query<{ type: string; n: number; ids: number }>(
      "SELECT type, count(*)::int AS n, count(DISTINCT event_id)::int AS ids FROM outbox WHERE run_id = $1 GROUP BY type",
      [run.id],
    );
    const byType = Object.fromEntries(events.rows.map((r) => [r.type, r.n]));
    expect(byType["iteration.completed"]).toBe(N);
    expect(byType["nudge.applied"]).toBe(2);
    expect(byType["run.started"]).toBe(1);
    expect(byType["run.finished"]).toBe(1);
    for (const r of events.rows) expect(r.ids).toBe(r.n);
  }, 120_000);
});
