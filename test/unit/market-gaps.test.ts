import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyBars } from "../../src/domain/bars.ts";
import { findGaps } from "../../src/market/gaps.ts";

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 24, 0, 0); // 2024-03-24T00:00Z
const at = (minute: number) => T0 + minute * MIN;
const times = (...minutes: number[]) => Float64Array.from(minutes, at);

describe("findGaps", () => {
  it("finds interior runs of missing bars with first/last missing open time", () => {
    const r = findGaps(times(0, 1, 2, 5, 6, 7, 8, 10), "1m");
    expect(r.gaps).toEqual([
      { from: at(3), to: at(4), missingBars: 2 },
      { from: at(9), to: at(9), missingBars: 1 },
    ]);
    expect(r.missingBars).toBe(3);
    expect(r.expectedBars).toBe(11);
    expect(r).toMatchObject({ duplicates: 0, outOfOrder: 0, offGrid: 0 });
  });

  it("reports nothing for a complete series and accepts Bars", () => {
    const bars = emptyBars(4);
    bars.time.set(times(0, 1, 2, 3));
    const r = findGaps(bars, MIN);
    expect(r.gaps).toEqual([]);
    expect(r.missingBars).toBe(0);
    expect(r.expectedBars).toBe(4);
  });

  it("works at 1h: a 5-hour exchange outage", () => {
    const H = 3_600_000;
    const r = findGaps(
      Float64Array.from([0, 1, 2, 8, 9], (h) => T0 + h * H),
      "1h",
    );
    expect(r.gaps).toEqual([{ from: T0 + 3 * H, to: T0 + 7 * H, missingBars: 5 }]);
  });

  it("counts leading and trailing gaps against an expected span [start, end)", () => {
    const r = findGaps(times(3, 4, 6), "1m", { start: at(0), end: at(10) });
    expect(r.gaps).toEqual([
      { from: at(0), to: at(2), missingBars: 3 },
      { from: at(5), to: at(5), missingBars: 1 },
      { from: at(7), to: at(9), missingBars: 3 },
    ]);
    expect(r.missingBars).toBe(7);
    expect(r.expectedBars).toBe(10);
  });

  it("an empty series over a span is one gap", () => {
    const r = findGaps(new Float64Array(0), "1m", { start: at(0), end: at(5) });
    expect(r.gaps).toEqual([{ from: at(0), to: at(4), missingBars: 5 }]);
    expect(findGaps(new Float64Array(0), "1m").gaps).toEqual([]);
  });

  it("counts duplicates, out-of-order and off-grid bars instead of throwing", () => {
    const t = times(0, 1, 1, 3, 2, 4);
    const withOffGrid = Float64Array.from([...t, at(5) + 30_000]);
    const r = findGaps(withOffGrid, "1m");
    expect(r.duplicates).toBe(1);
    expect(r.outOfOrder).toBe(1);
    expect(r.offGrid).toBe(1);
    // 00:05:30 is off the grid, but it still means the 00:05 bar is missing.
    expect(r.gaps).toEqual([
      { from: at(2), to: at(2), missingBars: 1 },
      { from: at(5), to: at(5), missingBars: 1 },
    ]);
  });
});

describe("findGaps properties", () => {
  it("finds exactly the bars removed from a complete series", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 400 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 398 }), { maxLength: 200 }),
        (length, removedRaw) => {
          const removed = new Set(removedRaw.filter((m) => m < length - 1));
          const kept = Array.from({ length }, (_, m) => m).filter((m) => !removed.has(m));
          const r = findGaps(times(...kept), "1m");
          const found: number[] = [];
          for (const g of r.gaps) {
            expect(g.to - g.from).toBe((g.missingBars - 1) * MIN);
            for (let t = g.from; t <= g.to; t += MIN) found.push((t - T0) / MIN);
          }
          expect(found).toEqual([...removed].sort((a, b) => a - b));
          expect(r.missingBars).toBe(removed.size);
          expect(r.expectedBars).toBe(length);
        },
      ),
    );
  });
});
