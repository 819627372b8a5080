/**
 * `alphaloop compare`: the same frozen config and the same backtest budget for each driver and
 * seed, each run through the real research loop, then the per-driver figures read back from the
 * store (src/loop/compare-report.ts turns them into the report).
 *
 * Fairness of the Deflated Sharpe: every trial lands in the one shared ledger, so run in sequence
 * the later drivers would be deflated by the earlier drivers' trials. Each run therefore judges
 * its candidates against a `ScopedLedger`: the window's ledger as it stood when the comparison
 * started, plus that run's own trials. Writes still go to the real ledger (later research on the
 * window counts them), and a run's figures do not depend on the order or on the other drivers.
 */
import { defaultSandbox, Sandbox } from "../backtest/sandbox/index.ts";
import { eventId } from "../domain/run.ts";
import { datasetKey, freezeRunConfig, type RunConfig, searchWindowHash } from "../domain/run-config.ts";
import type { Db } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { PgTrialLedger } from "../store/trial-ledger.ts";
import {
  type Comparison,
  type FinalCandidate,
  type HoldoutFigures,
  type PassingCandidate,
  type RunFigures,
  summarise,
} from "./compare-report.ts";
import { alignDaily } from "./daily-series.ts";
import type { Driver } from "./driver.ts";
import type {
  DailySeries,
  HoldoutRecord,
  LedgerTrial,
  NewTrial,
  TrialLedger,
  WindowStats,
} from "./ledger.ts";
import { ResearchLoop } from "./research-loop.ts";
import type { IterationRecord, RunRecord } from "./run-repository.ts";
import { createRun, frozenOf, StoreBarSource } from "./runner.ts";
import { averagePairwiseCorrelation, deflateSelection } from "./stats/index.ts";
import { type BarSource, RunWindows } from "./windows.ts";

/** Enough of the window's recent trials for the loop's correlation sample (it asks for 49). */
const BASELINE_RECENT = 200;

interface Baseline {
  readonly dataset: string;
  readonly windowHash: string;
  readonly stats: WindowStats;
  readonly recent: readonly LedgerTrial[];
}

/** A daily series as the store hands it back (returns are stored as float32). */
function asStored(d: DailySeries | undefined): DailySeries | null {
  return d ? { firstDay: d.firstDay, returns: Float32Array.from(d.returns) } : null;
}

/**
 * A trial ledger that writes through to the real one but answers the window questions (N, the
 * Sharpe spread, the recent trials for the correlation sample) from a snapshot taken before the
 * comparison plus the trials recorded through this instance.
 */
export class ScopedLedger implements TrialLedger {
  private readonly own: (LedgerTrial & { readonly independent: boolean })[] = [];

  constructor(
    private readonly inner: TrialLedger,
    private readonly baseline: Baseline,
  ) {}

  static async snapshot(inner: TrialLedger, dataset: string, windowHash: string): Promise<Baseline> {
    return {
      dataset,
      windowHash,
      stats: await inner.windowStats(dataset, windowHash),
      recent: await inner.recentOnWindow(dataset, windowHash, BASELINE_RECENT),
    };
  }

  /** Backtests recorded through this ledger (crashes included): the comparison's budget unit. */
  get recorded(): number {
    return this.own.length;
  }

  private scoped(dataset: string, windowHash: string): boolean {
    return dataset === this.baseline.dataset && windowHash === this.baseline.windowHash;
  }

  async record(t: NewTrial): Promise<number> {
    const id = await this.inner.record(t);
    // A retried iteration returns the id it already had: one trial, counted once.
    if (this.scoped(t.dataset, t.windowHash) && !this.own.some((o) => o.id === id)) {
      this.own.push({
        id,
        runId: t.runId ?? null,
        iteration: t.iteration ?? null,
        codeHash: t.codeHash,
        configHash: t.configHash,
        sharpe: t.sharpe ?? null,
        daily: asStored(t.daily),
        independent: t.independent,
      });
    }
    return id;
  }

  async windowStats(dataset: string, windowHash: string): Promise<WindowStats> {
    if (!this.scoped(dataset, windowHash)) return this.inner.windowStats(dataset, windowHash);
    const mine = this.own.flatMap((o) => (o.independent && o.sharpe !== null ? [o.sharpe] : []));
    const sharpes = [...this.baseline.stats.sharpes, ...mine];
    return { trials: sharpes.length, sharpes };
  }

  async recentOnWindow(dataset: string, windowHash: string, limit: number): Promise<LedgerTrial[]> {
    if (!this.scoped(dataset, windowHash)) return this.inner.recentOnWindow(dataset, windowHash, limit);
    const mine = this.own
      .filter((o) => o.independent && o.daily !== null)
      .reverse()
      .map(({ independent: _i, ...t }) => t);
    return [...mine, ...this.baseline.recent].slice(0, limit);
  }

  /** The store's answer: PgTrialLedger already reads a run's trials incrementally. */
  runTrials(runId: string): Promise<LedgerTrial[]> {
    return this.inner.runTrials(runId);
  }

  recordHoldout(h: HoldoutRecord): Promise<number> {
    return this.inner.recordHoldout(h);
  }

  holdoutPeeks(dataset: string, holdoutHash: string): Promise<number> {
    return this.inner.holdoutPeeks(dataset, holdoutHash);
  }
}

export interface CompareProgress {
  readonly driver: string;
  readonly seed: number;
  readonly runId: string;
  /** Runs finished so far (this one included once `finished`: it is counted before the call), of `total`. */
  readonly done: number;
  readonly total: number;
  readonly backtests: number;
  readonly budget: number;
  readonly passes: number;
  readonly bestDistance: number | null;
  readonly finished: boolean;
}

export interface CompareOptions {
  readonly db: Db;
  readonly drivers: readonly string[];
  readonly seeds: readonly number[];
  /** Backtests per run. */
  readonly budget: number;
  /** The frozen base config; each run gets it with its seed, its driver and the budget. */
  readonly config: RunConfig;
  readonly makeDriver: (name: string) => Promise<Driver>;
  readonly sandbox?: Sandbox;
  readonly bars?: BarSource;
  readonly brief?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: CompareProgress) => void;
  /** Runs side by side (each with its own sandbox); 1 = one after another. */
  readonly parallel?: number;
  readonly now?: () => number;
  /** Shown in the report as the way to reproduce it. */
  readonly command?: string;
}

/** The config one comparison run is frozen with. */
export function runConfigForComparison(
  base: RunConfig,
  driver: string,
  seed: number,
  budget: number,
): RunConfig {
  return {
    ...base,
    loop: {
      ...base.loop,
      seed,
      driver: driver as RunConfig["loop"]["driver"],
      // Every run spends the whole budget: "backtests to the first pass" and "best DSR" need it.
      stop_on_first_pass: false,
    },
    // Model-free drivers run one backtest per iteration, so this is the budget; a model can run
    // several per iteration and is also stopped by the backtest count (see compareDrivers).
    budgets: { ...base.budgets, max_iterations: budget },
  };
}

interface HoldoutRow {
  ok?: boolean;
  metrics?: Record<string, number>;
  error?: string;
  peeks?: number;
}

function holdoutFigures(h: unknown): HoldoutFigures | null {
  if (!h || typeof h !== "object") return null;
  const r = h as HoldoutRow;
  return {
    ok: r.ok === true,
    ...(r.metrics?.["sharpe"] === undefined ? {} : { sharpe: r.metrics["sharpe"] }),
    ...(r.metrics?.["totalReturn"] === undefined ? {} : { totalReturn: r.metrics["totalReturn"] }),
    ...(r.metrics?.["maxDrawdown"] === undefined ? {} : { maxDrawdown: r.metrics["maxDrawdown"] }),
    ...(r.error === undefined ? {} : { error: r.error }),
    peeks: r.peeks ?? 0,
  };
}

/** As the loop's judge does: the recent trials estimate the average correlation (effective N). */
const CORRELATION_SAMPLE = 50;

/**
 * The Deflated Sharpe of `selected` against everything its run tried (plus the ledger it started
 * from), i.e. judged after the whole search rather than at the moment it was found, when N was
 * smaller. Every trial with a Sharpe counts, duplicates included (slightly stricter than the judge).
 */
export interface LedgerBaseline {
  readonly sharpes: readonly number[];
  /** The window's most recent trials before the comparison, newest first. */
  readonly recent: readonly DailySeries[];
}

const EMPTY_BASELINE: LedgerBaseline = { sharpes: [], recent: [] };

export function endOfRunDsr(
  selected: LedgerTrial & { readonly daily: DailySeries },
  trials: readonly LedgerTrial[],
  baseline: LedgerBaseline = EMPTY_BASELINE,
): number | null {
  const sharpes = [...baseline.sharpes, ...trials.flatMap((t) => (t.sharpe === null ? [] : [t.sharpe]))];
  if (sharpes.length === 0) return null;
  // The same sample the judge takes: the newest trials first, then the ledger before the comparison.
  const own = trials.flatMap((t) => (t.daily && t.id !== selected.id ? [t.daily] : [])).reverse();
  const recent = [...own, ...baseline.recent].slice(0, CORRELATION_SAMPLE - 1);
  const aligned = alignDaily([selected.daily, ...recent]);
  const averageCorrelation = aligned.length >= 2 ? averagePairwiseCorrelation(aligned) : 0;
  try {
    return deflateSelection({ selected: selected.daily.returns, trialSharpes: sharpes, averageCorrelation })
      .dsr;
  } catch {
    return null;
  }
}

/** The per-run figures, from the run's stored iterations and its ledger trials. */
export function runFigures(
  run: Pick<RunRecord, "id" | "driver">,
  seed: number,
  iterations: readonly IterationRecord[],
  trials: readonly LedgerTrial[],
  wallMs: number,
  baseline: LedgerBaseline = EMPTY_BASELINE,
): RunFigures {
  const curve: (number | null)[] = [];
  let best: number | null = null;
  let spent = 0;
  let firstPass: number | null = null;
  let final: IterationRecord | undefined;
  let bestDsr: number | null = null;
  const passes: PassingCandidate[] = [];
  for (const it of iterations) {
    spent += it.backtests;
    if (it.distance !== null && (best === null || it.distance < best)) {
      best = it.distance;
      final = it;
    }
    for (let k = 0; k < it.backtests; k++) curve.push(best);
    const dsr = it.metrics?.["dsr"];
    if (dsr !== undefined && Number.isFinite(dsr) && (bestDsr === null || dsr > bestDsr)) bestDsr = dsr;
    if (it.status === "passed") {
      firstPass ??= spent;
      passes.push({
        iteration: it.n,
        name: it.name,
        family: it.family,
        dsr: dsr ?? null,
        holdout: holdoutFigures(it.holdout),
      });
    }
  }
  let finalCandidate: FinalCandidate | null = null;
  if (final && final.distance !== null) {
    // The candidate's own trial is the iteration's last (a model's exploration backtests come first).
    const trialId = final.trialIds.at(-1);
    const trial = trials.find((t) => t.id === trialId);
    finalCandidate = {
      iteration: final.n,
      name: final.name,
      family: final.family,
      distance: final.distance,
      daily: trial?.daily ?? null,
      endDsr: trial?.daily ? endOfRunDsr({ ...trial, daily: trial.daily }, trials, baseline) : null,
    };
  }
  return {
    driver: run.driver,
    seed,
    runId: run.id,
    iterations: iterations.length,
    backtests: spent,
    bestDistanceByBacktest: curve,
    backtestsToFirstPass: firstPass,
    passes,
    bestDsr,
    families: [...new Set(iterations.flatMap((i) => (i.family ? [i.family] : [])))].sort(),
    final: finalCandidate,
    crashed: iterations.filter((i) => i.status === "crashed").length,
    wallMs,
  };
}

/**
 * Runs every driver × seed to its budget, interleaved by seed (seed 1: every driver, seed 2: …) so
 * partial results are balanced if it is interrupted, `parallel` at a time, and returns the comparison.
 */
export async function compareDrivers(o: CompareOptions): Promise<Comparison> {
  if (!Number.isInteger(o.budget) || o.budget < 1)
    throw new Error(`budget must be a positive integer, got ${o.budget}`);
  if (o.drivers.length === 0) throw new Error("no drivers to compare");
  if (o.seeds.length === 0) throw new Error("no seeds");
  const now = o.now ?? Date.now;
  const started = now();
  const runs = new PgRunRepository(o.db);
  const ledger = new PgTrialLedger(o.db);
  const sandbox = o.sandbox ?? defaultSandbox();
  const bars = o.bars ?? new StoreBarSource(o.db);
  const base = freezeRunConfig(o.config);
  const dataset = datasetKey(base.config);
  const windowHash = searchWindowHash(base.config);
  const baseline = await ScopedLedger.snapshot(ledger, dataset, windowHash);

  const endBaseline: LedgerBaseline = {
    sharpes: baseline.stats.sharpes,
    recent: baseline.recent.flatMap((t) => (t.daily ? [t.daily] : [])),
  };
  const jobs = o.seeds.flatMap((seed) => o.drivers.map((name) => ({ seed, name })));
  const slots: (RunFigures | undefined)[] = new Array(jobs.length);
  let finishedRuns = 0;
  const parallel = Math.max(1, Math.min(o.parallel ?? 1, jobs.length));
  // One isolate runs one strategy at a time: parallel runs get their own sandbox each.
  const extra = Array.from({ length: parallel - 1 }, () => new Sandbox());
  const sandboxes = [sandbox, ...extra];

  const runJob = async (seed: number, name: string, jobSandbox: Sandbox): Promise<RunFigures> => {
    const t0 = now();
    const driver = await o.makeDriver(name);
    const created = await createRun(runs, {
      brief: o.brief ?? `driver comparison: ${name}, seed ${seed}, ${o.budget} backtests`,
      config: runConfigForComparison(o.config, name, seed, o.budget),
      driver: name,
      source: "compare",
    });
    const frozen = frozenOf(created);
    const scoped = new ScopedLedger(ledger, baseline);
    const controller = new AbortController();
    const stopOuter = () => controller.abort();
    o.signal?.addEventListener("abort", stopOuter, { once: true });
    let passes = 0;
    let bestDistance: number | null = null;
    const progress = (finished: boolean): CompareProgress => ({
      driver: name,
      seed,
      runId: created.id,
      done: finishedRuns,
      total: jobs.length,
      backtests: scoped.recorded,
      budget: o.budget,
      passes,
      bestDistance,
      finished,
    });
    const loop = new ResearchLoop(
      {
        runs,
        ledger: scoped,
        windows: new RunWindows(bars, frozen.config),
        sandbox: jobSandbox,
        // No guard around the driver: evaluation turns anything a candidate makes the simulator
        // throw into a crashed backtest, so an exception here is a harness bug and stops the comparison.
        driver,
        onIteration: (it) => {
          if (it.status === "passed") passes++;
          o.onProgress?.(progress(false));
          // A model may run several backtests in one iteration: stop once the budget is spent.
          if (scoped.recorded >= o.budget) controller.abort();
        },
      },
      frozen,
      created.id,
    );
    try {
      let end = await loop.run(controller.signal);
      if (end.status === "running" && !o.signal?.aborted) {
        await runs.setStatus(
          end.id,
          "completed",
          `comparison budget of ${o.budget} backtests spent`,
          [
            {
              eventId: eventId(end.id, "run.finished"),
              runId: end.id,
              type: "run.finished",
              payload: {
                status: "completed",
                reason: "comparison budget spent",
                iterations: end.iterationsDone,
              },
            },
          ],
          ["running"],
        );
        end = (await runs.getRun(end.id)) as RunRecord;
      } else if (end.status === "running") {
        await runs.setStatus(end.id, "stopped", "comparison interrupted", [], ["running"]);
      }
      bestDistance = end.bestDistance;
      const f = runFigures(
        end,
        seed,
        await runs.iterations(end.id),
        await ledger.runTrials(end.id),
        now() - t0,
        endBaseline,
      );
      finishedRuns++;
      o.onProgress?.(progress(true));
      return f;
    } finally {
      o.signal?.removeEventListener("abort", stopOuter);
    }
  };

  // Jobs are taken in order (seed 1: every driver, seed 2: …); results keep that order whatever
  // finishes first. Runs do not see each other's trials, so running them side by side changes
  // nothing but the holdout peek counts, which are shared by design.
  let next = 0;
  try {
    await Promise.all(
      sandboxes.map(async (sb) => {
        for (;;) {
          if (o.signal?.aborted) return;
          const i = next++;
          const job = jobs[i];
          if (!job) return;
          slots[i] = await runJob(job.seed, job.name, sb);
        }
      }),
    );
  } finally {
    for (const sb of extra) sb.dispose();
  }
  const figures = slots.filter((f): f is RunFigures => f !== undefined);

  const after = await ledger.windowStats(dataset, windowHash);
  const w = base.config.windows;
  return summarise(
    {
      drivers: o.drivers,
      seeds: o.seeds,
      budget: o.budget,
      dataset,
      searchWindow: `${w.search.start} → ${w.search.end}`,
      holdoutWindow: `${w.holdout.start} → ${w.holdout.end}`,
      configHash: base.hash,
      gates: base.config.gates as unknown as Record<string, unknown>,
      ledgerBefore: baseline.stats.trials,
      ledgerAfter: after.trials,
      wallMs: now() - started,
      ...(o.command ? { command: o.command } : {}),
    },
    figures,
  );
}
