import { mkdirSync } from "node:fs";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db, Tx } from "./db.ts";
import { ident } from "./db.ts";
import { parseInt8 } from "./int8.ts";

const INT8_OID = 20;

/**
 * Embedded backend: PGlite in a local folder. One process owns the folder at a time (PGlite is
 * single-connection); queries from concurrent callers are serialised by PGlite itself.
 */
export async function openPglite(dataDir: string, schema: string | undefined): Promise<Db> {
  if (!dataDir.includes("://")) mkdirSync(dataDir, { recursive: true });
  const pg = await PGlite.create(dataDir, { parsers: { [INT8_OID]: parseInt8 } });
  if (schema) {
    // Single connection, so one SET is enough; migrate() creates the schema if it is missing.
    await pg.exec(`SET search_path TO ${ident(schema)}, public`);
  }

  const bulk = (conn: PGlite | Transaction): Tx => ({
    query: async <R>(sql: string, params?: readonly unknown[]) => {
      if (params === undefined) {
        // Like node-postgres, a query without parameters goes over the simple protocol, so a
        // migration file with several statements runs the same way on both backends.
        const results = await conn.exec(sql);
        return { rows: (results.at(-1)?.rows ?? []) as R[] };
      }
      const res = await conn.query<R>(sql, params as unknown[]);
      return { rows: res.rows };
    },
    copyIn: async (table, columns, data, format = "csv") => {
      const cols = columns.map(ident).join(", ");
      const fmt = format === "binary" ? "binary" : "csv";
      // PGlite has no COPY protocol stream; it reads COPY input from a Blob mounted at /dev/blob.
      const blob = new Blob([...data]);
      await conn.query(`COPY ${ident(table)} (${cols}) FROM '/dev/blob' WITH (FORMAT ${fmt})`, [], { blob });
    },
    copyOut: async (select) => {
      const res = await conn.query(`COPY (${select}) TO '/dev/blob' WITH (FORMAT binary)`);
      if (!res.blob) throw new Error("PGlite COPY TO returned no data");
      return new Uint8Array(await res.blob.arrayBuffer());
    },
  });

  const root = bulk(pg);
  return {
    kind: "pglite",
    location: dataDir,
    ...root,
    transaction: (fn) => pg.transaction((tx) => fn(bulk(tx))),
    close: () => pg.close(),
  };
}
