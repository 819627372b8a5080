import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Db } from "./db.ts";
import { ident } from "./db.ts";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const DIR = fileURLToPath(new URL("./migrations/", import.meta.url));

/** Every `NNN_name.sql` in src/store/migrations, in version order. Adding a migration = adding a file. */
export function listMigrations(dir = DIR): Migration[] {
  const seen = new Map<number, string>();
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE.exec(file);
    if (!m) continue;
    const version = Number(m[1]);
    const clash = seen.get(version);
    if (clash) throw new Error(`migrations ${clash} and ${file} share version ${version}`);
    seen.set(version, file);
    out.push({ version, name: m[2] as string, sql: readFileSync(`${dir}/${file}`, "utf8") });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Apply pending migrations in one transaction under a transaction-scoped advisory lock, so two
 * processes starting at once serialise: the second waits, then finds nothing left to do. The lock
 * key includes the schema, so per-test schemas migrate in parallel. Returns the versions applied.
 */
export async function migrate(db: Db, schema?: string, migrations = listMigrations()): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`alphaloop:migrate:${schema ?? "public"}`]);
    if (schema) await tx.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_migrations", []);
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.query(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      done.push(m.version);
    }
    return done;
  });
}
