import { describe, expect, it } from "vitest";
import { inferDataset, parseKlineCsv } from "../../src/market/binance-csv.ts";
import { formatProblem, formatProblems } from "../../src/market/problem.ts";

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

function plainRows(n: number, start = T0): string[] {
  return Array.from({ length: n }, (_, i) => `${start + i * H},100,110,90,105,${1.5 + i}`);
}

function binanceRow(openMs: number, unitFactor = 1): string {
  const o = openMs * unitFactor;
  const c = (openMs + H - 1) * unitFactor;
  return `${o},100.5,110.25,90.125,105,12.5,${c},1300.5,42,6.25,650.25,0`;
}

describe("parseKlineCsv", () => {
  it("reads a plain CSV with an open_time header", () => {
    const p = parseKlineCsv(
      ["open_time,open,high,low,close,volume", ...plainRows(3), ""].join("\n"),
      "a.csv",
    );
    expect(p.header).toBe(true);
    expect(p.layout).toBe("plain");
    expect(p.problems).toEqual([]);
    expect(Array.from(p.time)).toEqual([T0, T0 + H, T0 + 2 * H]);
    expect(Array.from(p.volume)).toEqual([1.5, 2.5, 3.5]);
    expect(Array.from(p.line)).toEqual([2, 3, 4]);
  });

  it("reads the same rows without a header and with a `timestamp` header", () => {
    const noHeader = parseKlineCsv(plainRows(3).join("\n"), "a.csv");
    const ts = parseKlineCsv(["timestamp,open,high,low,close,volume", ...plainRows(3)].join("\r\n"), "a.csv");
    expect(noHeader.header).toBe(false);
    expect(Array.from(noHeader.line)).toEqual([1, 2, 3]);
    expect(Array.from(ts.time)).toEqual(Array.from(noHeader.time));
    expect(Array.from(ts.close)).toEqual([105, 105, 105]);
  });

  it("reads Binance 12-column klines in milliseconds and in microseconds to the same ms times", () => {
    const ms = parseKlineCsv([binanceRow(T0), binanceRow(T0 + H)].join("\n"), "ms.csv");
    const us = parseKlineCsv([binanceRow(T0, 1000), binanceRow(T0 + H, 1000)].join("\n"), "us.csv");
    expect(ms.layout).toBe("binance");
    expect([...ms.timeUnits]).toEqual(["ms"]);
    expect([...us.timeUnits]).toEqual(["us"]);
    expect(Array.from(us.time)).toEqual([T0, T0 + H]);
    expect(Array.from(us.time)).toEqual(Array.from(ms.time));
    expect(Array.from(us.high)).toEqual([110.25, 110.25]);
    expect(us.problems).toEqual([]);
  });

  it("accepts a Binance header line", () => {
    const header =
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
    const p = parseKlineCsv([header, binanceRow(T0)].join("\n"), "b.csv");
    expect(p.header).toBe(true);
    expect(p.problems).toEqual([]);
    expect(p.rows).toBe(1);
  });

  it("reads epoch seconds and ISO date-times as UTC", () => {
    const p = parseKlineCsv(
      [
        `${T0 / 1000},1,2,0.5,1.5,3`,
        "2024-01-01 01:00:00,1,2,0.5,1.5,3",
        "2024-01-01T02:00:00Z,1,2,0.5,1.5,3",
      ].join("\n"),
      "s.csv",
    );
    expect(p.problems).toEqual([]);
    expect(Array.from(p.time)).toEqual([T0, T0 + H, T0 + 2 * H]);
  });

  it("reports a wrong column count with its line and keeps reading", () => {
    const p = parseKlineCsv(
      [...plainRows(2), `${T0 + 2 * H},1,2,3`, ...plainRows(1, T0 + 3 * H)].join("\n"),
      "c.csv",
    );
    expect(p.problems.map(formatProblem)).toEqual(["c.csv:3: expected 6 columns, got 4"]);
    expect(Array.from(p.ok)).toEqual([1, 1, 0, 1]);
  });

  it("reports non-numeric and empty fields by column name", () => {
    const p = parseKlineCsv(
      [`${T0},100,abc,90,105,1`, `${T0 + H},100,110,,105,1`, `${T0 + 2 * H},100,110,90,105,NaN`].join("\n"),
      "n.csv",
    );
    expect(p.problems.map(formatProblem)).toEqual([
      'n.csv:1: high "abc" is not a number',
      'n.csv:2: low "" is not a number',
      'n.csv:3: volume "NaN" is not a number',
    ]);
  });

  it("reports an implausible or unreadable open time", () => {
    const p = parseKlineCsv(["12345,1,2,0.5,1.5,3", "yesterday,1,2,0.5,1.5,3"].join("\n"), "t.csv");
    expect(p.problems.map((x) => x.line)).toEqual([1, 2]);
    expect(p.problems[0]?.reason).toMatch(/not a plausible epoch/);
    expect(p.problems[1]?.reason).toMatch(/not a number or an ISO date-time/);
  });

  it("reports a header that would put columns in the wrong order", () => {
    const p = parseKlineCsv(["time,open,low,high,close,volume", ...plainRows(1)].join("\n"), "h.csv");
    expect(p.problems).toHaveLength(1);
    expect(formatProblem(p.problems[0]!)).toMatch(/^h\.csv:1: unexpected header/);
  });
});

describe("inferDataset", () => {
  it("reads symbol and timeframe from Binance-style and freqtrade-style names", () => {
    expect(inferDataset("/x/BTCUSDT-1h-2024.csv.gz")).toEqual({ symbol: "BTCUSDT", timeframe: "1h" });
    expect(inferDataset("ETHUSDT-1m-2025-06.zip")).toEqual({ symbol: "ETHUSDT", timeframe: "1m" });
    expect(inferDataset("BTC_USDT-5m.csv")).toEqual({ symbol: "BTCUSDT", timeframe: "5m" });
    expect(inferDataset("prices.csv")).toEqual({});
  });
});

describe("formatProblems", () => {
  it("lists the first 20 then says how many more", () => {
    const problems = Array.from({ length: 23 }, (_, i) => ({ file: "f.csv", line: i + 1, reason: "bad" }));
    const lines = formatProblems(problems).split("\n");
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe("f.csv:1: bad");
    expect(lines[20]).toBe("… and 3 more");
    expect(formatProblem({ file: "g.csv", line: 0, reason: "cannot read" })).toBe("g.csv: cannot read");
  });
});
