/**
 * `data import`: read kline files, check every row, and upsert them in ONE transaction. A file with
 * problems imports nothing unless `skipBadRows` is set, in which case good rows go in and the bad
 * ones are counted and listed. Re-importing identical data writes nothing and keeps the dataset's
 * revision, so caches stay valid.
 */
import { basename } from "node:path";
import { isTimeframe, timeframeMs } from "../domain/timeframe.ts";
import { lockDataset, refreshDataset, upsertBars } from "../store/bar-store.ts";
import type { Db } from "../store/db.ts";
import { inferDataset, parseKlineCsv, readCsvText, type TimeUnit } from "./binance-csv.ts";
import type { Problem } from "./problem.ts";
import { type Gap, keptBars, validateRows } from "./validate.ts";
import { defaultWindowCache } from "./window-cache.ts";

export interface ImportOptions {
  symbol?: string;
  timeframe?: string;
  skipBadRows?: boolean;
  /** Called as work advances; `done`/`total` count rows across all files. */
  onProgress?: (p: { phase: "read" | "write"; file: string; done: number; total: number }) => void;
}

export interface FileReport {
  readonly file: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly timeUnits: TimeUnit[];
  /** Data rows in the file, rows that passed, rows skipped as bad. */
  readonly rows: number;
  readonly valid: number;
  readonly skipped: number;
  readonly problems: Problem[];
  readonly gaps: Gap[];
}

export interface ImportResult {
  /** False when nothing was written because of problems (or a file could not be read). */
  readonly ok: boolean;
  readonly files: FileReport[];
  readonly problems: Problem[];
  readonly inserted: number;
  readonly updated: number;
  /** Valid rows already stored with identical values. */
  readonly unchanged: number;
  readonly skipped: number;
  readonly datasets: { symbol: string; timeframe: string }[];
}

const SYMBOL = /^[A-Z0-9][A-Z0-9._-]{0,31}$/;
const ANALYZE_AFTER_ROWS = 50_000;

export async function importFiles(
  db: Db,
  paths: readonly string[],
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const reports: FileReport[] = [];
  const fatal: Problem[] = [];
  const batches: { report: FileReport; bars: ReturnType<typeof keptBars> }[] = [];

  for (const path of paths) {
    const file = path;
    const guessed = inferDataset(path);
    const symbol = (opts.symbol ?? guessed.symbol)?.toUpperCase();
    const timeframe = opts.timeframe ?? guessed.timeframe;
    if (!symbol || !SYMBOL.test(symbol)) {
      fatal.push({
        file,
        line: 0,
        reason: `no symbol: pass --symbol or name the file like BTCUSDT-1h-2024.csv.gz`,
      });
      continue;
    }
    if (!timeframe || !isTimeframe(timeframe)) {
      fatal.push({
        file,
        line: 0,
        reason: `no valid timeframe: pass --timeframe (1m, 5m, 1h, ...) or name the file like BTCUSDT-1h-2024.csv.gz`,
      });
      continue;
    }
    let text: string;
    try {
      text = readCsvText(path);
    } catch (err) {
      fatal.push({ file, line: 0, reason: `cannot read: ${(err as Error).message}` });
      continue;
    }
    const parsed = parseKlineCsv(text, file);
    const checked = validateRows(parsed, timeframeMs(timeframe));
    const report: FileReport = {
      file,
      symbol,
      timeframe,
      timeUnits: [...parsed.timeUnits],
      rows: parsed.rows,
      valid: checked.kept,
      skipped: parsed.rows - checked.kept,
      problems: checked.problems,
      gaps: checked.gaps,
    };
    reports.push(report);
    batches.push({ report, bars: keptBars(parsed, checked) });
    opts.onProgress?.({ phase: "read", file: basename(file), done: reports.length, total: paths.length });
  }

  const problems = [...fatal, ...reports.flatMap((r) => r.problems)];
  const skipped = reports.reduce((s, r) => s + r.skipped, 0);
  const blocked = fatal.length > 0 || (problems.length > 0 && !opts.skipBadRows);
  const datasets = uniqueDatasets(reports);
  if (blocked) {
    return {
      ok: false,
      files: reports,
      problems,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      skipped: 0,
      datasets,
    };
  }

  const total = batches.reduce((s, b) => s + b.bars.time.length, 0);
  let done = 0;
  let inserted = 0;
  let updated = 0;
  const changed = new Set<string>();
  await db.transaction(async (tx) => {
    // Lock datasets in a fixed order so two concurrent multi-dataset imports cannot deadlock.
    for (const d of [...datasets].sort((a, b) => key(a).localeCompare(key(b)))) {
      await lockDataset(tx, d.symbol, d.timeframe);
    }
    for (const { report, bars } of batches) {
      const file = basename(report.file);
      const r = await upsertBars(tx, report.symbol, report.timeframe, bars, (rows) => {
        done += rows;
        opts.onProgress?.({ phase: "write", file, done, total });
      });
      inserted += r.inserted;
      updated += r.updated;
      if (r.inserted + r.updated > 0) changed.add(key(report));
    }
    for (const d of datasets) {
      if (changed.has(key(d))) await refreshDataset(tx, d.symbol, d.timeframe);
    }
  });
  // Planner statistics: right after a big first import they say the table is tiny, and the
  // window load picks a bitmap scan plus an on-disk sort instead of walking the primary key.
  if (inserted + updated >= ANALYZE_AFTER_ROWS) await db.query("ANALYZE bars", []);
  // Revisions changed, so cached windows of these datasets can never be hit again: free them now.
  for (const d of datasets)
    if (changed.has(key(d))) defaultWindowCache().forgetDataset(d.symbol, d.timeframe);
  const valid = reports.reduce((s, r) => s + r.valid, 0);
  return {
    ok: true,
    files: reports,
    problems,
    inserted,
    updated,
    unchanged: valid - inserted - updated,
    skipped,
    datasets,
  };
}

function key(d: { symbol: string; timeframe: string }): string {
  return `${d.symbol}/${d.timeframe}`;
}

function uniqueDatasets(reports: readonly FileReport[]): { symbol: string; timeframe: string }[] {
  const seen = new Map<string, { symbol: string; timeframe: string }>();
  for (const r of reports) seen.set(key(r), { symbol: r.symbol, timeframe: r.timeframe });
  return [...seen.values()];
}
