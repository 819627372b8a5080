/**
 * `alphaloop data …`: import kline files into the store and show what is stored. Other groups'
 * subcommands (e.g. `data download`) attach to the Command returned by `dataCommand`.
 */
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { ensureBundledData } from "../market/bundled.ts";
import { type ImportOptions, type ImportResult, importFiles } from "../market/import.ts";
import { formatProblem, formatProblems } from "../market/problem.ts";
import { formatGap } from "../market/validate.ts";
import { type DatasetRow, listDatasets } from "../store/bar-store.ts";
import { type Db, openDb } from "../store/db.ts";
import { CliError } from "./cli-error.ts";
import { formatTable, printJson } from "./output.ts";

export interface DataCommandDeps {
  /** How to reach the store (default: `openDb()`, i.e. DATABASE_URL or the embedded PGlite). */
  openDb?: () => Promise<Db>;
  /** Where human output goes (default stdout); `--json` always uses stdout. */
  write?: (text: string) => void;
}

const LIST_LIMIT = 20;

export function register(program: Command, deps: DataCommandDeps = {}): void {
  dataCommand(program, deps);
}

export function dataCommand(program: Command, deps: DataCommandDeps = {}): Command {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const data = program.command("data").description("import and inspect market data (OHLCV bars)");

  data
    .command("import")
    .description("import Binance kline or plain OHLCV CSV files (.csv, .csv.gz, .zip)")
    .argument("<files...>", "files such as BTCUSDT-1h-2024.csv.gz (symbol and timeframe read from the name)")
    .option("--symbol <symbol>", "symbol for every file, e.g. BTCUSDT (default: from the file name)")
    .option("--timeframe <tf>", "timeframe for every file, e.g. 1h (default: from the file name)")
    .option("--skip-bad-rows", "import the good rows of a file with problems; list and count the rest")
    .option("--json", "print the result as JSON")
    .action(
      async (
        files: string[],
        o: { symbol?: string; timeframe?: string; skipBadRows?: boolean; json?: boolean },
      ) => {
        const progress = lateProgress();
        const db = await open();
        let result: ImportResult;
        try {
          result = await importFiles(db, files, {
            ...(o.symbol ? { symbol: o.symbol } : {}),
            ...(o.timeframe ? { timeframe: o.timeframe } : {}),
            skipBadRows: o.skipBadRows === true,
            onProgress: progress.update,
          });
        } finally {
          progress.stop();
          await db.close();
        }
        if (o.json) printJson(importJson(result));
        else write(importText(result));
        if (!result.ok) {
          throw new CliError(
            `${formatProblems(result.problems, LIST_LIMIT)}\nimport failed: ${result.problems.length} problem${plural(result.problems.length)}, nothing imported` +
              (result.problems.some((p) => p.line > 0) ? " (--skip-bad-rows imports the good rows)" : ""),
          );
        }
      },
    );

  data
    .command("info")
    .description("list stored datasets: symbols, timeframes, ranges and gaps")
    .option("--json", 'print { "datasets": [ { symbol, timeframe, rows, from, to, gaps } ] }')
    .action(async (o: { json?: boolean }) => {
      const db = await open();
      let datasets: DatasetRow[];
      try {
        if (db.kind === "pglite") {
          const progress = lateProgress();
          try {
            await ensureBundledData(db, { onProgress: progress.update });
          } finally {
            progress.stop();
          }
        }
        datasets = await listDatasets(db);
      } finally {
        await db.close();
      }
      if (o.json) {
        printJson({ datasets: datasets.map(datasetJson) });
        return;
      }
      if (datasets.length === 0) {
        write(`no market data in ${db.location}; import some with: alphaloop data import FILES…\n`);
        return;
      }
      const rows = datasets.map((d) => {
        const j = datasetJson(d);
        return [d.symbol, d.timeframe, String(d.rows), j.from ?? "-", j.to ?? "-", gapText(d)];
      });
      write(`store: ${db.location}\n${formatTable(["symbol", "tf", "bars", "from", "to", "gaps"], rows)}\n`);
    });

  return data;
}

/**
 * Import files into the configured store and close it again; throws a CliError listing the
 * problems when nothing could be imported. For commands that produce files to import (e.g.
 * `data download`).
 */
export async function importIntoStore(
  paths: readonly string[],
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const db = await openDb();
  try {
    const result = await importFiles(db, paths, opts);
    if (!result.ok) {
      throw new CliError(
        `${formatProblems(result.problems, LIST_LIMIT)}\nimport failed: ${result.problems.length} problem${plural(result.problems.length)}, nothing imported`,
      );
    }
    return result;
  } finally {
    await db.close();
  }
}

function datasetJson(d: DatasetRow) {
  return {
    symbol: d.symbol,
    timeframe: d.timeframe,
    rows: d.rows,
    from: d.from === undefined ? null : new Date(d.from).toISOString(),
    to: d.to === undefined ? null : new Date(d.to).toISOString(),
    gaps: d.gaps,
    missingBars: d.missingBars,
  };
}

function gapText(d: DatasetRow): string {
  return d.gaps === 0 ? "0" : `${d.gaps} (${d.missingBars} bar${plural(d.missingBars)} missing)`;
}

function importJson(r: ImportResult) {
  return {
    ok: r.ok,
    inserted: r.inserted,
    updated: r.updated,
    unchanged: r.unchanged,
    skipped: r.skipped,
    problems: r.problems.map(formatProblem),
    files: r.files.map((f) => ({
      file: f.file,
      symbol: f.symbol,
      timeframe: f.timeframe,
      timeUnits: f.timeUnits,
      rows: f.rows,
      valid: f.valid,
      skipped: f.skipped,
      problems: f.problems.map(formatProblem),
      gaps: f.gaps.map(formatGap),
    })),
  };
}

function importText(r: ImportResult): string {
  const out: string[] = [];
  for (const f of r.files) {
    const units = f.timeUnits.length ? `, times in ${f.timeUnits.join("+")}` : "";
    const skipped = f.skipped ? `, ${f.skipped} bad` : "";
    const gaps = f.gaps.length ? `, ${f.gaps.length} gap${plural(f.gaps.length)}` : "";
    out.push(`${f.file}: ${f.symbol} ${f.timeframe}, ${f.rows} rows${skipped}${gaps}${units}`);
  }
  if (!r.ok) return out.length ? `${out.join("\n")}\n` : "";
  const gaps = r.files.flatMap((f) => f.gaps);
  if (gaps.length) {
    out.push(`gaps (information, not errors):`);
    out.push(...gaps.slice(0, LIST_LIMIT).map((g) => `  ${formatGap(g)}`));
    if (gaps.length > LIST_LIMIT) out.push(`  … and ${gaps.length - LIST_LIMIT} more`);
  }
  if (r.skipped) {
    out.push(`skipped ${r.skipped} bad row${plural(r.skipped)}:`);
    out.push(
      ...formatProblems(r.problems, LIST_LIMIT)
        .split("\n")
        .map((l) => `  ${l}`),
    );
  }
  out.push(
    `imported: ${r.inserted} new, ${r.updated} changed, ${r.unchanged} unchanged, ${r.skipped} skipped`,
  );
  return `${out.join("\n")}\n`;
}

function plural(n: number): string {
  return n === 1 ? "" : "s";
}

/**
 * A progress bar on stderr that only appears when stderr is a terminal and the work has already
 * taken a couple of seconds, so quick imports and piped output stay clean.
 */
function lateProgress(delayMs = 2000): {
  update: NonNullable<ImportOptions["onProgress"]>;
  stop: () => void;
} {
  const started = Date.now();
  let bar: SingleBar | undefined;
  return {
    update: (p) => {
      if (!process.stderr.isTTY) return;
      if (!bar) {
        if (Date.now() - started < delayMs) return;
        bar = new SingleBar({
          stream: process.stderr,
          format: "{phase} {bar} {value}/{total} {file}",
          hideCursor: true,
        });
        bar.start(p.total, p.done, { phase: p.phase, file: p.file });
      }
      bar.setTotal(p.total);
      bar.update(p.done, { phase: p.phase, file: p.file });
    },
    stop: () => bar?.stop(),
  };
}
