/**
 * The reads the Discord front end needs beyond the RunRepository: a run by its thread, a guild's
 * runs (list, autocomplete) and a leaderboard of iterations. Parameterised SQL only.
 */
import type { RunRecord, RunRepository } from "../loop/run-repository.ts";
import type { Queryable } from "../store/db.ts";

export interface LeaderboardRow {
  readonly runId: string;
  readonly n: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly status: string;
  readonly distance: number | null;
  readonly metrics: Readonly<Record<string, number>> | null;
}

export class PgBotStore {
  constructor(
    private readonly db: Queryable,
    private readonly runs: Pick<RunRepository, "getRun">,
  ) {}

  private async load(ids: readonly string[]): Promise<RunRecord[]> {
    const out = await Promise.all(ids.map((id) => this.runs.getRun(id)));
    return out.filter((r): r is RunRecord => r !== undefined);
  }

  async runByThread(threadId: string): Promise<RunRecord | undefined> {
    const { rows } = await this.db.query<{ id: string }>("SELECT id FROM runs WHERE thread_id = $1 LIMIT 1", [
      threadId,
    ]);
    return (await this.load(rows.map((r) => r.id)))[0];
  }

  /** The guild's runs, newest first. */
  async guildRuns(guildId: string, limit = 10): Promise<RunRecord[]> {
    const { rows } = await this.db.query<{ id: string }>(
      "SELECT id FROM runs WHERE guild_id = $1 ORDER BY created_at DESC, id LIMIT $2",
      [guildId, limit],
    );
    return this.load(rows.map((r) => r.id));
  }

  /** Autocomplete: the guild's runs whose id or brief contains `typed`, newest first. */
  async searchRuns(
    guildId: string,
    typed: string,
    limit = 25,
  ): Promise<{ id: string; status: string; brief: string }[]> {
    const like = `%${typed.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const { rows } = await this.db.query<{ id: string; status: string; brief: string }>(
      `SELECT id, status, brief FROM runs
        WHERE guild_id = $1 AND (id ILIKE $2 OR brief ILIKE $2)
        ORDER BY created_at DESC, id LIMIT $3`,
      [guildId, like, limit],
    );
    return rows;
  }

  /**
   * Best iterations (passed first, then by distance to the gates) of one run, or of every run of
   * a guild. Holdout results are not read: the board ranks on the search window only.
   */
  async leaderboard(scope: { runId: string } | { guildId: string }, limit = 10): Promise<LeaderboardRow[]> {
    const byRun = "runId" in scope;
    const { rows } = await this.db.query<{
      run_id: string;
      n: number;
      name: string | null;
      family: string | null;
      status: string;
      distance: number | null;
      metrics: Record<string, number> | null;
    }>(
      `SELECT i.run_id, i.n, i.name, i.family, i.status, i.distance, i.metrics
         FROM iterations i JOIN runs r ON r.id = i.run_id
        WHERE ${byRun ? "i.run_id = $1" : "r.guild_id = $1"} AND i.metrics IS NOT NULL
        ORDER BY (i.status = 'passed') DESC, i.distance ASC NULLS LAST, i.run_id, i.n
        LIMIT $2`,
      [byRun ? scope.runId : scope.guildId, limit],
    );
    return rows.map((r) => ({
      runId: r.run_id,
      n: r.n,
      name: r.name,
      family: r.family,
      status: r.status,
      distance: r.distance,
      metrics: r.metrics,
    }));
  }
}
