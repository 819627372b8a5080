/**
 * Reading kline CSV files into columns. Two layouts are accepted, with or without a header line:
 *  - Binance (data.binance.vision): open_time,open,high,low,close,volume,close_time,quote_volume,
 *    trades,taker_base,taker_quote,ignore — 12 columns;
 *  - plain: timestamp,open,high,low,close,volume (header may also say open_time) — 6 columns.
 * The open time may be milliseconds or microseconds (Binance spot files switched to microseconds in
 * 2025) or seconds, told apart by magnitude, or an ISO date-time (UTC unless it says otherwise).
 * Files may be plain, `.gz`, or a Binance `.zip` holding one CSV.
 *
 * This layer only turns text into numbers and reports what it cannot read; the bar rules (OHLC
 * consistency, ordering, gaps) live in validate.ts.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import { unzipSync } from "fflate";
import type { Problem } from "./problem.ts";

export type TimeUnit = "us" | "ms" | "s" | "iso";
export type CsvLayout = "binance" | "plain";

export interface ParsedCsv {
  readonly file: string;
  readonly layout: CsvLayout | undefined;
  readonly header: boolean;
  /** Data rows seen (blank lines excluded). Arrays below have this length. */
  readonly rows: number;
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  /** 1-based line number of each row in the file. */
  readonly line: Int32Array;
  /** 1 where the row was read completely; 0 where it has a problem listed in `problems`. */
  readonly ok: Uint8Array;
  readonly timeUnits: ReadonlySet<TimeUnit>;
  readonly problems: Problem[];
}

const LAYOUT_COLUMNS: Record<CsvLayout, number> = { binance: 12, plain: 6 };
const TIME_HEADERS = new Set(["open_time", "timestamp", "time", "date", "datetime", "open time", "ts"]);
const OHLCV = ["open", "high", "low", "close", "volume"];
const BINANCE_NAMES = [
  "open_time",
  ...OHLCV,
  "close_time",
  "quote_volume",
  "trades",
  "taker_base",
  "taker_quote",
];
// Binance's last column is literally named "ignore" and is not checked.
const CHECKED_COLUMNS: Record<CsvLayout, number> = { binance: 11, plain: 6 };

/** Read a file's text, unpacking `.gz` and `.zip` (the first `.csv` inside). */
export function readCsvText(path: string): string {
  const raw = readFileSync(path);
  if (path.endsWith(".gz")) return gunzipSync(raw).toString("utf8");
  if (path.endsWith(".zip")) {
    const entries = unzipSync(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    const name = Object.keys(entries).find((n) => n.toLowerCase().endsWith(".csv"));
    if (!name) throw new Error("zip archive holds no .csv file");
    return Buffer.from(entries[name] as Uint8Array).toString("utf8");
  }
  return raw.toString("utf8");
}

/**
 * Symbol and timeframe from a name like `BTCUSDT-1h-2024.csv.gz`, `ETHUSDT-1m-2025-06.zip` or
 * `BTC_USDT-5m.csv`; undefined parts when the name does not say.
 */
export function inferDataset(path: string): { symbol?: string; timeframe?: string } {
  const m = /^([A-Za-z0-9]+(?:_[A-Za-z]+)?)[-_](\d+[mhdw])(?:[-_.]|$)/.exec(basename(path));
  if (!m) return {};
  return { symbol: (m[1] as string).replace("_", "").toUpperCase(), timeframe: m[2] as string };
}

function parseNumber(s: string): number {
  // Number("") and Number("  ") are 0; an empty cell must not become a zero price.
  if (s.length === 0 || s.trim().length === 0) return Number.NaN;
  return Number(s);
}

function timeToMs(cell: string): { ms: number; unit: TimeUnit } | string {
  const v = parseNumber(cell);
  if (Number.isFinite(v)) {
    if (v >= 1e14 && v < 1e17) return { ms: Math.floor(v / 1000), unit: "us" };
    if (v >= 1e11 && v < 1e14) return { ms: Math.floor(v), unit: "ms" };
    if (v >= 1e8 && v < 1e11) return { ms: Math.round(v * 1000), unit: "s" };
    return `open time ${cell} is not a plausible epoch in seconds, milliseconds or microseconds`;
  }
  const s = cell.trim();
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) {
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(s) && s.length > 10;
    const ms = Date.parse(
      hasZone ? s.replace(" ", "T") : `${s.replace(" ", "T")}${s.length > 10 ? "Z" : ""}`,
    );
    if (Number.isFinite(ms)) return { ms, unit: "iso" };
  }
  return `open time ${JSON.stringify(cell)} is not a number or an ISO date-time`;
}

function looksLikeHeader(firstCell: string): boolean {
  const c = firstCell.trim();
  return c.length > 0 && !/^[-+.\d]/.test(c);
}

function checkHeader(cells: string[], file: string, problems: Problem[]): CsvLayout | undefined {
  const names = cells.map((c) => c.trim().toLowerCase().replace(/^"|"$/g, ""));
  const layout: CsvLayout | undefined =
    names.length === 12 ? "binance" : names.length === 6 ? "plain" : undefined;
  if (!layout) {
    problems.push({
      file,
      line: 1,
      reason: `header has ${names.length} columns; expected 6 (timestamp,open,high,low,close,volume) or 12 (Binance kline)`,
    });
    return undefined;
  }
  const okTime = TIME_HEADERS.has(names[0] as string);
  const okOhlcv = OHLCV.every((n, i) => names[i + 1] === n);
  if (!okTime || !okOhlcv) {
    const want = layout === "binance" ? BINANCE_NAMES.join(",") : "timestamp,open,high,low,close,volume";
    problems.push({ file, line: 1, reason: `unexpected header "${names.join(",")}"; expected ${want}` });
  }
  return layout;
}

/** Parse CSV text (already decompressed). `file` is only used to label problems. */
export function parseKlineCsv(text: string, file: string): ParsedCsv {
  const lines = text.split("\n");
  const cap = lines.length;
  const time = new Float64Array(cap);
  const open = new Float64Array(cap);
  const high = new Float64Array(cap);
  const low = new Float64Array(cap);
  const close = new Float64Array(cap);
  const volume = new Float64Array(cap);
  const lineNo = new Int32Array(cap);
  const ok = new Uint8Array(cap);
  const problems: Problem[] = [];
  const units = new Set<TimeUnit>();
  const cols = [open, high, low, close, volume];

  let layout: CsvLayout | undefined;
  let header = false;
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i] as string;
    if (raw.endsWith("\r")) raw = raw.slice(0, -1);
    if (raw.trim().length === 0) continue;
    const ln = i + 1;
    const cells = raw.split(",");
    if (n === 0 && !header && looksLikeHeader(cells[0] as string)) {
      header = true;
      layout = checkHeader(cells, file, problems);
      if (!layout) break;
      continue;
    }
    if (layout === undefined) {
      if (cells.length === 12) layout = "binance";
      else if (cells.length === 6) layout = "plain";
    }
    const row = n++;
    lineNo[row] = ln;
    const expected = layout ? LAYOUT_COLUMNS[layout] : undefined;
    if (cells.length !== expected) {
      problems.push({
        file,
        line: ln,
        reason: expected
          ? `expected ${expected} columns, got ${cells.length}`
          : `expected 6 (timestamp,open,high,low,close,volume) or 12 (Binance kline) columns, got ${cells.length}`,
      });
      continue;
    }
    const t = timeToMs(cells[0] as string);
    if (typeof t === "string") {
      problems.push({ file, line: ln, reason: t });
      continue;
    }
    units.add(t.unit);
    time[row] = t.ms;
    let bad = -1;
    const checked = CHECKED_COLUMNS[layout as CsvLayout];
    for (let c = 1; c < checked; c++) {
      const v = parseNumber(cells[c] as string);
      if (!Number.isFinite(v)) {
        bad = c;
        break;
      }
      if (c <= 5) (cols[c - 1] as Float64Array)[row] = v;
    }
    if (bad >= 0) {
      const name = layout === "binance" ? BINANCE_NAMES[bad] : ["timestamp", ...OHLCV][bad];
      problems.push({ file, line: ln, reason: `${name} ${JSON.stringify(cells[bad])} is not a number` });
      continue;
    }
    ok[row] = 1;
  }
  return {
    file,
    layout,
    header,
    rows: n,
    time: time.subarray(0, n),
    open: open.subarray(0, n),
    high: high.subarray(0, n),
    low: low.subarray(0, n),
    close: close.subarray(0, n),
    volume: volume.subarray(0, n),
    line: lineNo.subarray(0, n),
    ok: ok.subarray(0, n),
    timeUnits: units,
    problems,
  };
}
