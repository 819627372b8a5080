import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CliError } from "../../src/cli/cli-error.ts";
import { dataCommand, register } from "../../src/cli/data-command.ts";
import { bundledFiles } from "../../src/market/bundled.ts";
import { openDb } from "../../src/store/db.ts";

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_market_cli_${randomBytes(4).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "alphaloop-cli-"));
const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

afterAll(async () => {
  const db = await openDb({ url: PG_URL });
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Run `alphaloop data ...` against a store; returns what went to stdout. */
async function run(args: string[], open: () => ReturnType<typeof openDb>): Promise<string> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const program = new Command().exitOverride();
  register(program, { openDb: open, write: (t) => (out += t) });
  await program.parseAsync(["data", ...args], { from: "user" });
  vi.restoreAllMocks();
  return out;
}

const pg = () => openDb({ url: PG_URL, schema });

function csv(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => `${T0 + i * H},${100 + i},${103 + i},${99 + i},${101 + i},${5 + i}`);

// PGlite (Postgres in WASM) takes seconds to create a database and to import the ~210k bundled
// bars, and many times that on a loaded CI machine; these two tests get room for that.
const SLOW = 180_000;

describe("alphaloop data info on the embedded default", () => {
  const open = () => openDb({ url: "", dataDir: join(dir, "pgdata") });

  it(
    "imports the bundled data into an empty store first, then lists it as JSON",
    async () => {
      const out = JSON.parse(await run(["info", "--json"], open)) as {
        datasets: {
          symbol: string;
          timeframe: string;
          rows: number;
          from: string;
          to: string;
          gaps: number;
        }[];
      };
      expect(new Set(out.datasets.map((d) => `${d.symbol} ${d.timeframe}`))).toEqual(names());
      const btc1h = out.datasets.find((d) => d.symbol === "BTCUSDT" && d.timeframe === "1h")!;
      expect(btc1h.from).toBe("2019-01-01T00:00:00.000Z");
      expect(btc1h.to).toBe("2025-12-31T23:00:00.000Z");
      expect(btc1h.rows).toBeGreaterThan(60_000);
      expect(btc1h.gaps).toBeGreaterThan(0);
    },
    SLOW,
  );

  it(
    "does not import again once data is there, and prints a table",
    async () => {
      const out = await run(["info"], open);
      expect(out).toMatch(/^store: /);
      expect(out).toMatch(/BTCUSDT\s+1m\s+43200\s+2025-06-01T00:00:00\.000Z\s+2025-06-30T23:59:00\.000Z\s+0/);
      const db = await open();
      const { rows: r } = await db.query<{ n: number }>("SELECT count(*) AS n FROM datasets");
      await db.close();
      expect(r[0]?.n).toBe(names().size);
    },
    SLOW,
  );
});

function names(): Set<string> {
  return new Set(bundledFiles().map((f) => f.split("/").at(-1)!.split("-").slice(0, 2).join(" ")));
}

describe("alphaloop data import on Postgres", () => {
  it("exposes the data group for other subcommands to attach to", () => {
    const group = dataCommand(new Command());
    expect(group.name()).toBe("data");
    expect(group.commands.map((c) => c.name()).sort()).toEqual(["import", "info"]);
  });

  it("does not seed a Postgres store, and says it is empty", async () => {
    expect(await run(["info"], pg)).toMatch(/^no market data in postgres:/);
  });

  it("fails with the first 20 problems as file:line: reason, then how many more, importing nothing", async () => {
    const bad = rows(30).map((l) => l.replace(/,(\d+)$/, ",-$1"));
    const path = csv("NEG-1h-2024.csv", ["open_time,open,high,low,close,volume", ...bad]);
    const err = await run(["import", path], pg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    const lines = (err as CliError).message.split("\n");
    expect(lines[0]).toBe(`${path}:2: volume -5 is negative`);
    expect(lines[19]).toBe(`${path}:21: volume -24 is negative`);
    expect(lines[20]).toBe("… and 10 more");
    expect(lines[21]).toMatch(/^import failed: 30 problems, nothing imported/);
    expect(JSON.parse(await run(["info", "--json"], pg))).toEqual({ datasets: [] });
  });

  it("imports good rows with --skip-bad-rows, reports JSON, and re-import changes nothing", async () => {
    const lines = [...rows(4), "oops,1,2,3,4,5", ...rows(8).slice(5)];
    const path = csv("CLI-1h-2024.csv", lines);
    const first = JSON.parse(await run(["import", path, "--skip-bad-rows", "--json"], pg));
    expect(first).toMatchObject({ ok: true, inserted: 7, updated: 0, skipped: 1 });
    expect(first.problems).toEqual([`${path}:5: open time "oops" is not a number or an ISO date-time`]);
    const again = await run(["import", path, "--skip-bad-rows"], pg);
    expect(again).toMatch(/imported: 0 new, 0 changed, 7 unchanged, 1 skipped/);
    const info = JSON.parse(await run(["info", "--json"], pg));
    expect(info.datasets).toEqual([
      {
        symbol: "CLI",
        timeframe: "1h",
        rows: 7,
        from: new Date(T0).toISOString(),
        to: new Date(T0 + 7 * H).toISOString(),
        gaps: 1,
        missingBars: 1,
      },
    ]);
  });

  it("honours --symbol and --timeframe", async () => {
    const path = csv("whatever.csv", rows(3));
    await run(["import", path, "--symbol", "xyz", "--timeframe", "1h"], pg);
    const info = JSON.parse(await run(["info", "--json"], pg));
    expect(info.datasets.map((d: { symbol: string }) => d.symbol)).toContain("XYZ");
  });
});
