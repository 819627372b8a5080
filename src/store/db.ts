/**
 * The store: one small query interface over two backends. With a `DATABASE_URL` (or `url`) it is a
 * `pg` pool against a real Postgres; without one it is PGlite (Postgres compiled to WASM) in a local
 * folder, so the embedded default needs no server. Migrations run on open, on both backends.
 *
 * Everything above this file talks to `Db`/`Queryable` only, so repositories are testable against
 * either backend. Value conventions both backends honour: int8 (count(*), bigint) comes back as a
 * JS number (a string only if it exceeds 2^53), timestamptz as a Date, float8 as a number.
 *
 * Tests: pass `schema` to isolate a test file in its own Postgres schema (`openDb({ url, schema:
 * "t_market_import" })`); the schema is created if missing and every connection's search_path is
 * set to it, so parallel test files never see each other's tables. Drop it in afterAll with
 * `DROP SCHEMA ... CASCADE`.
 */
import { alphaloopHome } from "./home.ts";

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
}

/**
 * A Queryable that can also bulk-load and bulk-read with COPY. Importers and the bar loader use
 * these; ordinary repositories only need `query`.
 */
export interface BulkQueryable extends Queryable {
  /**
   * `COPY table (columns) FROM STDIN`: `data` yields chunks of CSV lines (no header) or, with
   * `format: "binary"`, of Postgres binary COPY (header, tuples, trailer). Identifiers are checked
   * against a plain-name pattern, never interpolated raw.
   */
  copyIn(
    table: string,
    columns: readonly string[],
    data: Iterable<string | Uint8Array>,
    format?: "csv" | "binary",
  ): Promise<void>;
  /**
   * `COPY (select) TO STDOUT (FORMAT binary)` and return the whole payload. COPY takes no bind
   * parameters, so `select` must contain only constants the caller has validated (see `sqlInt`).
   */
  copyOut(select: string): Promise<Uint8Array>;
}

export type Tx = BulkQueryable;

export interface Db extends BulkQueryable {
  readonly kind: "postgres" | "pglite";
  /** Where the data lives, with any password removed: for messages and cache keys. */
  readonly location: string;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** Postgres connection string; defaults to DATABASE_URL. When neither is set, PGlite is used. */
  url?: string;
  /** PGlite data directory (default `<ALPHALOOP_HOME or .alphaloop>/pgdata`); `memory://` for RAM. */
  dataDir?: string;
  /** Schema to create/use instead of `public` (per-test isolation). Plain lower-case name. */
  schema?: string;
  /** Postgres pool size (default 10). */
  maxConnections?: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quote a plain identifier after checking it; anything unusual is refused rather than escaped. */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`refusing SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Render an integer for SQL text that cannot take parameters (COPY); throws on anything else. */
export function sqlInt(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not a safe integer for SQL: ${n}`);
  return String(n);
}

export async function openDb(opts: OpenDbOptions = {}): Promise<Db> {
  const url = opts.url ?? process.env["DATABASE_URL"];
  if (opts.schema !== undefined) ident(opts.schema);
  let db: Db;
  if (url) {
    const { openPostgres } = await import("./postgres.ts");
    db = await openPostgres(url, opts.schema, opts.maxConnections ?? 10);
  } else {
    const { openPglite } = await import("./pglite.ts");
    db = await openPglite(opts.dataDir ?? `${alphaloopHome()}/pgdata`, opts.schema);
  }
  try {
    const { migrate } = await import("./migrate.ts");
    await migrate(db, opts.schema);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
