import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScalarMetrics } from "../../src/backtest/metrics.ts";
import { freezeRunConfig, loadRunConfig, searchWindowHash } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import type { Evaluation } from "../../src/loop/evaluate.ts";
import { judge } from "../../src/loop/judge.ts";
import { createRandom } from "../../src/market/prng.ts";
import type { Db } from "../../src/store/db.ts";
import { PgTrialLedger } from "../../src/store/trial-ledger.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";

const DAY = 86_400_000;
const run = freezeRunConfig(
  loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    {
      text: "gates: { sharpe_min: 0.5, trades_min: 5, profit_factor_min: 1.0, folds_positive_min: 2 }\n",
      source: "t",
    },
  ]),
);

const windowHash = searchWindowHash(run.config);

/** A backtested candidate with `days` daily returns of the given drift, as evaluateCandidate returns it. */
function evaluation(seed: number, drift: number, days = 700, code = `code-${seed}`): Evaluation {
  const rng = createRandom(seed);
  const returns = new Float64Array(days);
  for (let i = 0; i < days; i++) returns[i] = drift + 0.02 * rng.normal();
  const day = new Float64Array(days);
  for (let i = 0; i < days; i++) day[i] = Date.UTC(2020, 0, 1) + i * DAY;
  let e = 1;
  for (const r of returns) e *= 1 + r;
  const aggregate = {
    sharpe: (drift / 0.02) * Math.sqrt(365),
    maxDrawdown: 0.1,
    profitFactor: 1.5,
    tradeCount: 80,
    totalReturn: e - 1,
  } as ScalarMetrics;
  const fold = { index: 0, from: 0, to: 0, metrics: { ...aggregate, totalReturn: drift > 0 ? 0.1 : -0.1 } };
  return {
    status: "evaluated",
    policyViolations: [],
    folds: [fold, { ...fold, index: 1 }, { ...fold, index: 2 }, { ...fold, index: 3 }],
    aggregate,
    daily: { day, returns },
    codeHash: code,
    configHash: "cfg",
    strategy: { name: `s${seed}`, family: "trend", description: "", params: {} },
    timings: { compileMs: 0, backtestMs: 0, lookaheadMs: 0, totalMs: 0 },
  };
}

describe.each(backends)("trial ledger on $name", ({ name, open }) => {
  let db: Db;
  const schema = testSchema(`ledger_${name}`);
  beforeAll(async () => {
    db = await open(schema);
  });
  afterAll(() => dropSchema(db, schema));

  it("counts every trial on a window across runs and drivers", async () => {
    const ledger = new PgTrialLedger(db);
    for (let i = 0; i < 3; i++)
      await judge(evaluation(i, 0), { run, ledger, driver: "heuristic", runId: "run-a", iteration: i + 1 });
    for (let i = 3; i < 5; i++)
      await judge(evaluation(i, 0), { run, ledger, driver: "llm", runId: "run-b", iteration: i - 2 });
    const stats = await ledger.windowStats("BTCUSDT:1h", windowHash);
    expect(stats.trials).toBe(5);
    expect(stats.sharpes).toHaveLength(5);
  });

  it("deflates the same Sharpe more as the ledger grows", async () => {
    const ledger = new PgTrialLedger(db);
    const strong = evaluation(100, 0.003);
    const dsrs: number[] = [];
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 15; i++) {
        await judge(evaluation(1000 + batch * 100 + i, 0.0005 * ((i % 5) - 2)), {
          run,
          ledger,
          driver: "random",
          runId: `noise-${batch}`,
          iteration: i + 1,
        });
      }
      const j = await judge(strong, { run, ledger, driver: "llm", runId: `probe-${batch}`, iteration: 1 });
      dsrs.push(j.deflation?.dsr as number);
    }
    expect(dsrs[1]).toBeLessThan(dsrs[0] as number);
    expect(dsrs[2]).toBeLessThan(dsrs[1] as number);
  });

  it("discards a repeat of an earlier candidate as a duplicate and does not count it as a new trial", async () => {
    const ledger = new PgTrialLedger(db);
    const runId = "dup-run";
    const first = await judge(evaluation(7, 0.001, 700, "same"), {
      run,
      ledger,
      driver: "llm",
      runId,
      iteration: 1,
    });
    expect(first.duplicateOf).toBeUndefined();
    const before = await ledger.windowStats("BTCUSDT:1h", windowHash);
    const again = await judge(evaluation(7, 0.001, 700, "same"), {
      run,
      ledger,
      driver: "llm",
      runId,
      iteration: 2,
    });
    expect(again.duplicateOf).toEqual({ iteration: 1 });
    expect(again.verdict.reasons[0]).toBe("duplicate of #1 (same code and config)");
    // Different code, but the same returns (a renamed copy): caught by correlation.
    const renamed = await judge(evaluation(7, 0.001, 700, "renamed"), {
      run,
      ledger,
      driver: "llm",
      runId,
      iteration: 3,
    });
    expect(renamed.duplicateOf?.iteration).toBe(1);
    expect(renamed.verdict.reasons[0]).toBe("duplicate of #1 (ρ 1.00)");
    const after = await ledger.windowStats("BTCUSDT:1h", windowHash);
    expect(after.trials).toBe(before.trials);
  });

  it("records a crashed candidate with its error and without returns", async () => {
    const ledger = new PgTrialLedger(db);
    const crashed: Evaluation = {
      status: "crash",
      error: { kind: "runtime", message: "TypeError: x is undefined\n  at signals", line: 12 },
      policyViolations: [],
      folds: [],
      codeHash: "c",
      configHash: "c",
      timings: { compileMs: 0, backtestMs: 0, lookaheadMs: 0, totalMs: 0 },
    };
    const j = await judge(crashed, { run, ledger, driver: "llm", runId: "crash-run", iteration: 1 });
    expect(j.status).toBe("crashed");
    expect(j.verdict.reasons).toEqual(["runtime (line 12): TypeError: x is undefined"]);
    const { rows } = await db.query<{ status: string; daily_returns: unknown; independent: boolean }>(
      "SELECT status, daily_returns, independent FROM trials WHERE id = $1",
      [j.trialId],
    );
    expect(rows[0]).toEqual({ status: "crashed", daily_returns: null, independent: false });
  });

  it("never writes a retried iteration twice", async () => {
    const ledger = new PgTrialLedger(db);
    const ctx = {
      run,
      ledger,
      driver: "llm",
      runId: "retry-run",
      iteration: 1,
      idempotencyKey: "retry-run:1",
    };
    const a = await judge(evaluation(55, 0.001), ctx);
    const b = await judge(evaluation(55, 0.001), ctx);
    expect(b.trialId).toBe(a.trialId);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM trials WHERE run_id = 'retry-run'",
    );
    expect(rows[0]?.n).toBe(1);
  });

  it("a long-lived ledger reads a run's trials incrementally and still answers what a fresh read does", async () => {
    const worker1 = new PgTrialLedger(db);
    const worker2 = new PgTrialLedger(db);
    const add = (l: PgTrialLedger, iteration: number, k: string, day = 0.001) =>
      l.record({
        dataset: "INC:1h",
        windowHash: "w",
        runId: "inc-run",
        iteration,
        driver: "ga",
        codeHash: `c${k}`,
        configHash: `k${k}`,
        status: "discarded",
        independent: true,
        sharpe: 0.5,
        daily: { firstDay: Date.UTC(2020, 0, 1), returns: Float64Array.from([day, -day, 2 * day]) },
        idempotencyKey: `inc-run:${k}`,
      });
    const fresh = () => new PgTrialLedger(db).runTrials("inc-run");
    await add(worker1, 1, "a");
    await add(worker1, 2, "b");
    expect(await worker1.runTrials("inc-run")).toEqual(await fresh());
    // The run moves to another worker for iteration 3, then comes back; a redone iteration 2
    // records a second candidate after iteration 3's trial: the order stays (iteration, id).
    await add(worker2, 3, "c");
    await add(worker2, 2, "b2", 0.002);
    const seen = await worker1.runTrials("inc-run");
    expect(seen.map((t) => [t.iteration, t.codeHash])).toEqual([
      [1, "ca"],
      [2, "cb"],
      [2, "cb2"],
      [3, "cc"],
    ]);
    expect(seen).toEqual(await fresh());
    // A retried record (same idempotency key) is still one trial.
    await add(worker1, 3, "c");
    expect(await worker1.runTrials("inc-run")).toHaveLength(4);
    // Callers may mutate what they get without touching the ledger's copy.
    seen.pop();
    expect(await worker1.runTrials("inc-run")).toHaveLength(4);
  });

  it("a long-lived ledger's correlation sample is what a fresh read gives, as the window moves on", async () => {
    const worker1 = new PgTrialLedger(db);
    const worker2 = new PgTrialLedger(db);
    const add = (l: PgTrialLedger, k: number, independent = true) =>
      l.record({
        dataset: "WIN:1h",
        windowHash: "w",
        runId: `win-run-${k % 2}`,
        iteration: k,
        driver: "ga",
        codeHash: `c${k}`,
        configHash: "k",
        status: "discarded",
        independent,
        sharpe: 0.1 * k,
        daily: { firstDay: Date.UTC(2020, 0, 1), returns: Float64Array.from([k, -k, 2 * k]) },
        idempotencyKey: `win:${k}`,
      });
    const fresh = () => new PgTrialLedger(db).recentOnWindow("WIN:1h", "w", 3);
    for (const k of [1, 2, 3]) await add(worker1, k);
    expect(await worker1.recentOnWindow("WIN:1h", "w", 3)).toEqual(await fresh());
    // Trials written elsewhere (another worker, another run) move the sample on; a dependent one
    // is never in it.
    await add(worker2, 4);
    await add(worker2, 5, false);
    await add(worker1, 6);
    const sample = await worker1.recentOnWindow("WIN:1h", "w", 3);
    expect(sample.map((t) => t.codeHash)).toEqual(["c6", "c4", "c3"]);
    expect(sample).toEqual(await fresh());
    expect(Array.from(sample[1]?.daily?.returns ?? [])).toEqual([4, -4, 8]);
  });

  it("two reads of a run's trials at once hold each trial once", async () => {
    const ledger = new PgTrialLedger(db);
    expect(await ledger.runTrials("twice-run")).toEqual([]);
    for (const k of ["a", "b"]) {
      await ledger.record({
        dataset: "TWICE:1h",
        windowHash: "w",
        runId: "twice-run",
        iteration: 1,
        driver: "ga",
        codeHash: `c${k}`,
        configHash: "k",
        status: "crashed",
        independent: false,
        idempotencyKey: `twice:${k}`,
      });
    }
    const [a, b] = await Promise.all([ledger.runTrials("twice-run"), ledger.runTrials("twice-run")]);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(await ledger.runTrials("twice-run")).toHaveLength(2);
  });

  it("stores daily returns compactly and reads them back", async () => {
    const ledger = new PgTrialLedger(db);
    const ev = evaluation(77, 0.001, 30);
    await judge(ev, { run, ledger, driver: "llm", runId: "bytes-run", iteration: 1 });
    const [t] = await ledger.runTrials("bytes-run");
    expect(t?.daily?.firstDay).toBe(Date.UTC(2020, 0, 1));
    expect(t?.daily?.returns.length).toBe(30);
    const orig = ev.daily?.returns as Float64Array;
    for (const [i, r] of (t?.daily?.returns ?? []).entries()) expect(r).toBeCloseTo(orig[i] as number, 6);
  });

  it("counts holdout peeks per window", async () => {
    const ledger = new PgTrialLedger(db);
    expect(
      await ledger.recordHoldout({ dataset: "BTCUSDT:1h", holdoutHash: "h1", metrics: { sharpe: 1 } }),
    ).toBe(1);
    expect(
      await ledger.recordHoldout({
        dataset: "BTCUSDT:1h",
        holdoutHash: "h1",
        metrics: { sharpe: 2 },
        idempotencyKey: "k",
      }),
    ).toBe(2);
    expect(
      await ledger.recordHoldout({
        dataset: "BTCUSDT:1h",
        holdoutHash: "h1",
        metrics: { sharpe: 2 },
        idempotencyKey: "k",
      }),
    ).toBe(2);
    expect(await ledger.holdoutPeeks("BTCUSDT:1h", "h2")).toBe(0);
  });
});
