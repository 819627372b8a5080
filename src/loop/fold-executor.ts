/**
 * The seam through which `evaluateCandidate` can hand its walk-forward folds to someone else (the
 * BullMQ `backtests` queue) instead of running them itself. Without an executor the folds run in
 * the calling process, as they always did; with one, each fold is re-created from data alone
 * (candidate code and YAML, the run's frozen config, the fold's bounds) by `evaluateFold`, which
 * may run in another thread or on another machine.
 */
import { summaryMetrics } from "../backtest/metrics.ts";
import type { StrategyHandle } from "../backtest/sandbox/index.ts";
import { type SimulationOptions, type SimulationResult, simulate, type Trade } from "../backtest/simulate.ts";
import { type Bars, sliceBars } from "../domain/bars.ts";
import type { FrozenRunConfig } from "../domain/run-config.ts";
import type { StrategyConfig } from "../domain/strategy-config.ts";
import type { Candidate, EvaluationError, FoldOutcome } from "./evaluate.ts";
import type { Fold } from "./folds.ts";

export interface FoldRequest {
  readonly candidate: Candidate;
  readonly run: FrozenRunConfig;
  /** The strategy's timeframe (already checked against the dataset's). */
  readonly timeframe: string;
  readonly folds: readonly Fold[];
  /** The search-window bars at `timeframe` the folds index into (for the bar times of the results). */
  readonly bars: Bars;
  readonly codeHash: string;
  readonly configHash: string;
}

/** One fold's simulation, reduced to its evaluated bars (what stitching needs). */
export interface FoldPart {
  readonly outcome: FoldOutcome;
  /** Per-bar returns and positions of the evaluated bars (warm-up dropped). */
  readonly returns: Float64Array;
  readonly position: Float64Array;
  readonly trades: readonly Trade[];
  readonly turnover: number;
}

export type FoldRun =
  | { readonly ok: true; readonly parts: readonly FoldPart[] }
  | { readonly ok: false; readonly error: EvaluationError };

export interface FoldExecutor {
  /** Every fold of the request, in fold order, or the first fold's (by index) candidate error. */
  evaluate(request: FoldRequest): Promise<FoldRun>;
}

/** Fold executors scoped to one iteration, so their jobs can be named `run:iteration:step`. */
export interface FoldExecutors {
  forIteration(runId: string, iteration: number): FoldExecutor;
}

/** A `SimulationResult` for `stitch` from a fold part: it starts at its first evaluated bar. */
export function partAsSimulation(part: FoldPart, time: Float64Array): SimulationResult {
  if (time.length !== part.returns.length || part.position.length !== part.returns.length) {
    throw new Error(
      `fold ${part.outcome.index}: ${part.returns.length} returns for ${time.length} bars; the fold job saw other bars`,
    );
  }
  return {
    returns: part.returns,
    position: part.position,
    time,
    trades: [...part.trades],
    turnover: part.turnover,
    startIndex: 0,
    // stitch() recomputes equity across folds; a part's own equity is never read.
    equity: new Float64Array(0),
  };
}

export interface FoldInput {
  readonly handle: StrategyHandle;
  /** Search-window bars at the strategy's timeframe. */
  readonly bars: Bars;
  readonly fold: Fold;
  readonly params: Record<string, unknown>;
  readonly sim: Omit<SimulationOptions, "startIndex">;
}

/** How a candidate is simulated: its own direction, risk and sizing; the run's costs. */
export function simulationOptions(
  config: StrategyConfig,
  run: FrozenRunConfig["config"],
): Omit<SimulationOptions, "startIndex"> {
  return {
    direction: config.direction,
    risk: config.risk,
    sizing: config.sizing,
    feeBps: run.costs.fee_bps,
    slippageBps: run.costs.slippage_bps,
    timeframe: config.timeframe,
  };
}

/** One fold, as `evaluateCandidate` runs it: slice → sandboxed signals → simulate → metrics. */
export async function evaluateFold(
  i: FoldInput,
): Promise<{ ok: true; part: FoldPart } | { ok: false; error: EvaluationError }> {
  const f = i.fold;
  if (f.warmupStart < 0 || f.warmupStart > f.start || f.start >= f.end || f.end > i.bars.time.length) {
    return {
      ok: false,
      error: { kind: "invalid_output", message: `fold ${f.index} lies outside the search window's bars` },
    };
  }
  const slice = sliceBars(i.bars, f.warmupStart, f.end);
  const r = await i.handle.signals(slice, i.params);
  if (!r.ok) return { ok: false, error: r.error };
  let sim: SimulationResult;
  try {
    sim = simulate(slice, r.signals, { ...i.sim, startIndex: f.start - f.warmupStart });
  } catch (err) {
    return {
      ok: false,
      error: {
        kind: "invalid_output",
        message: `the simulator rejected this candidate: ${err instanceof Error ? err.message : String(err)}`,
      },
    };
  }
  const start = sim.startIndex;
  return {
    ok: true,
    part: {
      outcome: {
        index: f.index,
        from: i.bars.time[f.start] as number,
        to: i.bars.time[f.end - 1] as number,
        metrics: summaryMetrics(sim, { timeframe: i.sim.timeframe }),
      },
      returns: sim.returns.slice(start),
      position: sim.position.slice(start),
      trades: sim.trades,
      turnover: sim.turnover,
    },
  };
}
