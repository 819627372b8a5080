/**
 * The driver comparison against real Postgres on synthetic bars: every driver × seed run goes
 * through the research loop to exactly its budget, the figures match what the store holds, the
 * scoped ledger keeps runs from deflating each other while every trial still lands in the ledger,
 * and the command writes the report and the chart config.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { register } from "../../src/cli/compare-command.ts";
import { datasetKey, loadRunConfig, type RunConfig, searchWindowHash } from "../../src/domain/run-config.ts";
import { compareDrivers, endOfRunDsr, ScopedLedger } from "../../src/loop/compare.ts";
import type { Comparison } from "../../src/loop/compare-report.ts";
import { DEFAULT_CONFIG_PATH, PROJECT_ROOT } from "../../src/loop/config-files.ts";
import type { Driver } from "../../src/loop/driver.ts";
import { createDriver, type ModelFreeDriverName } from "../../src/loop/drivers/index.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { PgTrialLedger } from "../../src/store/trial-ledger.ts";
import { captureStdout } from "../support/capture-stdout.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { storeBars } from "../support/store-bars.ts";

const SYMBOL = "SYNUSDT";
const WINDOWS = `
dataset: { symbol: ${SYMBOL}, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2020-11-01" }
  holdout: { start: "2020-11-01", end: "2021-01-10" }
walk_forward: { folds: 4, warmup_bars: 300 }
`;
const lenientPath = join(PROJECT_ROOT, "configs/presets/lenient.yaml");

function config(): RunConfig {
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    { text: readFileSync(lenientPath, "utf8"), source: lenientPath },
    { text: WINDOWS, source: "test windows" },
  ]);
}

const postgres = backends[0];

describe("alphaloop compare on synthetic bars (Postgres)", () => {
  const schema = testSchema("compare");
  const sandbox = new Sandbox({ timeoutMs: 5000 });
  let db: Db;
  let comparison: Comparison;
  const progress: string[] = [];
  const BUDGET = 3;

  beforeAll(async () => {
    db = await postgres.open(schema);
    await storeBars(
      db,
      SYMBOL,
      "1h",
      syntheticBars({ n: 9000, timeframe: "1h", start: "2020-01-01", seed: 5 }),
    );
    const library = await loadLibrary("strategies", sandbox);
    comparison = await compareDrivers({
      db,
      drivers: ["heuristic", "random"],
      seeds: [1, 2],
      budget: BUDGET,
      config: config(),
      sandbox,
      makeDriver: async (name) => createDriver(name as ModelFreeDriverName, { library }),
      onProgress: (p) => {
        if (p.finished) progress.push(`${p.done}/${p.total} ${p.driver}:${p.seed}`);
      },
    });
  }, 120_000);

  afterAll(async () => {
    sandbox.dispose();
    await dropSchema(db, schema);
  });

  it("runs every driver × seed, interleaved by seed, each to exactly the budget", async () => {
    expect(comparison.runs.map((r) => `${r.driver}:${r.seed}`)).toEqual([
      "heuristic:1",
      "random:1",
      "heuristic:2",
      "random:2",
    ]);
    expect(progress).toEqual(["1/4 heuristic:1", "2/4 random:1", "3/4 heuristic:2", "4/4 random:2"]);
    const runs = new PgRunRepository(db);
    const ledger = new PgTrialLedger(db);
    for (const f of comparison.runs) {
      const run = await runs.getRun(f.runId);
      expect(run?.status).toBe("completed");
      expect(run?.driver).toBe(f.driver);
      expect(run?.config.loop.seed).toBe(f.seed);
      expect(run?.config.budgets.max_iterations).toBe(BUDGET);
      expect(run?.config.loop.stop_on_first_pass).toBe(false);
      const iterations = await runs.iterations(f.runId);
      expect(iterations).toHaveLength(BUDGET);
      expect(iterations.reduce((s, i) => s + i.backtests, 0)).toBe(BUDGET);
      expect(await ledger.runTrials(f.runId)).toHaveLength(BUDGET);
      expect(f.backtests).toBe(BUDGET);
      expect(f.bestDistanceByBacktest).toHaveLength(BUDGET);
    }
  });

  it("the figures are the stored iterations' figures", async () => {
    const runs = new PgRunRepository(db);
    for (const f of comparison.runs) {
      const run = await runs.getRun(f.runId);
      const its = await runs.iterations(f.runId);
      const passed = its.filter((i) => i.status === "passed");
      expect(f.passes.map((p) => p.iteration)).toEqual(passed.map((i) => i.n));
      expect(f.backtestsToFirstPass).toBe(passed[0] ? passed[0].n : null);
      const dsrs = its.flatMap((i) => (i.metrics?.["dsr"] === undefined ? [] : [i.metrics["dsr"]]));
      expect(f.bestDsr).toBe(dsrs.length ? Math.max(...dsrs) : null);
      expect(f.families).toEqual([...new Set(its.flatMap((i) => (i.family ? [i.family] : [])))].sort());
      expect(f.bestDistanceByBacktest.at(-1)).toBe(run?.bestDistance);
      expect(f.final?.iteration).toBe(run?.bestIteration);
      if (f.final?.daily) {
        expect(f.final.endDsr).toBeGreaterThanOrEqual(0);
        expect(f.final.endDsr).toBeLessThanOrEqual(1);
      }
      for (const p of f.passes) {
        const h = passed.find((i) => i.n === p.iteration)?.holdout as { peeks: number } | null;
        expect(p.holdout?.peeks).toBe(h?.peeks);
      }
    }
    for (const d of comparison.drivers) {
      const mine = comparison.runs.filter((r) => r.driver === d.driver);
      expect(d.seeds).toBe(2);
      expect(d.runsWithPass).toBe(mine.filter((r) => r.passes.length > 0).length);
      expect(d.passes).toHaveLength(mine.reduce((s, r) => s + r.passes.length, 0));
      expect(d.curve).toHaveLength(BUDGET);
    }
    // Every backtest is in the shared ledger, so later research on the window is deflated by it.
    const dataset = datasetKey(config());
    const stats = await new PgTrialLedger(db).windowStats(dataset, searchWindowHash(config()));
    expect(comparison.meta.ledgerBefore).toBe(0);
    expect(comparison.meta.ledgerAfter).toBe(stats.trials);
    expect(stats.trials).toBeGreaterThan(0);
  });

  it("the final DSR is deflated by the ledger the comparison started from, not only by its own run", async () => {
    const ledger = new PgTrialLedger(db);
    const dataset = datasetKey(config());
    const hash = searchWindowHash(config());
    const before = await ledger.windowStats(dataset, hash);
    const recent = await ledger.recentOnWindow(dataset, hash, 200);
    const library = await loadLibrary("strategies", sandbox);
    const again = await compareDrivers({
      db,
      drivers: ["heuristic"],
      seeds: [1],
      budget: 1,
      config: config(),
      sandbox,
      makeDriver: async () => createDriver("heuristic", { library }),
    });
    const f = again.runs[0];
    const daily = f?.final?.daily;
    if (!f || !daily) throw new Error("the heuristic's first candidate has no daily returns");
    const trials = await ledger.runTrials(f.runId);
    const own = trials.find((t) => t.iteration === f.final?.iteration);
    if (!own) throw new Error("no trial for the final candidate");
    const selected = { ...own, daily };
    const baseline = { sharpes: before.sharpes, recent: recent.flatMap((t) => (t.daily ? [t.daily] : [])) };
    expect(again.meta.ledgerBefore).toBe(before.trials);
    expect(f.final?.endDsr).toBe(endOfRunDsr(selected, trials, baseline));
    // With one trial of its own and nothing before it, the DSR would not be deflated at all.
    expect(endOfRunDsr(selected, trials)).not.toBe(f.final?.endDsr);
  }, 60_000);

  it("a scoped ledger sees the baseline and its own trials, never a sibling run's", async () => {
    const inner = new PgTrialLedger(db);
    const dataset = "SCOPED:1h";
    const windowHash = "w-scoped";
    const trial = (runId: string, n: number, sharpe: number) => ({
      dataset,
      windowHash,
      runId,
      iteration: n,
      driver: "test",
      codeHash: `c${runId}${n}`,
      configHash: "k",
      status: "discarded" as const,
      independent: true,
      sharpe,
      daily: { firstDay: Date.UTC(2020, 0, 1), returns: Float64Array.from([0.01, -0.02, 0.03]) },
      idempotencyKey: `${runId}:${n}`,
    });
    await inner.record(trial("before", 1, 0.1));
    const baseline = await ScopedLedger.snapshot(inner, dataset, windowHash);
    const a = new ScopedLedger(inner, baseline);
    const b = new ScopedLedger(inner, baseline);
    await a.record(trial("a", 1, 0.2));
    await a.record(trial("a", 1, 0.2)); // a retry: the same trial, counted once
    await b.record(trial("b", 1, 0.3));
    await b.record(trial("b", 2, 0.4));
    expect((await a.windowStats(dataset, windowHash)).sharpes).toEqual([0.1, 0.2]);
    expect((await b.windowStats(dataset, windowHash)).sharpes).toEqual([0.1, 0.3, 0.4]);
    expect((await b.recentOnWindow(dataset, windowHash, 2)).map((t) => t.runId)).toEqual(["b", "b"]);
    expect((await a.recentOnWindow(dataset, windowHash, 5)).map((t) => t.runId)).toEqual(["a", "before"]);
    expect(a.recorded).toBe(1);
    expect((await inner.windowStats(dataset, windowHash)).trials).toBe(4);
  });

  it("a candidate the simulator cannot honour is a crashed backtest, not a dead comparison", async () => {
    const library = await loadLibrary("strategies", sandbox);
    const ema = library.find((e) => e.name === "ema-cross");
    if (!ema) throw new Error("the library has no ema-cross");
    // A take-profit in R with no stop to define R: once a simulator exception, now a config error.
    const broken = `${ema.configYaml.replace(/^risk:.*$/m, "")}\nrisk:\n  take_profit: { r_multiple: 2 }\n`;
    const driver: Driver = {
      name: "broken",
      propose: async () => ({
        candidate: { code: ema.code, configYaml: broken, name: ema.name, family: ema.family },
        hypothesis: "a take-profit in R with no stop to define R",
      }),
      decide: async () => ({ decision: "tune", rationale: "again", nextHypothesis: "the same again" }),
    };
    const c = await compareDrivers({
      db,
      drivers: ["broken"],
      seeds: [7],
      budget: 2,
      config: config(),
      sandbox,
      makeDriver: async () => driver,
    });
    const f = c.runs[0];
    expect(f?.backtests).toBe(2);
    expect(f?.crashed).toBe(2);
    const its = await new PgRunRepository(db).iterations(f?.runId as string);
    expect(its.map((i) => i.status)).toEqual(["crashed", "crashed"]);
    expect(its[0]?.reasons[0]).toMatch(
      /^config: risk\.take_profit\.r_multiple: take_profit\.r_multiple needs a stop_loss/,
    );
    expect(await new PgTrialLedger(db).runTrials(f?.runId as string)).toHaveLength(2);
  }, 60_000);

  it("the command writes the report and the chart config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alphaloop-compare-"));
    const windowsFile = join(dir, "windows.yaml");
    writeFileSync(windowsFile, WINDOWS);
    const out = join(dir, "report.md");
    let stdout = "";
    const stderr: string[] = [];
    const program = new Command().exitOverride();
    register(program, {
      openDb: () => postgres.open(schema),
      write: (t) => {
        stdout += t;
      },
      progress: (t) => stderr.push(t),
      env: {},
    });
    await program.parseAsync(
      [
        "compare",
        "--drivers",
        "ga",
        "--budget",
        "2",
        "--seeds",
        "1",
        "--config",
        lenientPath,
        windowsFile,
        "--out",
        out,
      ],
      { from: "user" },
    );
    const report = readFileSync(out, "utf8");
    expect(stdout).toContain(report);
    expect(report).toMatch(/^\| ga \| [01]\/1 \|/m);
    expect(report).toContain("Budget 2 backtests per run, seeds 1");
    const chart = JSON.parse(readFileSync(join(dir, "report.chart.json"), "utf8"));
    expect(chart.data.datasets.map((d: { label: string }) => d.label)).toEqual(["ga"]);
    expect(chart.data.labels).toEqual([1, 2]);
    expect(stderr.some((l) => l.startsWith("[1/1] ga seed 1"))).toBe(true);
    // This comparison started after the first one: its baseline holds the earlier trials.
    expect(report).toMatch(/Independent trials on this window: [1-9]\d* before/);
  }, 60_000);

  it("the command runs every driver with --islands N", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alphaloop-compare-islands-"));
    const windowsFile = join(dir, "windows.yaml");
    writeFileSync(windowsFile, WINDOWS);
    const out = join(dir, "report.md");
    const program = new Command().exitOverride();
    register(program, { openDb: () => postgres.open(schema), write: () => {}, progress: () => {}, env: {} });
    const args = ["compare", "--drivers", "random", "--budget", "2", "--seeds", "1"];
    const files = ["--config", lenientPath, windowsFile, "--out", out, "--json"];
    const { stdout, error } = await captureStdout(() =>
      program.parseAsync([...args, "--islands", "2", ...files], { from: "user" }),
    );
    if (error) throw error;
    const runId = (JSON.parse(stdout) as { runs: { runId: string }[] }).runs[0]?.runId as string;
    const runs = new PgRunRepository(db);
    expect((await runs.getRun(runId))?.config.loop.islands).toBe(2);
    const events = (await runs.pendingEvents(1000, runId)).filter((e) => e.type === "iteration.completed");
    expect(events.map((e) => e.payload["island"])).toEqual([0, 1]);
    expect(readFileSync(out, "utf8")).toContain("--islands 2");
    await expect(program.parseAsync([...args, "--islands", "0", ...files], { from: "user" })).rejects.toThrow(
      /--islands must be a positive integer/,
    );
    await expect(
      program.parseAsync([...args, "--islands", "17", ...files], { from: "user" }),
    ).rejects.toThrow(/loop\.islands: at most 16 islands/);
  }, 60_000);

  it("the command refuses an unknown driver and a bad budget", async () => {
    const program = new Command().exitOverride();
    register(program, { openDb: () => postgres.open(schema), write: () => {}, progress: () => {}, env: {} });
    await expect(
      program.parseAsync(["compare", "--drivers", "heuristic,bogus"], { from: "user" }),
    ).rejects.toThrow(/unknown driver "bogus"/);
    await expect(program.parseAsync(["compare", "--budget", "0"], { from: "user" })).rejects.toThrow(
      /--budget must be a positive integer/,
    );
    await expect(program.parseAsync(["compare", "--drivers", "llm"], { from: "user" })).rejects.toThrow(
      /LLM_BASE_URL/,
    );
  });
});
