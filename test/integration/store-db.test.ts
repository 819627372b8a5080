import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, openDb } from "../../src/store/db.ts";
import { listMigrations, migrate } from "../../src/store/migrate.ts";

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = (tag: string) => `t_store_${tag}_${randomBytes(4).toString("hex")}`;

// The same contract, run against the real Postgres and against embedded PGlite.
const backends = [
  { name: "postgres", open: (s: string) => openDb({ url: PG_URL, schema: s }) },
  { name: "pglite", open: (s: string) => openDb({ url: "", dataDir: "memory://", schema: s }) },
] as const;

describe.each(backends)("store on $name", ({ name, open }) => {
  let db: Db;
  const s = schema(name);
  // Creating a PGlite database takes seconds, far more on a loaded machine.
  beforeAll(async () => {
    db = await open(s);
  }, 180_000);
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await db.close();
  });

  it("reports its kind and has applied every migration once", async () => {
    expect(db.kind).toBe(name);
    const { rows } = await db.query<{ version: number }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    expect(rows.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
    expect(await migrate(db, s)).toEqual([]);
  });

  it("creates its tables inside the requested schema", async () => {
    const { rows } = await db.query<{ table_schema: string }>(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'bars' AND table_schema = $1",
      [s],
    );
    expect(rows).toHaveLength(1);
  });

  it("binds parameters and returns int8 as numbers, timestamptz as Date", async () => {
    const { rows } = await db.query<{ n: number; t: Date; s: string }>(
      "SELECT $1::bigint * 2 AS n, to_timestamp(0) AS t, $2::text AS s",
      [21_000_000_000, "o'reilly"],
    );
    expect(rows[0]).toEqual({ n: 42_000_000_000, t: new Date(0), s: "o'reilly" });
  });

  it("commits a transaction and rolls one back on error", async () => {
    await db.query("CREATE TABLE tx_probe (v int)");
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO tx_probe VALUES ($1)", [1]);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO tx_probe VALUES ($1)", [2]);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const { rows } = await db.query<{ v: number }>("SELECT v FROM tx_probe ORDER BY v");
    expect(rows.map((r) => r.v)).toEqual([1]);
  });

  it("COPYs rows in (CSV) and out (binary) inside a transaction", async () => {
    await db.query("CREATE TABLE copy_probe (a bigint, b float8)");
    const out = await db.transaction(async (tx) => {
      await tx.copyIn("copy_probe", ["a", "b"], ["1,0.1\n2,", "0.2\n", "3,1e-9\n"]);
      return tx.copyOut("SELECT a, b FROM copy_probe ORDER BY a");
    });
    expect(Buffer.from(out.subarray(0, 11)).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
    const { rows } = await db.query<{ a: number; b: number }>("SELECT a, b FROM copy_probe ORDER BY a");
    expect(rows).toEqual([
      { a: 1, b: 0.1 },
      { a: 2, b: 0.2 },
      { a: 3, b: 1e-9 },
    ]);
  });

  it("refuses identifiers that are not plain names", async () => {
    await expect(db.copyIn('copy_probe"; drop table bars; --', ["a"], [])).rejects.toThrow(
      /refusing SQL identifier/,
    );
  });

  it("applies a newly added migration file exactly once", async () => {
    const extra = [
      ...listMigrations(),
      { version: 999, name: "probe", sql: "CREATE TABLE mig_probe (x int);" },
    ];
    expect(await migrate(db, s, extra)).toEqual([999]);
    expect(await migrate(db, s, extra)).toEqual([]);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM mig_probe");
    expect(rows).toEqual([{ n: 0 }]);
  });
});

describe("migrations on Postgres under concurrency", () => {
  const s = schema("race");
  afterAll(async () => {
    const db = await openDb({ url: PG_URL });
    await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await db.close();
  });

  it("lets several processes' openDb on an empty schema all succeed and migrate once", async () => {
    const dbs = await Promise.all(
      Array.from({ length: 4 }, () => openDb({ url: PG_URL, schema: s, maxConnections: 2 })),
    );
    try {
      const { rows } = await dbs[0]!.query<{ version: number; n: number }>(
        "SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version",
      );
      expect(rows).toEqual(listMigrations().map((m) => ({ version: m.version, n: 1 })));
      for (const db of dbs) await db.query("SELECT count(*) FROM bars");
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });
});
