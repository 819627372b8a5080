/**
 * What a `backtests` job does, independent of where it runs (a BullMQ sandboxed worker thread in
 * production, the test process in tests):
 * - `fold`: re-create one walk-forward fold from data — the stored run's frozen config (refused if
 *   its hash is not the job's), the search window's bars through the run's `RunWindows` (so the
 *   holdout is out of reach), the candidate compiled and run in the isolated-vm sandbox — and
 *   return its compact result. A candidate failing is a result, not a job failure; only
 *   infrastructure errors (database, bars) throw, and those are retried with backoff.
 * - `join`: put the children's results in fold order.
 */

import { createHash } from "node:crypto";
import { UnrecoverableError } from "bullmq";
import type { LoadResult, Sandbox } from "../backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../backtest/strategy-config.ts";
import type { Bars } from "../domain/bars.ts";
import type { FrozenRunConfig } from "../domain/run-config.ts";
import { evaluateFold, simulationOptions } from "../loop/fold-executor.ts";
import type { RunRepository } from "../loop/run-repository.ts";
import { frozenOf } from "../loop/runner.ts";
import { type BarSource, RunWindows } from "../loop/windows.ts";
import { resampleBars } from "../market/resample.ts";
import { encodePart, type FoldJobData, type FoldJobReceipt, type FoldJobResult } from "./backtest-jobs.ts";

export interface FoldJobDeps {
  readonly runs: Pick<RunRepository, "getRun">;
  readonly bars: BarSource;
  readonly sandbox: Sandbox;
  /** Runs whose config and bars are kept (default 8). */
  readonly cachedRuns?: number;
}

interface RunState {
  readonly frozen: FrozenRunConfig;
  readonly windows: RunWindows;
  readonly byTimeframe: Map<string, Promise<Bars>>;
}

/** Loaded strategies kept per thread: the evaluation in flight and the one before. */
const HANDLES_KEPT = 2;

export type FoldJobRunner = (data: FoldJobData) => Promise<FoldJobResult>;

export function foldJobRunner(deps: FoldJobDeps): FoldJobRunner {
  const states = new Map<string, Promise<RunState>>();
  const limit = deps.cachedRuns ?? 8;

  const stateOf = (runId: string): Promise<RunState> => {
    let s = states.get(runId);
    if (!s) {
      s = (async () => {
        const run = await deps.runs.getRun(runId);
        if (!run) throw new UnrecoverableError(`fold job for unknown run ${runId}`);
        const frozen = frozenOf(run);
        return { frozen, windows: new RunWindows(deps.bars, frozen.config), byTimeframe: new Map() };
      })();
      states.set(runId, s);
      // A failed lookup (database down) must not stick: the retry looks again.
      s.catch(() => states.delete(runId));
      while (states.size > limit) states.delete(states.keys().next().value as string);
    }
    return s;
  };

  // The folds of one candidate evaluation share one loaded strategy, as they do in-process (a
  // context costs a few ms to set up); another evaluation, even of the same code, gets a fresh one.
  const handles = new Map<string, Promise<LoadResult>>();
  const handleFor = (data: FoldJobData): Promise<LoadResult> => {
    const key = `${data.runId}:${data.iteration}:${createHash("sha256").update(data.code).digest("hex")}`;
    let h = handles.get(key);
    if (!h) {
      h = deps.sandbox.load(data.code);
      handles.set(key, h);
      while (handles.size > HANDLES_KEPT) {
        const oldest = handles.keys().next().value as string;
        void handles.get(oldest)?.then((l) => l.ok && l.handle.dispose());
        handles.delete(oldest);
      }
    }
    return h;
  };

  const barsAt = (
    runId: string,
    stateP: Promise<RunState>,
    state: RunState,
    timeframe: string,
  ): Promise<Bars> => {
    let b = state.byTimeframe.get(timeframe);
    if (!b) {
      const base = state.frozen.config.dataset.timeframe;
      b = state.windows
        .search()
        .then((bars) => (timeframe === base ? bars : resampleBars(bars, base, timeframe).bars));
      state.byTimeframe.set(timeframe, b);
      // A failure drops the run's state entirely (its byTimeframe keeps the failed promise), so
      // the job's retry loads again.
      b.catch(() => {
        if (states.get(runId) === stateP) states.delete(runId);
      });
    }
    return b;
  };

  return async (data) => {
    const index = data.fold.index;
    const stateP = stateOf(data.runId);
    const state = await stateP;
    if (state.frozen.hash !== data.configHash) {
      throw new UnrecoverableError(
        `fold job for run ${data.runId} carries config ${data.configHash.slice(0, 12)}, the run has ${state.frozen.hash.slice(0, 12)}`,
      );
    }
    const bars = await barsAt(data.runId, stateP, state, data.timeframe);
    const loaded = await handleFor(data);
    if (!loaded.ok) return { index, ok: false, error: loaded.error };
    const handle = loaded.handle;
    const parsed = parseStrategyConfig(data.configYaml, handle.meta.params);
    if (!parsed.ok) {
      return {
        index,
        ok: false,
        error: { kind: "config", message: parsed.errors.map((e) => e.message).join("\n") },
      };
    }
    const config = parsed.config;
    if (config.timeframe !== data.timeframe) {
      throw new UnrecoverableError(
        `fold job says timeframe ${data.timeframe}, the candidate's config says ${config.timeframe}`,
      );
    }
    const run = state.frozen.config;
    const r = await evaluateFold({
      handle,
      bars,
      fold: data.fold,
      params: config.params as Record<string, unknown>,
      sim: simulationOptions(config, run),
    });
    return r.ok ? { index, ok: true, part: encodePart(r.part) } : { index, ok: false, error: r.error };
  };
}

/**
 * The fold receipts the join's child passed on (keyed by job key, as `getChildrenValues` gives
 * them; the chain's last fold carries every fold's): all folds there, in fold order.
 */
export function joinReceipts(
  values: Record<string, readonly FoldJobReceipt[]>,
  folds: number,
): FoldJobReceipt[] {
  const out: FoldJobReceipt[] = [];
  for (const v of Object.values(values).flat()) out[v.index] = v;
  for (let i = 0; i < folds; i++) {
    if (!out[i]) throw new Error(`join: fold ${i} of ${folds} has no result`);
  }
  if (out.length !== folds) throw new Error(`join: ${out.length} results for ${folds} folds`);
  return out;
}
