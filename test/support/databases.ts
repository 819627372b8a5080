import { randomBytes } from "node:crypto";
import { type Db, openDb } from "../../src/store/db.ts";

export const TEST_PG_URL = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh schema name per test file, so parallel files never share tables. */
export function testSchema(tag: string): string {
  return `t_${tag}_${randomBytes(4).toString("hex")}`;
}

/** Both store backends, for `describe.each`: the same tests run on real Postgres and on PGlite. */
export const backends = [
  { name: "postgres", open: (schema: string) => openDb({ url: TEST_PG_URL, schema }) },
  { name: "pglite", open: (schema: string) => openDb({ url: "", dataDir: "memory://", schema }) },
] as const;

export async function dropSchema(db: Db, schema: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
}
