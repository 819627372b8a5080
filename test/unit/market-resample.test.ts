import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Bars } from "../../src/domain/bars.ts";
import { MONDAY_ORIGIN, resampleBars } from "../../src/market/resample.ts";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1); // 2024-01-01T00:00Z

type Row = [time: number, open: number, high: number, low: number, close: number, volume: number];

function barsOf(rows: readonly Row[]): Bars {
  const col = (k: number) => Float64Array.from(rows, (r) => r[k] as number);
  return { time: col(0), open: col(1), high: col(2), low: col(3), close: col(4), volume: col(5) };
}

function rowsOf(b: Bars): Row[] {
  return Array.from(b.time, (t, i) => [t, b.open[i]!, b.high[i]!, b.low[i]!, b.close[i]!, b.volume[i]!]);
}

const at = (minute: number) => T0 + minute * MIN;

// 1m bars starting at 00:02 (not on the 5m grid), 00:12 missing, 00:15-00:19 missing entirely.
const minuteRows: Row[] = [
  [at(2), 10, 11, 9, 10.5, 1],
  [at(3), 10.5, 12, 10, 11, 2],
  [at(4), 11, 11.5, 10.8, 11.2, 3],
  [at(5), 11.2, 11.4, 10.9, 11.0, 4],
  [at(6), 11.0, 13.0, 11.0, 12.5, 5],
  [at(7), 12.5, 12.6, 12.0, 12.1, 6],
  [at(8), 12.1, 12.2, 11.5, 11.6, 7],
  [at(9), 11.6, 11.9, 11.1, 11.8, 8],
  [at(10), 11.8, 12.0, 11.7, 11.9, 9],
  [at(11), 11.9, 12.3, 11.8, 12.2, 10],
  [at(13), 12.2, 12.4, 11.0, 11.3, 11],
  [at(14), 11.3, 11.5, 11.2, 11.4, 12],
  [at(20), 11.4, 11.6, 11.3, 11.5, 1],
  [at(21), 11.5, 11.5, 11.0, 11.1, 1],
  [at(22), 11.1, 11.2, 10.5, 10.6, 1],
  [at(23), 10.6, 10.9, 10.4, 10.8, 1],
  [at(24), 10.8, 11.0, 10.7, 10.9, 1],
];

describe("resampleBars on hand-computed bars", () => {
  it("1m → 5m drops incomplete buckets by default and reports them", () => {
    const r = resampleBars(barsOf(minuteRows), "1m", "5m");
    expect(rowsOf(r.bars)).toEqual([
      [at(5), 11.2, 13.0, 10.9, 11.8, 30],
      [at(20), 11.4, 11.6, 10.4, 10.9, 5],
    ]);
    expect(r.incomplete).toEqual([at(0), at(10)]);
    expect(r.empty).toBe(1);
  });

  it("1m → 5m with partial: keep emits incomplete buckets from the bars present", () => {
    const r = resampleBars(barsOf(minuteRows), "1m", "5m", { partial: "keep" });
    expect(rowsOf(r.bars)).toEqual([
      [at(0), 10, 12, 9, 11.2, 6],
      [at(5), 11.2, 13.0, 10.9, 11.8, 30],
      [at(10), 11.8, 12.4, 11.0, 11.4, 42],
      [at(20), 11.4, 11.6, 10.4, 10.9, 5],
    ]);
    expect(r.incomplete).toEqual([at(0), at(10)]);
    expect(r.empty).toBe(1);
  });

  it("1m → 1h aggregates 60 bars per hour", () => {
    // open 100+i, close 100.5+i, high 101+i (spike 250 at minute 17), low 99.5+i (dip 50 at minute 42).
    const rows: Row[] = [];
    for (let i = 0; i < 120; i++) {
      rows.push([
        at(i),
        100 + i,
        i === 17 ? 250 : 101 + i,
        i === 42 ? 50 : 99.5 + i,
        100.5 + i,
        i < 60 ? 1 : 2,
      ]);
    }
    const r = resampleBars(barsOf(rows), "1m", "1h");
    expect(rowsOf(r.bars)).toEqual([
      [T0, 100, 250, 50, 159.5, 60],
      [T0 + HOUR, 160, 220, 159.5, 219.5, 120],
    ]);
    expect(r.incomplete).toEqual([]);
    expect(r.empty).toBe(0);
  });

  it("1h → 1d on the UTC day grid, dropping the unfinished last day", () => {
    // open 1000+10i, high open+8, low open-3, close open+5, volume i+1; 53 hours = 2 days + 5 hours.
    const rows: Row[] = [];
    for (let i = 0; i < 53; i++) {
      const o = 1000 + 10 * i;
      rows.push([T0 + i * HOUR, o, o + 8, o - 3, o + 5, i + 1]);
    }
    const dropped = resampleBars(barsOf(rows), "1h", "1d");
    expect(rowsOf(dropped.bars)).toEqual([
      [T0, 1000, 1238, 997, 1235, 300],
      [T0 + DAY, 1240, 1478, 1237, 1475, 876],
    ]);
    expect(dropped.incomplete).toEqual([T0 + 2 * DAY]);
    const kept = resampleBars(barsOf(rows), "1h", "1d", { partial: "keep" });
    expect(rowsOf(kept.bars)[2]).toEqual([T0 + 2 * DAY, 1480, 1528, 1477, 1525, 255]);
  });

  it("1h → 4h with a start off the 4h grid", () => {
    // Hours 02:00..09:00: bucket 00:00 has 2 of 4 hours, 04:00 is complete, 08:00 has 2 of 4.
    const rows: Row[] = [2, 3, 4, 5, 6, 7, 8, 9].map((h) => [
      T0 + h * HOUR,
      h,
      h + 0.5,
      h - 0.5,
      h + 0.25,
      h,
    ]);
    const r = resampleBars(barsOf(rows), "1h", "4h");
    expect(rowsOf(r.bars)).toEqual([[T0 + 4 * HOUR, 4, 7.5, 3.5, 7.25, 22]]);
    expect(r.incomplete).toEqual([T0, T0 + 8 * HOUR]);
  });

  it("1d → 1w on the epoch grid (Thursday) or on Mondays with MONDAY_ORIGIN", () => {
    // 2024-01-01 is a Monday. 14 daily bars: open = close = day index, volume 1.
    const rows: Row[] = Array.from({ length: 14 }, (_, d) => [T0 + d * DAY, d, d + 1, d - 1, d, 1]);
    const monday = resampleBars(barsOf(rows), "1d", "1w", { origin: MONDAY_ORIGIN });
    expect(rowsOf(monday.bars)).toEqual([
      [T0, 0, 7, -1, 6, 7],
      [T0 + 7 * DAY, 7, 14, 6, 13, 7],
    ]);
    expect(monday.incomplete).toEqual([]);
    // Epoch weeks run Thursday to Wednesday: Thu 2024-01-04 .. Wed 2024-01-10 is the only full one.
    const thursday = resampleBars(barsOf(rows), "1d", "1w");
    expect(rowsOf(thursday.bars)).toEqual([[T0 + 3 * DAY, 3, 10, 2, 9, 7]]);
    expect(thursday.incomplete).toEqual([T0 - 4 * DAY, T0 + 10 * DAY]);
  });

  it("same timeframe in and out is a copy", () => {
    const b = barsOf(minuteRows);
    const r = resampleBars(b, "1m", "1m");
    expect(rowsOf(r.bars)).toEqual(minuteRows);
    // 00:12 and 00:15-00:19 are inside the span; 00:00-00:01 are before the first bar.
    expect(r.empty).toBe(6);
  });

  it("empty input gives empty output", () => {
    const r = resampleBars(barsOf([]), "1m", "1h");
    expect(r.bars.time.length).toBe(0);
    expect(r).toMatchObject({ incomplete: [], empty: 0 });
  });

  it("throws when the target is not a multiple of the base", () => {
    const b = barsOf(minuteRows);
    expect(() => resampleBars(b, "5m", "7m")).toThrow(/whole multiple of the base/);
    expect(() => resampleBars(b, "1h", "90m")).toThrow(/cannot resample 1h bars to 90m/);
    expect(() => resampleBars(b, "1h", "15m")).toThrow(/whole multiple/);
  });

  it("throws on unsorted, duplicate or off-grid input instead of double counting", () => {
    const swapped = [...minuteRows];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(() => resampleBars(barsOf(swapped), "1m", "5m")).toThrow(/not strictly increasing.*index 2/);
    const dup = [minuteRows[0]!, minuteRows[0]!];
    expect(() => resampleBars(barsOf(dup), "1m", "5m")).toThrow(/strictly increasing/);
    const off: Row[] = [[at(1) + 1000, 1, 1, 1, 1, 1]];
    expect(() => resampleBars(barsOf(off), "1m", "5m")).toThrow(/not on the 1m grid/);
  });
});

/** A straightforward reference: group by bucket in a Map, one object per bar. */
function naiveResample(b: Bars, baseMs: number, targetMs: number, keep: boolean) {
  const groups = new Map<number, number[]>();
  b.time.forEach((t, i) => {
    const k = Math.floor(t / targetMs) * targetMs;
    const g = groups.get(k) ?? [];
    g.push(i);
    groups.set(k, g);
  });
  const rows: Row[] = [];
  for (const [k, idx] of groups) {
    if (!keep && idx.length < targetMs / baseMs) continue;
    rows.push([
      k,
      b.open[idx[0]!]!,
      Math.max(...idx.map((i) => b.high[i]!)),
      Math.min(...idx.map((i) => b.low[i]!)),
      b.close[idx[idx.length - 1]!]!,
      idx.reduce((s, i) => s + b.volume[i]!, 0),
    ]);
  }
  return rows;
}

const barSeries = fc
  .uniqueArray(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 300 })
  .chain((minutes) => {
    const sorted = [...minutes].sort((a, b) => a - b);
    const bar = fc
      .tuple(
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
      )
      .map(
        ([o, c, up, down, v]) => [o, Math.max(o, c) + up, Math.max(0, Math.min(o, c) - down), c, v] as const,
      );
    return fc.tuple(
      fc.constant(sorted),
      fc.array(bar, { minLength: sorted.length, maxLength: sorted.length }),
    );
  })
  .map(([minutes, ohlcv]) =>
    barsOf(
      minutes.map((m, i) => [
        T0 + m * MIN,
        ...(ohlcv[i] as readonly [number, number, number, number, number]),
      ]),
    ),
  );

/** Sums in a different order differ in the last bits. */
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

const targets = fc.constantFrom(1, 2, 5, 15, 60, 240);

describe("resampleBars properties", () => {
  it("matches a naive group-by for drop and keep", () => {
    fc.assert(
      fc.property(barSeries, targets, fc.boolean(), (bars, mult, keep) => {
        const r = resampleBars(bars, MIN, mult * MIN, { partial: keep ? "keep" : "drop" });
        expect(rowsOf(r.bars)).toEqual(naiveResample(bars, MIN, mult * MIN, keep));
      }),
    );
  });

  it("volume of complete buckets is conserved and OHLC stays consistent", () => {
    fc.assert(
      fc.property(barSeries, targets, (bars, mult) => {
        const targetMs = mult * MIN;
        const r = resampleBars(bars, MIN, targetMs);
        const incomplete = new Set(r.incomplete);
        let inputVolume = 0;
        bars.time.forEach((t, i) => {
          if (!incomplete.has(Math.floor(t / targetMs) * targetMs)) inputVolume += bars.volume[i]!;
        });
        const outputVolume = r.bars.volume.reduce((s, v) => s + v, 0);
        expectClose(outputVolume, inputVolume);
        for (let i = 0; i < r.bars.time.length; i++) {
          const { open, high, low, close, time } = r.bars;
          expect(high[i]!).toBeGreaterThanOrEqual(Math.max(open[i]!, close[i]!));
          expect(low[i]!).toBeLessThanOrEqual(Math.min(open[i]!, close[i]!));
          expect(time[i]! % targetMs).toBe(0);
          if (i > 0) expect(time[i]!).toBeGreaterThan(time[i - 1]!);
        }
      }),
    );
  });

  it("accounts for every bucket in the span: emitted, incomplete or empty", () => {
    fc.assert(
      fc.property(barSeries, targets, (bars, mult) => {
        const targetMs = mult * MIN;
        const kept = resampleBars(bars, MIN, targetMs, { partial: "keep" });
        const dropped = resampleBars(bars, MIN, targetMs);
        const first = Math.floor(bars.time[0]! / targetMs);
        const last = Math.floor(bars.time[bars.time.length - 1]! / targetMs);
        expect(kept.bars.time.length + kept.empty).toBe(last - first + 1);
        expect(dropped.bars.time.length).toBe(kept.bars.time.length - kept.incomplete.length);
        expect(dropped.incomplete).toEqual(kept.incomplete);
        const keptVolume = kept.bars.volume.reduce((s, v) => s + v, 0);
        const inputVolume = bars.volume.reduce((s, v) => s + v, 0);
        expectClose(keptVolume, inputVolume);
      }),
    );
  });
});
