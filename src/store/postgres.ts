import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { log } from "../log/logger.ts";
import type { Db, Tx } from "./db.ts";
import { ident } from "./db.ts";
import { parseInt8 } from "./int8.ts";

const INT8_OID = 20;

/** Postgres backend: a `pg` pool. Bulk loads stream through COPY on one pooled connection. */
export async function openPostgres(url: string, schema: string | undefined, max: number): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // search_path as a startup option so every pooled connection, including ones opened later, is
    // confined to the schema; `public` stays visible for extensions installed there.
    ...(schema ? { options: `-c search_path=${schema},public` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID && format !== "binary"
          ? parseInt8
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client dying (server restart) must not crash the process; the next query reconnects.
  pool.on("error", (err) => log().warn({ err }, "idle postgres connection failed"));
  // Fail fast on a bad URL instead of on the first real query.
  const probe = await pool.connect();
  probe.release();

  const bulk = (client: pg.ClientBase): Tx => ({
    query: async <R>(sql: string, params?: readonly unknown[]) => {
      const res = await client.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as R[] };
    },
    copyIn: async (table, columns, data, format = "csv") => {
      const cols = columns.map(ident).join(", ");
      const fmt = format === "binary" ? "binary" : "csv";
      const sink = client.query(copyFrom(`COPY ${ident(table)} (${cols}) FROM STDIN WITH (FORMAT ${fmt})`));
      await pipeline(Readable.from(data), sink);
    },
    copyOut: async (select) => {
      const source = client.query(copyTo(`COPY (${select}) TO STDOUT WITH (FORMAT binary)`));
      const chunks: Buffer[] = [];
      for await (const chunk of source) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  });

  const withClient = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  };

  return {
    kind: "postgres",
    location: redactUrl(url) + (schema ? ` (schema ${schema})` : ""),
    query: async <R>(sql: string, params?: readonly unknown[]) => {
      const res = await pool.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as R[] };
    },
    copyIn: (table, columns, data, format) => withClient((c) => bulk(c).copyIn(table, columns, data, format)),
    copyOut: (select) => withClient((c) => bulk(c).copyOut(select)),
    transaction: async (fn) => {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        const result = await fn(bulk(client));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it, don't pool it.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres";
  }
}
