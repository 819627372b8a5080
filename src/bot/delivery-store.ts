/**
 * Per-step delivery records (migration 040): which Discord message a step of an outbox event
 * became, and notes on runs (e.g. "owner DMs closed"). The outbox row itself is marked delivered
 * through the RunRepository once every step of its event is done.
 */
import type { Queryable } from "../store/db.ts";

export interface StepRecord {
  readonly step: string;
  readonly channelId: string | null;
  readonly messageId: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface RunNote {
  readonly kind: string;
  readonly text: string;
  readonly createdAt: Date;
}

export interface DeliveryStore {
  /** Runs with undelivered outbox events, the one waiting longest first. */
  runsWithPending(limit: number): Promise<string[]>;
  steps(eventId: string): Promise<Map<string, StepRecord>>;
  /** Where a nudge came from: its source and external id (a Discord message id for thread replies). */
  nudgeOrigin(nudgeId: number): Promise<{ source: string; externalId: string | null } | undefined>;
  recordStep(eventId: string, runId: string, step: StepRecord): Promise<void>;
  noteRun(runId: string, kind: string, text: string): Promise<void>;
  runNotes(runId: string): Promise<RunNote[]>;
}

export class PgDeliveryStore implements DeliveryStore {
  constructor(private readonly db: Queryable) {}

  async runsWithPending(limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ run_id: string }>(
      `SELECT run_id FROM outbox WHERE delivered_at IS NULL GROUP BY run_id ORDER BY min(id) LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.run_id);
  }

  async steps(eventId: string): Promise<Map<string, StepRecord>> {
    const { rows } = await this.db.query<{
      step: string;
      channel_id: string | null;
      message_id: string | null;
      detail: Record<string, unknown>;
    }>("SELECT step, channel_id, message_id, detail FROM discord_deliveries WHERE event_id = $1", [eventId]);
    return new Map(
      rows.map((r) => [
        r.step,
        { step: r.step, channelId: r.channel_id, messageId: r.message_id, detail: r.detail },
      ]),
    );
  }

  async nudgeOrigin(nudgeId: number): Promise<{ source: string; externalId: string | null } | undefined> {
    const { rows } = await this.db.query<{ source: string; external_id: string | null }>(
      "SELECT source, external_id FROM nudges WHERE id = $1",
      [nudgeId],
    );
    const r = rows[0];
    return r ? { source: r.source, externalId: r.external_id } : undefined;
  }

  async recordStep(eventId: string, runId: string, s: StepRecord): Promise<void> {
    // DO NOTHING: a step recorded twice (two consumers racing) keeps the first message id.
    await this.db.query(
      `INSERT INTO discord_deliveries (event_id, step, run_id, channel_id, message_id, detail)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (event_id, step) DO NOTHING`,
      [eventId, s.step, runId, s.channelId, s.messageId, JSON.stringify(s.detail)],
    );
  }

  async noteRun(runId: string, kind: string, text: string): Promise<void> {
    await this.db.query(
      `INSERT INTO run_notes (run_id, kind, text) VALUES ($1, $2, $3)
       ON CONFLICT (run_id, kind) DO UPDATE SET text = EXCLUDED.text, created_at = now()`,
      [runId, kind, text],
    );
  }

  async runNotes(runId: string): Promise<RunNote[]> {
    const { rows } = await this.db.query<{ kind: string; text: string; created_at: Date }>(
      "SELECT kind, text, created_at FROM run_notes WHERE run_id = $1 ORDER BY created_at",
      [runId],
    );
    return rows.map((r) => ({ kind: r.kind, text: r.text, createdAt: r.created_at }));
  }
}
