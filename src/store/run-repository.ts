import type {
  DecisionKind,
  IterationStatus,
  IterationSummary,
  Nudge,
  RunEvent,
  RunStatus,
} from "../domain/run.ts";
import type { RunConfig } from "../domain/run-config.ts";
import type {
  IterationRecord,
  IterationWrite,
  NewNudge,
  NewRun,
  OutboxRow,
  RunProgress,
  RunRecord,
  RunRepository,
} from "../loop/run-repository.ts";
import type { Db, Queryable } from "./db.ts";

interface RunRow {
  id: string;
  brief: string;
  driver: string;
  status: RunStatus;
  status_reason: string | null;
  config: RunConfig;
  config_hash: string;
  owner: string | null;
  source: string;
  guild_id: string | null;
  channel_id: string | null;
  thread_id: string | null;
  iterations_done: number;
  passes: number;
  best_distance: number | null;
  best_iteration: number | null;
  tokens_used: number | string;
  stuck: boolean;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    brief: r.brief,
    driver: r.driver,
    status: r.status,
    statusReason: r.status_reason,
    config: r.config,
    configHash: r.config_hash,
    owner: r.owner,
    source: r.source,
    guildId: r.guild_id,
    channelId: r.channel_id,
    threadId: r.thread_id,
    iterationsDone: r.iterations_done,
    passes: r.passes,
    bestDistance: r.best_distance,
    bestIteration: r.best_iteration,
    tokensUsed: Number(r.tokens_used),
    stuck: r.stuck,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

interface NudgeRow {
  id: number | string;
  run_id: string;
  author: string;
  source: string;
  text: string;
  created_at: Date;
  claimed_iteration: number | null;
}

function toNudge(r: NudgeRow): Nudge {
  return {
    id: Number(r.id),
    runId: r.run_id,
    author: r.author,
    source: r.source,
    text: r.text,
    createdAt: r.created_at,
    claimedIteration: r.claimed_iteration,
  };
}

const TERMINAL: readonly RunStatus[] = ["completed", "stopped", "failed"];

async function insertEvents(q: Queryable, events: readonly RunEvent[]): Promise<void> {
  for (const e of events) {
    await q.query(
      `INSERT INTO outbox (event_id, run_id, type, payload) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (event_id) DO NOTHING`,
      [e.eventId, e.runId, e.type, JSON.stringify(e.payload)],
    );
  }
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** Runs, iterations, nudges and the outbox in Postgres or PGlite. Every statement is parameterised. */
export class PgRunRepository implements RunRepository {
  constructor(private readonly db: Db) {}

  async createRun(run: NewRun, events: readonly RunEvent[]): Promise<RunRecord> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<RunRow>(
        `INSERT INTO runs (id, brief, driver, status, config, config_canonical, config_hash, owner, source, guild_id, channel_id)
         VALUES ($1, $2, $3, 'created', $4::jsonb, $5, $6, $7, $8, $9, $10)
         RETURNING *`,
        [
          run.id,
          run.brief,
          run.driver,
          run.frozen.canonical,
          run.frozen.canonical,
          run.frozen.hash,
          run.owner ?? null,
          run.source ?? "cli",
          run.guildId ?? null,
          run.channelId ?? null,
        ],
      );
      await insertEvents(tx, events);
      return toRun(rows[0] as RunRow);
    });
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const { rows } = await this.db.query<RunRow>("SELECT * FROM runs WHERE id = $1", [id]);
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  async listRuns(limit = 20): Promise<RunRecord[]> {
    const { rows } = await this.db.query<RunRow>("SELECT * FROM runs ORDER BY created_at DESC, id LIMIT $1", [
      limit,
    ]);
    return rows.map(toRun);
  }

  async runsInStatus(statuses: readonly RunStatus[]): Promise<RunRecord[]> {
    const { rows } = await this.db.query<RunRow>(
      "SELECT * FROM runs WHERE status = ANY($1::text[]) ORDER BY created_at",
      [statuses],
    );
    return rows.map(toRun);
  }

  async setStatus(
    id: string,
    status: RunStatus,
    reason: string | null,
    events: readonly RunEvent[],
    from?: readonly RunStatus[],
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `UPDATE runs SET status = $2, status_reason = $3, updated_at = now(),
                started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
                finished_at = CASE WHEN $2 = ANY($5::text[]) THEN now() ELSE finished_at END
          WHERE id = $1 AND ($4::text[] IS NULL OR status = ANY($4::text[]))
          RETURNING id`,
        [id, status, reason, from ? [...from] : null, [...TERMINAL]],
      );
      if (rows.length === 0) return false;
      await insertEvents(tx, events);
      return true;
    });
  }

  async setThread(id: string, t: { guildId?: string; channelId?: string; threadId: string }): Promise<void> {
    await this.db.query(
      `UPDATE runs SET thread_id = $2, guild_id = coalesce($3, guild_id), channel_id = coalesce($4, channel_id),
              updated_at = now() WHERE id = $1`,
      [id, t.threadId, t.guildId ?? null, t.channelId ?? null],
    );
  }

  async addNudge(n: NewNudge): Promise<Nudge | undefined> {
    const { rows } = await this.db.query<NudgeRow>(
      `INSERT INTO nudges (run_id, author, source, text, external_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (external_id) DO NOTHING
       RETURNING *`,
      [n.runId, n.author, n.source, n.text, n.externalId ?? null],
    );
    return rows[0] ? toNudge(rows[0]) : undefined;
  }

  async pendingNudges(runId: string): Promise<Nudge[]> {
    const { rows } = await this.db.query<NudgeRow>(
      "SELECT * FROM nudges WHERE run_id = $1 AND claimed_iteration IS NULL ORDER BY id",
      [runId],
    );
    return rows.map(toNudge);
  }

  async nudges(runId: string): Promise<Nudge[]> {
    const { rows } = await this.db.query<NudgeRow>("SELECT * FROM nudges WHERE run_id = $1 ORDER BY id", [
      runId,
    ]);
    return rows.map(toNudge);
  }

  async commitIteration(w: IterationWrite, p: RunProgress, events: readonly RunEvent[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<{ n: number }>(
        `INSERT INTO iterations (run_id, n, name, family, hypothesis, code, config_yaml, status, metrics, folds, gates,
           reasons, distance, decision, rationale, next_hypothesis, forced, nudge_ids, tokens, timings, trial_ids,
           backtests, error, raw_output, holdout)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb, $13, $14, $15, $16, $17,
           $18::jsonb, $19::jsonb, $20::jsonb, $21::jsonb, $22, $23::jsonb, $24, $25::jsonb)
         ON CONFLICT (run_id, n) DO NOTHING
         RETURNING n`,
        [
          w.runId,
          w.n,
          w.name,
          w.family,
          w.hypothesis,
          w.code,
          w.configYaml,
          w.status,
          json(w.metrics),
          json(w.folds),
          json(w.gates),
          JSON.stringify(w.reasons),
          w.distance,
          w.decision?.decision ?? null,
          w.decision?.rationale ?? null,
          w.decision?.nextHypothesis ?? null,
          w.forced,
          JSON.stringify(w.nudgeIds),
          JSON.stringify(w.tokens),
          JSON.stringify(w.timings),
          JSON.stringify(w.trialIds),
          w.backtests,
          json(w.error),
          w.rawOutput,
          json(w.holdout),
        ],
      );
      if (inserted.rows.length === 0) return false;
      if (w.nudgeIds.length > 0) {
        await tx.query(
          `UPDATE nudges SET claimed_iteration = $2, claimed_at = now()
            WHERE run_id = $1 AND id = ANY($3::bigint[]) AND claimed_iteration IS NULL`,
          [w.runId, w.n, [...w.nudgeIds]],
        );
      }
      await tx.query(
        `UPDATE runs SET iterations_done = greatest(iterations_done, $2), passes = passes + $3,
                best_distance = $4, best_iteration = $5, tokens_used = tokens_used + $6, stuck = $7, updated_at = now()
          WHERE id = $1`,
        [w.runId, w.n, p.passesDelta, p.bestDistance, p.bestIteration, p.tokens, p.stuck],
      );
      await insertEvents(tx, events);
      return true;
    });
  }

  async history(runId: string, limit?: number): Promise<IterationSummary[]> {
    // Explicit columns: the sealed holdout is never read on the driver-facing path.
    const { rows } = await this.db.query<{
      n: number;
      name: string | null;
      family: string | null;
      hypothesis: string | null;
      status: IterationStatus;
      metrics: Record<string, number> | null;
      reasons: string[];
      distance: number | null;
      decision: DecisionKind | null;
      next_hypothesis: string | null;
      config_yaml: string | null;
    }>(
      `SELECT * FROM (
         SELECT n, name, family, hypothesis, status, metrics, reasons, distance, decision, next_hypothesis, config_yaml
           FROM iterations WHERE run_id = $1 ORDER BY n DESC LIMIT $2
       ) h ORDER BY n`,
      [runId, limit ?? 1_000_000],
    );
    return rows.map((r) => ({
      n: r.n,
      name: r.name,
      family: r.family,
      hypothesis: r.hypothesis,
      status: r.status,
      metrics: r.metrics,
      reasons: r.reasons,
      distance: r.distance,
      decision: r.decision,
      nextHypothesis: r.next_hypothesis,
      configYaml: r.config_yaml,
    }));
  }

  async iterations(runId: string): Promise<IterationRecord[]> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      "SELECT * FROM iterations WHERE run_id = $1 ORDER BY n",
      [runId],
    );
    return rows.map((r) => ({
      runId: r["run_id"] as string,
      n: r["n"] as number,
      name: r["name"] as string | null,
      family: r["family"] as string | null,
      hypothesis: r["hypothesis"] as string | null,
      code: r["code"] as string | null,
      configYaml: r["config_yaml"] as string | null,
      status: r["status"] as IterationStatus,
      metrics: r["metrics"] as Record<string, number> | null,
      folds: r["folds"],
      gates: r["gates"],
      reasons: r["reasons"] as string[],
      distance: r["distance"] as number | null,
      decision: r["decision"]
        ? {
            decision: r["decision"] as DecisionKind,
            rationale: (r["rationale"] as string | null) ?? "",
            nextHypothesis: (r["next_hypothesis"] as string | null) ?? "",
          }
        : null,
      forced: r["forced"] as string | null,
      nudgeIds: r["nudge_ids"] as number[],
      tokens: r["tokens"] as IterationWrite["tokens"],
      timings: r["timings"] as IterationWrite["timings"],
      trialIds: r["trial_ids"] as number[],
      backtests: r["backtests"] as number,
      error: r["error"],
      rawOutput: r["raw_output"] as string | null,
      holdout: r["holdout"],
      createdAt: r["created_at"] as Date,
    }));
  }

  async lastIteration(runId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number | null }>(
      "SELECT max(n) AS n FROM iterations WHERE run_id = $1",
      [runId],
    );
    return rows[0]?.n ?? 0;
  }

  async appendEvents(events: readonly RunEvent[]): Promise<void> {
    await this.db.transaction((tx) => insertEvents(tx, events));
  }

  async pendingEvents(limit: number, runId?: string): Promise<OutboxRow[]> {
    const { rows } = await this.db.query<{
      id: number | string;
      event_id: string;
      run_id: string;
      type: RunEvent["type"];
      payload: Record<string, unknown>;
      created_at: Date;
    }>(
      `SELECT id, event_id, run_id, type, payload, created_at FROM outbox
        WHERE delivered_at IS NULL AND ($2::text IS NULL OR run_id = $2) ORDER BY id LIMIT $1`,
      [limit, runId ?? null],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      eventId: r.event_id,
      runId: r.run_id,
      type: r.type,
      payload: r.payload,
      createdAt: r.created_at,
    }));
  }

  async markDelivered(eventId: string, delivery: Readonly<Record<string, unknown>>): Promise<void> {
    await this.db.query("UPDATE outbox SET delivered_at = now(), delivery = $2::jsonb WHERE event_id = $1", [
      eventId,
      JSON.stringify(delivery),
    ]);
  }
}
