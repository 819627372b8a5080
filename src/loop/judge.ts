/**
 * Judging an evaluation: the duplicate check against the run's earlier candidates, Deflated Sharpe
 * against every trial on the same dataset and window, the gates, and one ledger row — in that
 * order, so a duplicate is never counted as a new independent trial.
 */
import { datasetKey, type FrozenRunConfig, searchWindowHash } from "../domain/run-config.ts";
import { alignDaily, dailyCorrelation } from "./daily-series.ts";
import type { Evaluation } from "./evaluate.ts";
import { evaluateGates, type GateVerdict } from "./gates.ts";
import type { DailySeries, TrialLedger, TrialStatus } from "./ledger.ts";
import {
  averagePairwiseCorrelation,
  deflateSelection,
  type SelectionDeflation,
  sharpeRatio,
} from "./stats/index.ts";

export const DUPLICATE_CORRELATION = 0.95;
/** How many recent trials on the window estimate the average correlation (the effective N). */
const CORRELATION_SAMPLE = 50;

export interface JudgeContext {
  readonly run: FrozenRunConfig;
  readonly ledger: TrialLedger;
  readonly driver: string;
  readonly runId?: string;
  readonly iteration?: number;
  /** A retried iteration passes the same key, so the ledger never counts it twice. */
  readonly idempotencyKey?: string;
}

export interface DuplicateOf {
  readonly iteration: number;
  readonly correlation?: number;
}

export interface Judgement {
  readonly verdict: GateVerdict;
  readonly status: TrialStatus;
  readonly trialId: number;
  readonly deflation?: SelectionDeflation;
  readonly duplicateOf?: DuplicateOf;
  readonly foldsPositive: number;
}

function crashReason(ev: Evaluation): string[] {
  if (ev.status === "policy" && ev.policyViolations.length > 0)
    return ev.policyViolations.map((v) => `policy: ${v}`);
  const e = ev.error;
  if (!e) return ["crash: no result"];
  const where = e.line === undefined ? "" : ` (line ${e.line})`;
  return [`${e.kind}${where}: ${e.message.split("\n")[0]}`];
}

function dailySeries(ev: Evaluation): DailySeries | undefined {
  const d = ev.daily;
  if (!d || d.returns.length === 0) return undefined;
  return { firstDay: d.day[0] as number, returns: d.returns };
}

async function findDuplicate(
  ctx: JudgeContext,
  ev: Evaluation,
  daily: DailySeries | undefined,
): Promise<DuplicateOf | undefined> {
  if (!ctx.runId) return undefined;
  let best: DuplicateOf | undefined;
  for (const t of await ctx.ledger.runTrials(ctx.runId)) {
    if (t.iteration === null || t.iteration === ctx.iteration) continue;
    if (t.codeHash === ev.codeHash && t.configHash === ev.configHash) return { iteration: t.iteration };
    if (!daily || !t.daily) continue;
    const rho = dailyCorrelation(daily, t.daily);
    if (rho !== undefined && rho >= DUPLICATE_CORRELATION && (!best || rho > (best.correlation ?? 0))) {
      best = { iteration: t.iteration, correlation: rho };
    }
  }
  return best;
}

async function deflate(ctx: JudgeContext, daily: DailySeries, dataset: string, windowHash: string) {
  const stats = await ctx.ledger.windowStats(dataset, windowHash);
  const recent = await ctx.ledger.recentOnWindow(dataset, windowHash, CORRELATION_SAMPLE - 1);
  const sample = [daily, ...recent.flatMap((t) => (t.daily ? [t.daily] : []))];
  const aligned = alignDaily(sample);
  const averageCorrelation = aligned.length >= 2 ? averagePairwiseCorrelation(aligned) : 0;
  try {
    return deflateSelection({
      selected: daily.returns,
      trialSharpes: [...stats.sharpes, sharpeRatio(daily.returns)],
      averageCorrelation,
    });
  } catch {
    // Too few observations to estimate anything: no evidence, so the DSR gate cannot pass.
    return undefined;
  }
}

export async function judge(ev: Evaluation, ctx: JudgeContext): Promise<Judgement> {
  const config = ctx.run.config;
  const dataset = datasetKey(config);
  const windowHash = searchWindowHash(config);
  const base = {
    dataset,
    windowHash,
    driver: ctx.driver,
    codeHash: ev.codeHash,
    configHash: ev.configHash,
    ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
    ...(ctx.iteration === undefined ? {} : { iteration: ctx.iteration }),
    ...(ctx.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.idempotencyKey }),
    ...(ev.strategy ? { strategyName: ev.strategy.name, family: ev.strategy.family } : {}),
  };

  if (ev.status !== "evaluated" || !ev.aggregate) {
    const reasons = crashReason(ev);
    const verdict: GateVerdict = { pass: false, results: [], reasons, distance: 1 };
    const trialId = await ctx.ledger.record({ ...base, status: "crashed", independent: false, reasons });
    return { verdict, status: "crashed", trialId, foldsPositive: 0 };
  }

  const daily = dailySeries(ev);
  const duplicateOf = await findDuplicate(ctx, ev, daily);
  const deflation = daily ? await deflate(ctx, daily, dataset, windowHash) : undefined;
  const foldsPositive = ev.folds.filter((f) => f.metrics.totalReturn > 0).length;
  const agg = ev.aggregate;
  const bad = ev.lookahead && !ev.lookahead.ok ? ev.lookahead.firstBadBar : undefined;
  const verdict = evaluateGates(
    {
      sharpe: agg.sharpe,
      maxDrawdown: agg.maxDrawdown,
      profitFactor: agg.profitFactor,
      tradeCount: agg.tradeCount,
      dsr: deflation?.dsr ?? 0,
      foldsPositive,
      metrics: { ...agg } as unknown as Record<string, number>,
      lookahead: bad ? { time: bad.time } : undefined,
      duplicateOf,
      policyViolations: ev.policyViolations,
    },
    config.gates,
  );
  const status: TrialStatus = verdict.pass ? "passed" : "discarded";
  const trialId = await ctx.ledger.record({
    ...base,
    status,
    // A duplicate or a look-ahead cheat is not a new independent try on the data.
    independent: duplicateOf === undefined && bad === undefined,
    ...(daily ? { daily, sharpe: sharpeRatio(daily.returns) } : {}),
    metrics: { ...agg, dsr: deflation?.dsr ?? 0, foldsPositive },
    reasons: verdict.reasons,
  });
  return {
    verdict,
    status,
    trialId,
    foldsPositive,
    ...(deflation ? { deflation } : {}),
    ...(duplicateOf ? { duplicateOf } : {}),
  };
}
