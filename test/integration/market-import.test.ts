import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledFiles } from "../../src/market/bundled.ts";
import { importFiles } from "../../src/market/import.ts";
import { loadBars } from "../../src/market/load.ts";
import { formatProblem } from "../../src/market/problem.ts";
import { WindowCache } from "../../src/market/window-cache.ts";
import { getDataset, listDatasets } from "../../src/store/bar-store.ts";
import { type Db, openDb } from "../../src/store/db.ts";

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_market_import_${randomBytes(4).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "alphaloop-import-"));
const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

let db: Db;
beforeAll(async () => {
  db = await openDb({ url: PG_URL, schema });
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

function rows(n: number, opts: { start?: number; price?: number } = {}): string[] {
  const start = opts.start ?? T0;
  const p = opts.price ?? 100;
  return Array.from(
    { length: n },
    (_, i) => `${start + i * H},${p + i},${p + i + 2},${p + i - 1},${p + i + 1},${10 + i}`,
  );
}

function file(name: string, lines: string[], gz = false): string {
  const path = join(dir, name);
  const text = `${lines.join("\n")}\n`;
  writeFileSync(path, gz ? gzipSync(text) : text);
  return path;
}

async function barCount(symbol: string): Promise<number> {
  const { rows: r } = await db.query<{ n: number }>("SELECT count(*) AS n FROM bars WHERE symbol = $1", [
    symbol,
  ]);
  return r[0]?.n ?? 0;
}

describe("importing every bundled file in data/", () => {
  it("imports all of them with no problems, and each dataset holds every row of its files", async () => {
    const files = bundledFiles();
    expect(files.length).toBeGreaterThanOrEqual(16);
    const result = await importFiles(db, files);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.ok).toBe(true);
    const expected = new Map<string, number>();
    for (const f of files) {
      const lines = gunzipSync(readFileSync(f)).toString("utf8").trim().split("\n").length - 1;
      const key = /(\w+)-(\w+)-/.exec(f.split("/").at(-1)!)!.slice(1).join(" ");
      expected.set(key, (expected.get(key) ?? 0) + lines);
    }
    const stored = await listDatasets(db);
    expect(new Map(stored.map((d) => [`${d.symbol} ${d.timeframe}`, d.rows]))).toEqual(expected);
    expect(result.inserted).toBe([...expected.values()].reduce((a, b) => a + b, 0));
  });

  it("changes nothing when the same files are imported again", async () => {
    const before = await listDatasets(db);
    const again = await importFiles(
      db,
      bundledFiles().filter((f) => f.includes("-1h-2024")),
    );
    expect([again.inserted, again.updated]).toEqual([0, 0]);
    expect(again.unchanged).toBeGreaterThan(8000);
    expect(await listDatasets(db)).toEqual(before);
  });
});

describe("file formats", () => {
  it("reads the same bars from plain, headerless, gzip, zip and Binance microsecond files", async () => {
    const plain = rows(5);
    const binanceUs = plain.map((l) => {
      const [t, ...ohlcv] = l.split(",");
      return [Number(t) * 1000, ...ohlcv, (Number(t) + H - 1) * 1000, 1234.5, 99, 1.5, 150.25, 0].join(",");
    });
    const zipPath = join(dir, "FMTE-1h-2024.zip");
    writeFileSync(
      zipPath,
      zipSync({ "FMTE-1h-2024.csv": new TextEncoder().encode(`${plain.join("\n")}\n`) }),
    );
    const variants = {
      FMTA: file("FMTA-1h-2024.csv", ["open_time,open,high,low,close,volume", ...plain]),
      FMTB: file("FMTB-1h-2024.csv", plain),
      FMTC: file("FMTC-1h-2024.csv.gz", ["timestamp,open,high,low,close,volume", ...plain], true),
      FMTD: file("FMTD-1h-2025.csv.gz", binanceUs, true),
      FMTE: zipPath,
    };
    const result = await importFiles(db, Object.values(variants));
    expect(result.problems).toEqual([]);
    expect(result.files.find((f) => f.symbol === "FMTD")?.timeUnits).toEqual(["us"]);
    const loaded = await Promise.all(
      Object.keys(variants).map((s) => loadBars(db, { symbol: s, timeframe: "1h" }, { cache: null })),
    );
    const want = {
      time: rows(5).map((l) => Number(l.split(",")[0])),
      close: rows(5).map((l) => Number(l.split(",")[4])),
    };
    for (const l of loaded) {
      expect(Array.from(l.bars.time)).toEqual(want.time);
      expect(Array.from(l.bars.close)).toEqual(want.close);
    }
  });

  it("takes --symbol/--timeframe overrides for files whose names say nothing", async () => {
    const path = file("prices.csv", rows(3));
    const refused = await importFiles(db, [path]);
    expect(refused.ok).toBe(false);
    expect(refused.problems[0]?.reason).toMatch(/no symbol/);
    const ok = await importFiles(db, [path], { symbol: "ovrd", timeframe: "1h" });
    expect(ok.ok).toBe(true);
    expect(await barCount("OVRD")).toBe(3);
  });
});

describe("malformed files", () => {
  const good = rows(6, { start: T0 });
  const cases: { kind: string; lines: string[]; line: number; reason: RegExp }[] = [
    {
      kind: "wrong column count",
      lines: [good[0]!, "1704070800000,1,2,3", ...good.slice(2)],
      line: 2,
      reason: /expected 6 columns, got 4/,
    },
    {
      kind: "non-numeric field",
      lines: [...good.slice(0, 3), good[3]!.replace(/,[^,]+$/, ",lots"), ...good.slice(4)],
      line: 4,
      reason: /volume "lots" is not a number/,
    },
    {
      kind: "high below open/close",
      lines: [...good.slice(0, 4), `${T0 + 4 * H},100,99,90,98,1`, good[5]!],
      line: 5,
      reason: /high 99 is below max/,
    },
    {
      kind: "low above open/close",
      lines: [good[0]!, `${T0 + H},100,120,101,110,1`, ...good.slice(2)],
      line: 2,
      reason: /low 101 is above min/,
    },
    {
      kind: "negative volume",
      lines: [...good.slice(0, 5), `${T0 + 5 * H},100,120,90,110,-3`],
      line: 6,
      reason: /volume -3 is negative/,
    },
    {
      kind: "duplicate time",
      lines: [...good.slice(0, 3), good[2]!, ...good.slice(4)],
      line: 4,
      reason: /duplicate open time/,
    },
    {
      kind: "time going backwards",
      lines: [good[1]!, good[0]!, ...good.slice(2)],
      line: 2,
      reason: /rows out of order/,
    },
  ];

  it.each(cases)(
    "$kind: reports file:line: reason and imports nothing",
    async ({ kind, lines, line, reason }) => {
      const symbol = `BAD${cases.findIndex((c) => c.kind === kind)}`;
      const path = file(`${symbol}-1h-2024.csv`, ["open_time,open,high,low,close,volume", ...lines]);
      const result = await importFiles(db, [path, file(`${symbol}OK-1h-2024.csv`, good)]);
      expect(result.ok).toBe(false);
      const formatted = result.problems.map(formatProblem);
      expect(formatted).toHaveLength(1);
      expect(formatted[0]).toMatch(
        new RegExp(`^${path.replace(/[.]/g, "\\.")}:${line + 1}: .*${reason.source}`),
      );
      // One transaction: the good file named alongside is not imported either.
      expect(await barCount(symbol)).toBe(0);
      expect(await barCount(`${symbol}OK`)).toBe(0);
    },
  );

  it("lists every problem of a badly broken file", async () => {
    const lines = rows(40).map((l, i) => (i % 2 ? l.replace(/^(\d+),(\d+)/, "$1,x") : l));
    const result = await importFiles(db, [file("MANY-1h-2024.csv", lines)]);
    expect(result.problems).toHaveLength(20);
    expect(result.problems.map((p) => p.line)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i + 2));
  });

  it("with skipBadRows imports the good rows and counts and lists the skipped ones", async () => {
    const lines = [...rows(3), `${T0 + 3 * H},100,99,90,98,1`, ...rows(2, { start: T0 + 4 * H }), "junk"];
    const result = await importFiles(db, [file("SKIP-1h-2024.csv", lines)], { skipBadRows: true });
    expect(result.ok).toBe(true);
    expect(result.skipped).toBe(2);
    expect(result.inserted).toBe(5);
    expect(result.problems.map((p) => p.line)).toEqual([4, 7]);
    expect(await barCount("SKIP")).toBe(5);
  });

  it("reports gaps as information and still imports", async () => {
    const result = await importFiles(db, [
      file("GAPS-1h-2024.csv", [...rows(2), ...rows(2, { start: T0 + 5 * H })]),
    ]);
    expect(result.ok).toBe(true);
    expect(result.files[0]?.gaps.map((g) => [g.line, g.missingBars])).toEqual([[3, 3]]);
    const ds = await getDataset(db, "GAPS", "1h");
    expect([ds?.rows, ds?.gaps, ds?.missingBars]).toEqual([4, 1, 3]);
  });
});

describe("loading windows", () => {
  const cacheDir = join(dir, "cache");
  beforeAll(async () => {
    mkdirSync(cacheDir, { recursive: true });
    const r = await importFiles(db, [file("LOAD-1h-2024.csv", rows(48, { price: 1000 }))]);
    expect(r.ok).toBe(true);
  });

  it("returns typed arrays for [from, to) with the stored values", async () => {
    const { bars, source } = await loadBars(
      db,
      { symbol: "LOAD", timeframe: "1h", from: T0 + 10 * H, to: T0 + 20 * H },
      { cache: null },
    );
    expect(source).toBe("db");
    expect(bars.time).toBeInstanceOf(Float64Array);
    expect(bars.time.length).toBe(10);
    expect(Array.from(bars.time)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (10 + i) * H));
    expect(Array.from(bars.open)).toEqual(Array.from({ length: 10 }, (_, i) => 1010 + i));
    expect(Array.from(bars.high)).toEqual(Array.from({ length: 10 }, (_, i) => 1012 + i));
    expect(Array.from(bars.low)).toEqual(Array.from({ length: 10 }, (_, i) => 1009 + i));
    expect(Array.from(bars.close)).toEqual(Array.from({ length: 10 }, (_, i) => 1011 + i));
    expect(Array.from(bars.volume)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
  });

  it("serves a repeated load from the file cache without touching the database", async () => {
    const win = { symbol: "LOAD", timeframe: "1h", from: T0, to: T0 + 24 * H };
    const first = await loadBars(db, win, { cache: new WindowCache({ dir: cacheDir }) });
    expect(first.source).toBe("db");

    // A fresh cache (new process) over the same folder, and a database that is already closed.
    const closed = await openDb({ url: PG_URL, schema });
    await closed.close();
    const again = await loadBars(closed, win, {
      cache: new WindowCache({ dir: cacheDir }),
      revision: first.revision,
    });
    expect(again.source).toBe("file");
    expect(Array.from(again.bars.close)).toEqual(Array.from(first.bars.close));

    // Without a known revision, the only query is the one-row dataset lookup; no bars are read.
    const seen: string[] = [];
    const counting: Db = {
      ...db,
      query: (sql, params) => {
        seen.push(sql);
        return db.query(sql, params);
      },
      copyOut: (sql) => {
        seen.push(`COPY ${sql}`);
        return db.copyOut(sql);
      },
      transaction: (fn) =>
        db.transaction((tx) =>
          fn({
            ...tx,
            query: (sql, params) => {
              seen.push(sql);
              return tx.query(sql, params);
            },
            copyOut: (sql) => {
              seen.push(`COPY ${sql}`);
              return tx.copyOut(sql);
            },
          }),
        ),
    };
    const third = await loadBars(counting, win, { cache: new WindowCache({ dir: cacheDir }) });
    expect(third.source).toBe("file");
    expect(seen.some((q) => /FROM datasets/.test(q))).toBe(true);
    expect(seen.filter((q) => /FROM bars\b/.test(q))).toEqual([]);
    expect(seen.filter((s) => s.startsWith("COPY"))).toEqual([]);
  });

  it("misses the cache after a re-import that changes data, and serves the new values", async () => {
    const win = { symbol: "LOAD", timeframe: "1h", from: T0, to: T0 + 24 * H };
    const cache = new WindowCache({ dir: cacheDir });
    const before = await loadBars(db, win, { cache });
    expect(before.source).not.toBe("db");
    const changed = rows(48, { price: 1000 }).map((l, i) => (i === 5 ? l.replace(/,(\d+)$/, ",999") : l));
    const r = await importFiles(db, [file("LOAD-1h-2024.csv", changed)]);
    expect([r.inserted, r.updated]).toEqual([0, 1]);
    const after = await loadBars(db, win, { cache: new WindowCache({ dir: cacheDir }) });
    expect(after.source).toBe("db");
    expect(after.revision).not.toBe(before.revision);
    expect(after.bars.volume[5]).toBe(999);
    expect(before.bars.volume[5]).toBe(15);
  });

  it("says which dataset is missing", async () => {
    await expect(loadBars(db, { symbol: "NOPE", timeframe: "1h" }, { cache: null })).rejects.toThrow(
      /no bars stored for NOPE 1h/,
    );
  });
});
