/**
 * The research loop on the real store (Postgres), real sandbox and the heuristic driver: runs,
 * iterations, nudges claimed exactly once, the holdout evaluated once per pass, events in order,
 * budgets, pause/stop from outside, and a redone iteration that duplicates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import type { RunConfig } from "../../src/domain/run-config.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import type { CompletedIteration } from "../../src/loop/research-loop.ts";
import { buildLoop, createRun } from "../../src/loop/runner.ts";
import type { Db } from "../../src/store/db.ts";
import { openDb } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeTrendBars } from "../support/store-bars.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

function runConfig(extra = ""): RunConfig {
  return lenientRunConfig(
    `
dataset: { symbol: LOOPUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: 5 }
loop: { driver: heuristic, seed: 3, stuck_after: 3 }
`,
    extra,
  );
}

describe("research loop", () => {
  let db: Db;
  let runs: PgRunRepository;
  const schema = testSchema("loop");
  const sandbox = new Sandbox();
  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    await storeTrendBars(db, "LOOPUSD");
  });
  afterAll(async () => {
    sandbox.dispose();
    await dropSchema(db, schema);
  });

  async function driver() {
    return createDriver("heuristic", { library: await loadLibrary("strategies", sandbox) });
  }

  it("runs to its iteration budget, claims each nudge once, evaluates the holdout once per pass and emits events in order", async () => {
    const run = await createRun(runs, {
      brief: "trend test",
      config: runConfig(),
      driver: "heuristic",
      owner: "tester",
    });
    const seen: CompletedIteration[] = [];
    await runs.addNudge({
      runId: run.id,
      author: "alice",
      source: "cli",
      text: "try donchian-breakout",
      externalId: "m-1",
    });
    // The same Discord message delivered twice is one nudge.
    expect(
      await runs.addNudge({ runId: run.id, author: "alice", source: "cli", text: "dup", externalId: "m-1" }),
    ).toBeUndefined();
    const loop = buildLoop(run, {
      db,
      driver: await driver(),
      sandbox,
      onIteration: (it) => {
        seen.push(it);
        // A nudge arriving while iteration 2 runs must wait for iteration 3.
        if (it.n === 1)
          void runs.addNudge({ runId: run.id, author: "bob", source: "cli", text: "tighter stops please" });
      },
    });
    const end = await loop.run(new AbortController().signal);
    expect(end.status).toBe("completed");
    expect(end.statusReason).toBe("reached max_iterations (5)");

    const its = await runs.iterations(run.id);
    expect(its.map((i) => i.n)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.map((i) => i.n)).toEqual([1, 2, 3, 4, 5]);
    expect(its[0]?.name).toBe("donchian-breakout");

    const nudges = await runs.nudges(run.id);
    expect(nudges.map((n) => [n.text, n.claimedIteration])).toEqual([
      ["try donchian-breakout", 1],
      ["tighter stops please", 2],
    ]);
    expect(its[0]?.nudgeIds).toEqual([nudges[0]?.id]);
    expect(its.flatMap((i) => i.nudgeIds)).toHaveLength(2);

    const events = await runs.pendingEvents(1000, run.id);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("run.started");
    expect(types.at(-1)).toBe("run.finished");
    expect(types.filter((t) => t === "iteration.completed")).toHaveLength(5);
    expect(types.filter((t) => t === "nudge.applied")).toHaveLength(2);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    const iterEvents = events.filter((e) => e.type === "iteration.completed").map((e) => e.payload["n"]);
    expect(iterEvents).toEqual([1, 2, 3, 4, 5]);

    const passed = its.filter((i) => i.status === "passed");
    expect(passed.length).toBeGreaterThan(0);
    expect(end.passes).toBe(passed.length);
    for (const p of passed) {
      expect(p.holdout).toMatchObject({ ok: true });
      const gateEvent = events.findIndex((e) => e.type === "gate.passed" && e.payload["n"] === p.n);
      const holdoutEvent = events.findIndex((e) => e.type === "holdout.evaluated" && e.payload["n"] === p.n);
      expect(gateEvent).toBeGreaterThan(-1);
      expect(holdoutEvent).toBeGreaterThan(gateEvent);
    }
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM holdout_evaluations WHERE run_id = $1",
      [run.id],
    );
    expect(rows[0]?.n).toBe(passed.length);

    // Drivers never see the holdout: the history they get has no such field.
    const history = await runs.history(run.id);
    expect(JSON.stringify(history)).not.toContain("holdout");
  });

  it("redoes a half-done iteration without duplicating its trial, row or events", async () => {
    const run = await createRun(runs, {
      brief: "redo",
      config: runConfig("budgets: { max_iterations: 2 }"),
      driver: "heuristic",
    });
    const loop = buildLoop(run, { db, driver: await driver(), sandbox });
    const started = await runs.setStatus(run.id, "running", null, [], ["created"]);
    expect(started).toBe(true);
    // A process that died after recording the iteration's trial but before committing it: the
    // same iteration is simply run again.
    const first = await loop.iterate((await runs.getRun(run.id)) as never, new AbortController().signal);
    await db.query("DELETE FROM iterations WHERE run_id = $1", [run.id]);
    await db.query("DELETE FROM outbox WHERE run_id = $1", [run.id]);
    await db.query("UPDATE nudges SET claimed_iteration = NULL WHERE run_id = $1", [run.id]);
    const again = await loop.iterate((await runs.getRun(run.id)) as never, new AbortController().signal);
    expect(again.n).toBe(first.n);
    const trials = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM trials WHERE run_id = $1", [
      run.id,
    ]);
    expect(trials.rows[0]?.n).toBe(1);
    // Committing iteration 1 twice is refused: the second commit writes nothing.
    const third = await runs.commitIteration(
      {
        runId: run.id,
        n: 1,
        name: null,
        family: null,
        hypothesis: null,
        code: null,
        configYaml: null,
        status: "model_error",
        metrics: null,
        folds: null,
        gates: null,
        reasons: [],
        distance: null,
        decision: null,
        forced: null,
        nudgeIds: [],
        tokens: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 },
        timings: { proposeMs: 0, compileMs: 0, backtestMs: 0, gateMs: 0, decideMs: 0 },
        trialIds: [],
        backtests: 0,
        error: null,
        rawOutput: null,
        holdout: null,
      },
      { passesDelta: 0, bestDistance: null, bestIteration: null, tokens: 0, stuck: false },
      [],
    );
    expect(third).toBe(false);
    const events = await runs.pendingEvents(100, run.id);
    expect(events.filter((e) => e.type === "iteration.completed")).toHaveLength(1);
  });

  it("commits nothing of an iteration cut short by a pause or shutdown: its nudge waits for the redo", async () => {
    const run = await createRun(runs, {
      brief: "cut short",
      config: runConfig("budgets: { max_iterations: 2 }"),
      driver: "heuristic",
    });
    await runs.setStatus(run.id, "running", null, [], ["created"]);
    await runs.addNudge({ runId: run.id, author: "alice", source: "cli", text: "try rsi" });
    const loop = buildLoop(run, { db, driver: await driver(), sandbox });
    // The abort lands while the driver works (here: before it starts, the earliest point).
    const cut = new AbortController();
    cut.abort(new Error("worker closing"));
    await expect(loop.iterate((await runs.getRun(run.id)) as never, cut.signal)).rejects.toThrow(
      /worker closing/,
    );
    expect(await runs.iterations(run.id)).toHaveLength(0);
    expect((await runs.pendingNudges(run.id)).map((x) => x.text)).toEqual(["try rsi"]);
    expect(
      (await runs.pendingEvents(100, run.id)).filter((e) => e.type === "iteration.completed"),
    ).toHaveLength(0);
    // The redo uses the nudge.
    const redo = await loop.iterate((await runs.getRun(run.id)) as never, new AbortController().signal);
    expect(redo.n).toBe(1);
    expect(await runs.pendingNudges(run.id)).toHaveLength(0);
  });

  it("honours a pause from another process before the next iteration and resumes where it left off", async () => {
    const run = await createRun(runs, {
      brief: "pause",
      config: runConfig("budgets: { max_iterations: 3 }"),
      driver: "heuristic",
    });
    const loop = buildLoop(run, {
      db,
      driver: await driver(),
      sandbox,
      onIteration: (it) => {
        if (it.n === 1) void runs.setStatus(run.id, "paused", "paused from Discord", [], ["running"]);
      },
    });
    const paused = await loop.run(new AbortController().signal);
    expect(paused.status).toBe("paused");
    expect(paused.iterationsDone).toBeLessThanOrEqual(2);
    const resumed = await buildLoop(paused, { db, driver: await driver(), sandbox }).run(
      new AbortController().signal,
    );
    expect(resumed.status).toBe("completed");
    expect((await runs.iterations(run.id)).map((i) => i.n)).toEqual([1, 2, 3]);
  });

  it("rejects a stored config whose hash does not match", async () => {
    const run = await createRun(runs, { brief: "tamper", config: runConfig(), driver: "heuristic" });
    await db.query("UPDATE runs SET config = jsonb_set(config, '{gates,sharpe_min}', '0') WHERE id = $1", [
      run.id,
    ]);
    const tampered = await runs.getRun(run.id);
    expect(() => buildLoop(tampered as never, { db, driver: { name: "x" } as never, sandbox })).toThrow(
      /does not match its hash/,
    );
  });

  it("waits out a database outage mid-run, pauses with the reason, resumes by itself and finishes", async () => {
    const proxy = await startTcpProxy(5432);
    // The loop reaches Postgres only through the proxy, so the test can pull the plug on it alone.
    const viaProxy = await openDb({ url: `postgres://postgres@127.0.0.1:${proxy.port}/test`, schema });
    try {
      const run = await createRun(runs, {
        brief: "outage",
        config: runConfig("budgets: { max_iterations: 3 }\nloop: { auto_resume_seconds: 1 }"),
        driver: "heuristic",
      });
      let cut = false;
      const loop = buildLoop(run, {
        db: viaProxy,
        driver: await driver(),
        sandbox,
        onIteration: (it) => {
          if (it.n !== 1 || cut) return;
          cut = true;
          void proxy.cut().then(() => setTimeout(() => void proxy.restore(), 1500));
        },
      });
      const end = await loop.run(new AbortController().signal);
      expect(cut).toBe(true);
      expect(end.status).toBe("completed");
      expect((await runs.iterations(run.id)).map((i) => i.n)).toEqual([1, 2, 3]);
      const events = await runs.pendingEvents(100, run.id);
      const paused = events.find((e) => e.type === "run.paused");
      expect(paused?.payload["reason"]).toMatch(/^database unreachable since \d\d:\d\d UTC$/);
      expect(events.map((e) => e.type)).toContain("run.resumed");
      const trials = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM trials WHERE run_id = $1",
        [run.id],
      );
      expect(trials.rows[0]?.n).toBe(3);
    } finally {
      await viaProxy.close().catch(() => undefined);
      await proxy.close();
    }
  });
});
