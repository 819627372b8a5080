import { decodeReturns, encodeReturns } from "../loop/daily-series.ts";
import type { HoldoutRecord, LedgerTrial, NewTrial, TrialLedger, WindowStats } from "../loop/ledger.ts";
import type { Queryable } from "./db.ts";

interface TrialRow {
  id: number | string;
  run_id: string | null;
  iteration: number | null;
  code_hash: string;
  config_hash: string;
  sharpe: number | null;
  first_day: number | string | null;
  daily_returns: Uint8Array | null;
}

function toTrial(r: TrialRow): LedgerTrial {
  return {
    id: Number(r.id),
    runId: r.run_id,
    iteration: r.iteration,
    codeHash: r.code_hash,
    configHash: r.config_hash,
    sharpe: r.sharpe,
    daily:
      r.daily_returns && r.first_day !== null
        ? { firstDay: Number(r.first_day), returns: decodeReturns(r.daily_returns) }
        : null,
  };
}

const TRIAL_COLUMNS = "id, run_id, iteration, code_hash, config_hash, sharpe, first_day, daily_returns";

/** Runs whose trials are kept in memory; a worker serving more runs re-reads the oldest in full. */
const CACHED_RUNS = 16;
/** Window trials kept by id for the correlation sample (~15 KB each on five years of days). */
const CACHED_WINDOW_TRIALS = 512;

/** The trial ledger in Postgres (or PGlite). Every statement is parameterised. */
export class PgTrialLedger implements TrialLedger {
  /**
   * A run's trials read so far, by run. The loop's duplicate check reads every trial of its run
   * (with daily returns) on every iteration, which in full is quadratic over a night-long run;
   * trials are append-only and one process at a time writes a run's trials (its iterations are
   * sequential), so each read only fetches ids above the highest one already held.
   */
  private readonly runCache = new Map<string, { trials: LedgerTrial[]; maxId: number }>();
  /**
   * Trials of the correlation sample, by id. The sample is the window's latest trials, so from one
   * iteration to the next it moves by a trial or two; a trial row never changes once written, so
   * each is read in full once and later samples only look up which ids they are.
   */
  private readonly windowCache = new Map<number, LedgerTrial>();

  constructor(private readonly db: Queryable) {}

  async record(t: NewTrial): Promise<number> {
    const params = [
      t.dataset,
      t.windowHash,
      t.runId ?? null,
      t.iteration ?? null,
      t.driver,
      t.strategyName ?? null,
      t.family ?? null,
      t.codeHash,
      t.configHash,
      t.status,
      t.independent,
      t.sharpe ?? null,
      t.daily ? t.daily.returns.length : null,
      t.daily ? t.daily.firstDay : null,
      t.daily ? encodeReturns(t.daily.returns) : null,
      t.metrics ? JSON.stringify(t.metrics) : null,
      JSON.stringify(t.reasons ?? []),
      t.idempotencyKey ?? null,
    ];
    const { rows } = await this.db.query<{ id: number | string }>(
      `INSERT INTO trials (dataset, window_hash, run_id, iteration, driver, strategy_name, family, code_hash,
         config_hash, status, independent, sharpe, observations, first_day, daily_returns, metrics, reasons,
         idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb, $18)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id`,
      params,
    );
    if (rows[0]) return Number(rows[0].id);
    const existing = await this.db.query<{ id: number | string }>(
      "SELECT id FROM trials WHERE idempotency_key = $1",
      [t.idempotencyKey],
    );
    return Number(existing.rows[0]?.id);
  }

  async windowStats(dataset: string, windowHash: string): Promise<WindowStats> {
    const { rows } = await this.db.query<{ sharpe: number }>(
      `SELECT sharpe FROM trials
        WHERE dataset = $1 AND window_hash = $2 AND independent AND sharpe IS NOT NULL`,
      [dataset, windowHash],
    );
    return { trials: rows.length, sharpes: rows.map((r) => r.sharpe) };
  }

  async recentOnWindow(dataset: string, windowHash: string, limit: number): Promise<LedgerTrial[]> {
    const { rows: ids } = await this.db.query<{ id: number | string }>(
      `SELECT id FROM trials
        WHERE dataset = $1 AND window_hash = $2 AND independent AND daily_returns IS NOT NULL
        ORDER BY id DESC LIMIT $3`,
      [dataset, windowHash, limit],
    );
    const wanted = ids.map((r) => Number(r.id));
    const missing = wanted.filter((id) => !this.windowCache.has(id));
    if (missing.length > 0) {
      const { rows } = await this.db.query<TrialRow>(
        `SELECT ${TRIAL_COLUMNS} FROM trials WHERE id = ANY($1::bigint[])`,
        [missing],
      );
      for (const r of rows) this.windowCache.set(Number(r.id), toTrial(r));
    }
    const out = wanted.flatMap((id) => {
      const t = this.windowCache.get(id);
      if (!t) return [];
      // Most recently used last, so the first keys are the ones to drop.
      this.windowCache.delete(id);
      this.windowCache.set(id, t);
      return [t];
    });
    while (this.windowCache.size > CACHED_WINDOW_TRIALS) {
      this.windowCache.delete(this.windowCache.keys().next().value as number);
    }
    return out;
  }

  async runTrials(runId: string): Promise<LedgerTrial[]> {
    const held = this.runCache.get(runId) ?? { trials: [], maxId: 0 };
    const { rows } = await this.db.query<TrialRow>(
      `SELECT ${TRIAL_COLUMNS} FROM trials WHERE run_id = $1 AND id > $2 ORDER BY id`,
      [runId, held.maxId],
    );
    // Two iterations of a run reading at once (a redone one beside the original) fetch the same
    // rows: what is held already is not added twice.
    const held0 = new Set(held.trials.map((t) => t.id));
    const fresh = rows.map(toTrial).filter((t) => !held0.has(t.id));
    if (fresh.length > 0) {
      held.trials = [...held.trials, ...fresh].sort(
        (a, b) => (a.iteration ?? 0) - (b.iteration ?? 0) || a.id - b.id,
      );
      held.maxId = Math.max(held.maxId, ...fresh.map((t) => t.id));
    }
    // Most recently used last, so the first key is the one to drop.
    this.runCache.delete(runId);
    this.runCache.set(runId, held);
    if (this.runCache.size > CACHED_RUNS) this.runCache.delete(this.runCache.keys().next().value as string);
    return [...held.trials];
  }

  async recordHoldout(h: HoldoutRecord): Promise<number> {
    await this.db.query(
      `INSERT INTO holdout_evaluations (dataset, holdout_hash, trial_id, run_id, iteration, metrics, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [
        h.dataset,
        h.holdoutHash,
        h.trialId ?? null,
        h.runId ?? null,
        h.iteration ?? null,
        JSON.stringify(h.metrics),
        h.idempotencyKey ?? null,
      ],
    );
    return this.holdoutPeeks(h.dataset, h.holdoutHash);
  }

  async holdoutPeeks(dataset: string, holdoutHash: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number | string }>(
      "SELECT count(*) AS n FROM holdout_evaluations WHERE dataset = $1 AND holdout_hash = $2",
      [dataset, holdoutHash],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
