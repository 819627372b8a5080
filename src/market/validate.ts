/**
 * Bar rules applied to parsed rows: prices positive, high ≥ max(open, close), low ≤ min(open, close),
 * volume ≥ 0, open times strictly increasing with no duplicates. Gaps (a step larger than the
 * timeframe) are reported separately as information: exchanges do go down, and a missing bar is a
 * fact about the market, not a broken file.
 */
import type { Bars } from "../domain/bars.ts";
import type { ParsedCsv } from "./binance-csv.ts";
import type { Problem } from "./problem.ts";

export interface Gap {
  readonly file: string;
  /** Line of the first bar after the gap. */
  readonly line: number;
  /** Open time of the last bar before, and the first bar after, the gap (ms). */
  readonly after: number;
  readonly before: number;
  readonly missingBars: number;
}

export interface Validated {
  /** 1 for rows that parsed and pass every rule. */
  readonly keep: Uint8Array;
  readonly kept: number;
  /** Parse problems and rule violations, in line order. */
  readonly problems: Problem[];
  readonly gaps: Gap[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

export function validateRows(parsed: ParsedCsv, timeframeMs: number): Validated {
  const { file, time, open, high, low, close, volume, line, ok, rows } = parsed;
  const keep = new Uint8Array(rows);
  const problems: Problem[] = [...parsed.problems];
  const gaps: Gap[] = [];
  let prevT = Number.NaN;
  let prevLine = 0;
  let kept = 0;
  for (let i = 0; i < rows; i++) {
    if (ok[i] !== 1) continue;
    const ln = line[i] as number;
    const t = time[i] as number;
    const o = open[i] as number;
    const h = high[i] as number;
    const l = low[i] as number;
    const c = close[i] as number;
    const v = volume[i] as number;
    let reason: string | undefined;
    if (!(o > 0 && h > 0 && l > 0 && c > 0)) reason = "prices must be positive";
    else if (h < Math.max(o, c)) reason = `high ${h} is below max(open ${o}, close ${c})`;
    else if (l > Math.min(o, c)) reason = `low ${l} is above min(open ${o}, close ${c})`;
    else if (v < 0) reason = `volume ${v} is negative`;
    else if (t === prevT) reason = `duplicate open time ${iso(t)} (first on line ${prevLine})`;
    else if (t < prevT)
      reason = `open time ${iso(t)} is before line ${prevLine} (${iso(prevT)}): rows out of order`;
    if (reason) {
      problems.push({ file, line: ln, reason });
      continue;
    }
    if (t - prevT > timeframeMs) {
      gaps.push({
        file,
        line: ln,
        after: prevT,
        before: t,
        missingBars: Math.round((t - prevT) / timeframeMs) - 1,
      });
    }
    keep[i] = 1;
    kept++;
    prevT = t;
    prevLine = ln;
  }
  problems.sort((a, b) => a.line - b.line);
  return { keep, kept, problems, gaps };
}

/** The kept rows as columnar bars. */
export function keptBars(parsed: ParsedCsv, v: Validated): Bars {
  const out = {
    time: new Float64Array(v.kept),
    open: new Float64Array(v.kept),
    high: new Float64Array(v.kept),
    low: new Float64Array(v.kept),
    close: new Float64Array(v.kept),
    volume: new Float64Array(v.kept),
  };
  let j = 0;
  for (let i = 0; i < parsed.rows; i++) {
    if (v.keep[i] !== 1) continue;
    out.time[j] = parsed.time[i] as number;
    out.open[j] = parsed.open[i] as number;
    out.high[j] = parsed.high[i] as number;
    out.low[j] = parsed.low[i] as number;
    out.close[j] = parsed.close[i] as number;
    out.volume[j] = parsed.volume[i] as number;
    j++;
  }
  return out;
}

export function formatGap(g: Gap): string {
  return `${g.file}:${g.line}: gap of ${g.missingBars} bar${g.missingBars === 1 ? "" : "s"} between ${iso(g.after)} and ${iso(g.before)}`;
}
