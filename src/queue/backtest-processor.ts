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
import { UnrecoverableError } from "bullmq";
import type { Sandbox } from "../backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../backtest/strategy-config.ts";
import type { Bars } from "../domain/bars.ts";
import type { FrozenRunConfig } from "../domain/run-config.ts";
import { evaluateFold } from "../loop/fold-executor.ts";
import type { RunRepository } from "../loop/run-repository.ts";
import { frozenOf } from "../loop/runner.ts";
import { type BarSource, RunWindows } from "../loop/windows.ts";
import { resampleBars } from "../market/resample.ts";
import { encodePart, type FoldJobData, type FoldJobResult } from "./backtest-jobs.ts";

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

  const barsAt = (state: RunState, timeframe: string): Promise<Bars> => {
    let b = state.byTimeframe.get(timeframe);
    if (!b) {
      const base = state.frozen.config.dataset.timeframe;
      b = state.windows
        .search()
        .then((bars) => (timeframe === base ? bars : resampleBars(bars, base, timeframe).bars));
      state.byTimeframe.set(timeframe, b);
      b.catch(() => state.byTimeframe.delete(timeframe));
    }
    return b;
  };

  return async (data) => {
    const index = data.fold.index;
    const state = await stateOf(data.runId);
    if (state.frozen.hash !== data.configHash) {
      throw new UnrecoverableError(
        `fold job for run ${data.runId} carries config ${data.configHash.slice(0, 12)}, the run has ${state.frozen.hash.slice(0, 12)}`,
      );
    }
    const bars = await barsAt(state, data.timeframe);
    const loaded = await deps.sandbox.load(data.code);
    if (!loaded.ok) return { index, ok: false, error: loaded.error };
    const handle = loaded.handle;
    try {
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
        sim: {
          direction: config.direction,
          risk: config.risk,
          sizing: config.sizing,
          feeBps: run.costs.fee_bps,
          slippageBps: run.costs.slippage_bps,
          timeframe: config.timeframe,
        },
      });
      return r.ok ? { index, ok: true, part: encodePart(r.part) } : { index, ok: false, error: r.error };
    } finally {
      handle.dispose();
    }
  };
}

/** The children's results (keyed by job key, as `getChildrenValues` gives them) in fold order. */
export function joinResults(values: Record<string, FoldJobResult>, folds: number): FoldJobResult[] {
  const out: FoldJobResult[] = [];
  for (const v of Object.values(values)) out[v.index] = v;
  for (let i = 0; i < folds; i++) {
    if (!out[i]) throw new Error(`join: fold ${i} of ${folds} has no result`);
  }
  if (out.length !== folds) throw new Error(`join: ${out.length} results for ${folds} folds`);
  return out;
}
