import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseKlineCsv } from "../../src/market/binance-csv.ts";
import { formatProblem } from "../../src/market/problem.ts";
import { formatGap, keptBars, validateRows } from "../../src/market/validate.ts";

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

function check(rows: string[]) {
  const parsed = parseKlineCsv(rows.join("\n"), "v.csv");
  const v = validateRows(parsed, H);
  return { parsed, v, problems: v.problems.map(formatProblem) };
}

describe("validateRows", () => {
  it("passes consistent bars", () => {
    const { v } = check([`${T0},100,110,90,105,1`, `${T0 + H},105,106,104,104.5,0`]);
    expect(v.problems).toEqual([]);
    expect(v.kept).toBe(2);
    expect(v.gaps).toEqual([]);
  });

  it("flags high below max(open, close)", () => {
    expect(check([`${T0},100,104,90,105,1`]).problems).toEqual([
      "v.csv:1: high 104 is below max(open 100, close 105)",
    ]);
  });

  it("flags low above min(open, close)", () => {
    expect(check([`${T0},100,110,101,105,1`]).problems).toEqual([
      "v.csv:1: low 101 is above min(open 100, close 105)",
    ]);
  });

  it("flags negative volume and non-positive prices", () => {
    expect(check([`${T0},100,110,90,105,-1`, `${T0 + H},0,110,0,105,1`]).problems).toEqual([
      "v.csv:1: volume -1 is negative",
      "v.csv:2: prices must be positive",
    ]);
  });

  it("flags duplicates and rows that go back in time, naming the earlier line", () => {
    const { problems, v } = check([
      `${T0},100,110,90,105,1`,
      `${T0 + H},100,110,90,105,1`,
      `${T0 + H},100,110,90,105,1`,
      `${T0},100,110,90,105,1`,
      `${T0 + 2 * H},100,110,90,105,1`,
    ]);
    expect(problems).toEqual([
      "v.csv:3: duplicate open time 2024-01-01T01:00:00Z (first on line 2)",
      "v.csv:4: open time 2024-01-01T00:00:00Z is before line 2 (2024-01-01T01:00:00Z): rows out of order",
    ]);
    expect(v.kept).toBe(3);
  });

  it("reports gaps as information with the number of missing bars, not as problems", () => {
    const { v } = check([`${T0},100,110,90,105,1`, `${T0 + 4 * H},100,110,90,105,1`]);
    expect(v.problems).toEqual([]);
    expect(v.gaps).toHaveLength(1);
    expect(v.gaps[0]?.missingBars).toBe(3);
    expect(formatGap(v.gaps[0]!)).toBe(
      "v.csv:2: gap of 3 bars between 2024-01-01T00:00:00Z and 2024-01-01T04:00:00Z",
    );
  });

  it("keeps parse problems alongside rule problems, in line order", () => {
    const { problems } = check([`${T0},100,104,90,105,1`, `${T0 + H},x,110,90,105,1`]);
    expect(problems.map((p) => p.split(":")[1])).toEqual(["1", "2"]);
  });

  it("keeps exactly the valid rows, in order, for any mix of good and broken rows", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), (broken) => {
        const rows = broken.map((b, i) => `${T0 + i * H},100,${b ? 99 : 110},90,105,1`);
        const { parsed, v } = check(rows);
        const bars = keptBars(parsed, v);
        const want = broken.flatMap((b, i) => (b ? [] : [T0 + i * H]));
        expect(Array.from(bars.time)).toEqual(want);
        expect(v.problems.map((p) => p.line)).toEqual(broken.flatMap((b, i) => (b ? [i + 1] : [])));
      }),
    );
  });
});
