/**
 * Reading a past iteration the way the model-free drivers need it: which gates failed (from the
 * DISCARD reason lines the gates write, e.g. `trades 12 < 30`, `duplicate of #3 (ρ 0.97)`), and the
 * summary an outcome will become once the loop stores it, so `decide` can plan the next step with
 * the same function `propose` uses.
 */
import type { IterationSummary } from "../../domain/run.ts";
import type { CandidateOutcome, DriverContext, ProposedCandidate } from "../driver.ts";

export interface FailedChecks {
  readonly crashed: boolean;
  readonly lookahead: boolean;
  readonly duplicate: boolean;
  readonly policy: boolean;
  readonly trades: boolean;
  readonly drawdown: boolean;
  readonly sharpe: boolean;
  readonly profitFactor: boolean;
  /** dsr, folds_positive or a `gates.metrics` bound. */
  readonly other: boolean;
}

export function failedChecks(s: Pick<IterationSummary, "status" | "reasons">): FailedChecks {
  const has = (re: RegExp) => s.reasons.some((r) => re.test(r));
  const policy = has(/^policy:/);
  return {
    crashed: s.status === "crashed" || s.status === "model_error",
    lookahead: has(/^lookahead\b/),
    duplicate: has(/^duplicate of\b/),
    policy,
    trades: has(/^trades\s/),
    drawdown: has(/^max_drawdown\s/),
    sharpe: has(/^sharpe\s/),
    profitFactor: has(/^profit_factor\s/),
    other: has(/^(dsr|folds_positive)\s/) || has(/^gate on unknown metric/),
  };
}

/** The summary the loop will store for this outcome (the fields the drivers read). */
export function summaryOf(
  n: number,
  candidate: ProposedCandidate,
  outcome: CandidateOutcome,
): IterationSummary {
  return {
    n,
    name: outcome.strategyName ?? candidate.name ?? null,
    family: outcome.family ?? candidate.family ?? null,
    hypothesis: candidate.hypothesis ?? null,
    status: outcome.status,
    metrics: outcome.metrics ?? null,
    reasons: outcome.reasons,
    distance: outcome.distance,
    decision: null,
    nextHypothesis: null,
    configYaml: candidate.configYaml,
  };
}

/** The history as it will be once this iteration is stored (unless the loop already added it). */
export function historyWith(
  ctx: DriverContext,
  candidate: ProposedCandidate,
  outcome: CandidateOutcome,
): IterationSummary[] {
  const h = [...ctx.history];
  if (h.at(-1)?.n === ctx.iteration) h.pop();
  h.push(summaryOf(ctx.iteration, candidate, outcome));
  return h;
}

/** [tier, score]: tier 2 passed, 1 discarded, 0 crashed or unreadable; higher is better. */
export type Fitness = readonly [number, number];

export function fitnessOf(s: IterationSummary): Fitness {
  if (s.status === "passed") return [2, s.metrics?.["sharpe"] ?? 0];
  if (s.status === "discarded" && s.distance !== null && Number.isFinite(s.distance)) return [1, -s.distance];
  return [0, 0];
}

/** Positive when `a` is fitter than `b`. */
export function compareFitness(a: Fitness, b: Fitness): number {
  return a[0] - b[0] || a[1] - b[1];
}
