import type { Queryable } from "./db.ts";

/**
 * A run's own workspace files in Postgres (or PGlite). Paths arrive already normalised and checked
 * by src/llm/workspace.ts; this layer only stores them. Every statement is parameterised.
 */

export interface WorkspaceFileEntry {
  path: string;
  size: number;
  updatedAt: Date;
}

/** What the virtual workspace needs from storage; tests and the embedded mode share the SQL one. */
export interface WorkspaceFileStore {
  read(runId: string, path: string): Promise<string | undefined>;
  write(runId: string, path: string, content: string): Promise<void>;
  /** Files whose path starts with `prefix` (all files when empty), sorted by path. */
  list(runId: string, prefix?: string): Promise<WorkspaceFileEntry[]>;
  remove(runId: string, path: string): Promise<boolean>;
}

/** `LIKE` treats `%` and `_` as wildcards; a prefix is matched literally. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class PgWorkspaceFiles implements WorkspaceFileStore {
  constructor(private readonly db: Queryable) {}

  async read(runId: string, path: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ content: string }>(
      "SELECT content FROM workspace_files WHERE run_id = $1 AND path = $2",
      [runId, path],
    );
    return rows[0]?.content;
  }

  async write(runId: string, path: string, content: string): Promise<void> {
    await this.db.query(
      `INSERT INTO workspace_files (run_id, path, content, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (run_id, path) DO UPDATE SET content = EXCLUDED.content, updated_at = now()`,
      [runId, path, content],
    );
  }

  async list(runId: string, prefix = ""): Promise<WorkspaceFileEntry[]> {
    const { rows } = await this.db.query<{ path: string; size: number | string; updated_at: Date }>(
      `SELECT path, octet_length(content) AS size, updated_at FROM workspace_files
       WHERE run_id = $1 AND path LIKE $2 ESCAPE '\\' ORDER BY path`,
      [runId, likePrefix(prefix)],
    );
    return rows.map((r) => ({ path: r.path, size: Number(r.size), updatedAt: r.updated_at }));
  }

  async remove(runId: string, path: string): Promise<boolean> {
    const { rows } = await this.db.query<{ path: string }>(
      "DELETE FROM workspace_files WHERE run_id = $1 AND path = $2 RETURNING path",
      [runId, path],
    );
    return rows.length > 0;
  }
}
