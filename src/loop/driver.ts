/**
 * Drivers propose candidates and decide what to do after each result. The loop owns everything
 * else (evaluation, gates, the ledger, nudges, budgets, persistence), so a driver can be a model,
 * a heuristic, a genetic algorithm or random search and be judged by the same rules.
 *
 * Drivers must be resumable: everything they need to continue is in `DriverContext` (the run's
 * history and seed), never only in memory, because a run can resume in another process. For the
 * same reason one driver instance serves every island of a run: an island is nothing but its
 * context (its own history, seed and migrants).
 */

import type { Decision, IterationSummary, Nudge, TokenUsage } from "../domain/run.ts";
import type { RunConfig } from "../domain/run-config.ts";
import type { SearchSideConfig } from "../llm/prompt.ts";
import type { Candidate, EvaluationError } from "./evaluate.ts";
import type { GateResult } from "./gates.ts";
import type { Migrant } from "./islands.ts";

/** A candidate with what the driver says about it. */
export interface ProposedCandidate extends Candidate {
  /** Workspace-style names, for people and the history table. */
  readonly name?: string;
  readonly family?: string;
}

/** What a driver may learn from evaluating a candidate: search-window results only. */
export interface CandidateOutcome {
  readonly status: "passed" | "discarded" | "crashed";
  readonly reasons: readonly string[];
  readonly gates: readonly GateResult[];
  readonly distance: number;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly error?: EvaluationError;
  readonly strategyName?: string;
  readonly family?: string;
  readonly trialId: number;
}

/** The run config as drivers see it: no holdout window, by construction. */
export type DriverRunConfig = SearchSideConfig;

export function driverView(config: RunConfig): DriverRunConfig {
  const { holdout: _sealed, ...windows } = config.windows;
  return { ...config, windows };
}

export interface DriverContext {
  readonly runId: string;
  readonly iteration: number;
  readonly brief: string;
  readonly config: DriverRunConfig;
  /** The island's seed (the run's seed on island 0, so a run without islands is unchanged). */
  readonly seed: number;
  /** This island's earlier iterations, oldest first (the whole run's when it has one island). */
  readonly history: readonly IterationSummary[];
  /** Which island this iteration belongs to, of how many (src/loop/islands.ts); absent = 0 of 1. */
  readonly island?: number;
  readonly islands?: number;
  /** The other islands' best as of the last migration: a driver may build on them. */
  readonly migrants?: readonly Migrant[];
  /**
   * Configs the other islands already evaluated: not to learn from (islands search on their own)
   * but to avoid, since the same config again is only flagged as a duplicate of theirs.
   */
  readonly triedElsewhere?: readonly string[];
  /** Nudges this iteration must use (they take priority over the driver's own plan). */
  readonly nudges: readonly Nudge[];
  readonly signal: AbortSignal;
  /**
   * Backtest a candidate on the search window now; every call is a trial in the ledger. Drivers
   * that explore inside one iteration (the model's `run_backtest`) call it; others let the loop do it.
   */
  evaluate(candidate: ProposedCandidate): Promise<CandidateOutcome>;
}

export interface Proposal {
  /** The iteration's candidate; absent when the driver produced nothing usable (model_error). */
  readonly candidate?: ProposedCandidate;
  /** Set when the driver already evaluated `candidate` through ctx.evaluate (the loop then reuses it). */
  readonly outcome?: CandidateOutcome;
  /** Set when the driver decided inside propose (the model's `decide` call). */
  readonly decision?: Decision;
  readonly hypothesis?: string;
  readonly usage?: TokenUsage;
  /** Trials run inside propose besides the candidate's own (exploration backtests). */
  readonly trialIds?: readonly number[];
  readonly backtests?: number;
  readonly modelError?: { readonly message: string; readonly raw: string };
}

export interface Driver {
  readonly name: string;
  /** Whether the driver's backend (the model endpoint) answers; drivers without one omit it. */
  available?(signal: AbortSignal): Promise<boolean>;
  propose(ctx: DriverContext): Promise<Proposal>;
  decide(ctx: DriverContext, candidate: ProposedCandidate, outcome: CandidateOutcome): Promise<Decision>;
}
