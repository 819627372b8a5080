import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bars } from "../../src/domain/bars.ts";
import {
  decodeBinaryBars,
  decodePackedBars,
  getDataset,
  lockDataset,
  readBars,
  refreshDataset,
  upsertBars,
} from "../../src/store/bar-store.ts";
import type { Db } from "../../src/store/db.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** 300 hourly bars with a 5-bar gap and values that need every bit of a float64. */
function sample(): Bars {
  const idx = Array.from({ length: 305 }, (_, i) => i).filter((i) => i < 100 || i >= 105);
  const f = (k: number) => Float64Array.from(idx, (i) => 1000 + k + i / 3 + Math.sin(i) * 1e-7);
  return {
    time: Float64Array.from(idx, (i) => T0 + i * H),
    open: f(1),
    high: f(3),
    low: f(0),
    close: f(2),
    volume: Float64Array.from(idx, (i) => i * 0.001),
  };
}

const asArrays = (b: Bars) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Array.from(v as Float64Array)]));

function cut(b: Bars, from: number, to: number): Bars {
  const keep = Array.from(b.time.keys()).filter((i) => b.time[i]! >= from && b.time[i]! < to);
  const pick = (a: Float64Array) => Float64Array.from(keep, (i) => a[i]!);
  return {
    time: pick(b.time),
    open: pick(b.open),
    high: pick(b.high),
    low: pick(b.low),
    close: pick(b.close),
    volume: pick(b.volume),
  };
}

describe.each(backends)("readBars on $name", ({ open }) => {
  const schema = testSchema("market_read");
  const bars = sample();
  let db: Db;
  let id: number;
  beforeAll(async () => {
    db = await open(schema);
    await db.transaction(async (tx) => {
      await lockDataset(tx, "READ", "1h");
      await upsertBars(tx, "READ", "1h", bars);
      await refreshDataset(tx, "READ", "1h");
    });
    id = (await getDataset(db, "READ", "1h"))!.id;
  }, 60_000);
  afterAll(() => dropSchema(db, schema));

  it("reads every stored value exactly, in one packed chunk or in many", async () => {
    const windows: [number | undefined, number | undefined][] = [
      [undefined, undefined],
      [T0 + 50 * H, T0 + 250 * H],
      [T0 + 98 * H, T0 + 107 * H],
      [undefined, T0 + 10 * H],
      [T0 + 300 * H, undefined],
      [T0 + 101 * H, T0 + 104 * H],
    ];
    for (const [from, to] of windows) {
      const want = asArrays(cut(bars, from ?? -Infinity, to ?? Infinity));
      expect(asArrays(await readBars(db, id, from, to)), `${from}..${to}`).toEqual(want);
      expect(asArrays(await readBars(db, id, from, to, 7)), `${from}..${to} in chunks`).toEqual(want);
    }
  });

  it("gives the same columns as the row-per-bar COPY", async () => {
    const rows = decodeBinaryBars(
      await db.copyOut(
        `SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = 'READ' AND timeframe = '1h' ORDER BY ts`,
      ),
    );
    expect(asArrays(await readBars(db, id))).toEqual(asArrays(rows));
  });

  it("reads nothing for an unknown dataset or an empty window", async () => {
    expect((await readBars(db, id + 1000)).time.length).toBe(0);
    expect((await readBars(db, id, T0 + 101 * H, T0 + 104 * H)).time.length).toBe(0);
    expect((await readBars(db, id, T0 + 500 * H, T0 + 600 * H)).time.length).toBe(0);
  });
});

describe("decodePackedBars", () => {
  /** A binary COPY payload of one bytea field holding the given (µs since 2000, 5 floats) bars. */
  function payload(bars: [number, number][]): Uint8Array {
    const body = Buffer.alloc(bars.length * 48);
    bars.forEach(([us, v], i) => {
      body.writeBigInt64BE(BigInt(us), i * 48);
      for (let k = 0; k < 5; k++) body.writeDoubleBE(v + k, i * 48 + 8 + k * 8);
    });
    const head = Buffer.from([
      0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    const field = Buffer.alloc(6);
    field.writeInt16BE(1, 0);
    field.writeInt32BE(body.length, 2);
    const trailer = Buffer.alloc(2);
    trailer.writeInt16BE(-1, 0);
    return new Uint8Array(Buffer.concat([head, field, body, trailer]));
  }

  it("decodes times to epoch ms and the five prices", () => {
    const b = decodePackedBars([payload([[3_600_000_000, 7]])])!;
    expect(b.time[0]).toBe(Date.UTC(2000, 0, 1, 1));
    expect(Array.from([b.open[0], b.high[0], b.low[0], b.close[0], b.volume[0]])).toEqual([7, 8, 9, 10, 11]);
  });

  it("refuses bars out of time order, so the caller falls back to the row-per-bar COPY", () => {
    expect(
      decodePackedBars([
        payload([
          [2_000_000, 1],
          [1_000_000, 2],
        ]),
      ]),
    ).toBeUndefined();
    expect(decodePackedBars([payload([[2_000_000, 1]]), payload([[2_000_000, 2]])])).toBeUndefined();
    expect(decodePackedBars([payload([[1_000_000, 1]]), payload([[2_000_000, 2]])])?.time.length).toBe(2);
  });

  it("rejects a payload that is not packed bars", () => {
    expect(() => decodePackedBars([new Uint8Array([1, 2, 3])])).toThrow(/not a Postgres binary COPY/);
  });
});
