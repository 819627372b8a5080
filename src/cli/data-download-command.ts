/**
 * `alphaloop data download`: fetches Binance monthly kline archives and, unless --no-import, hands
 * the files to the importer. The importer is injected so this command does not depend on the
 * store's signature; `program.ts` wires the real one.
 */
import type { Command } from "commander";
import { isTimeframe } from "../domain/timeframe.ts";
import { type DownloadReport, downloadKlines, type MonthResult } from "../market/download.ts";
import { CliError } from "./cli-error.ts";
import { formatTable, printJson } from "./output.ts";

export interface DataDownloadDeps {
  /** Imports the downloaded gzipped CSVs; its result is printed (as JSON with --json). */
  readonly importFiles?: (paths: string[]) => Promise<unknown>;
  /** Replaces global fetch (tests). */
  readonly fetch?: typeof fetch;
  /** Backoff base delay for retries, ms (tests shorten it). */
  readonly retryDelayMs?: number;
}

interface DownloadFlags {
  symbol: string;
  timeframe: string;
  from: string;
  to: string;
  baseUrl?: string;
  out?: string;
  import: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerDataDownload(data: Command, deps: DataDownloadDeps = {}): Command {
  return data
    .command("download")
    .description("download Binance spot klines (monthly archives from data.binance.vision) and import them")
    .requiredOption("--symbol <symbol>", "trading pair, e.g. BTCUSDT")
    .requiredOption("--timeframe <tf>", "kline interval, e.g. 1m, 1h")
    .requiredOption("--from <YYYY-MM>", "first month")
    .requiredOption("--to <YYYY-MM>", "last month (inclusive)")
    .option(
      "--base-url <url>",
      "mirror of data.binance.vision (default: env BINANCE_DATA_URL or the public site)",
    )
    .option("--out <dir>", "folder for the gzipped CSVs (default: <ALPHALOOP_HOME or .alphaloop>/downloads)")
    .option("--no-import", "only download; do not import into the store")
    .option("--force", "download again even if the file is already there")
    .option("--json", "print the result as JSON")
    .action(async (flags: DownloadFlags) => {
      await runDataDownload(flags, deps);
    });
}

async function runDataDownload(flags: DownloadFlags, deps: DataDownloadDeps): Promise<void> {
  if (flags.import && deps.importFiles !== undefined && !isTimeframe(flags.timeframe)) {
    throw new CliError(
      `the store holds m/h/d/w timeframes, not "${flags.timeframe}"; pass --no-import to only download it`,
      2,
    );
  }
  let report: DownloadReport;
  try {
    report = await downloadKlines({
      symbol: flags.symbol,
      timeframe: flags.timeframe,
      from: flags.from,
      to: flags.to,
      baseUrl: flags.baseUrl,
      outDir: flags.out,
      force: flags.force,
      fetch: deps.fetch,
      retryDelayMs: deps.retryDelayMs,
      onMonth: flags.json ? undefined : (m) => process.stderr.write(`${progressLine(m)}\n`),
    });
  } catch (err) {
    // Bad flags (month format, symbol, interval) and an unwritable --out land here; per-month
    // network failures do not (they are in the report).
    throw new CliError(err instanceof Error ? err.message : String(err));
  }

  const failed = report.months.filter((m) => m.status === "failed");
  let imported: unknown;
  let importNote: string | undefined;
  if (!flags.import) {
    importNote = "import skipped (--no-import)";
  } else if (report.files.length === 0) {
    importNote = "nothing to import";
  } else if (deps.importFiles === undefined) {
    importNote = "import skipped: no importer is wired into this command; import the files listed above";
  } else {
    imported = await deps.importFiles(report.files);
  }

  if (flags.json) {
    printJson({ ...report, import: imported ?? null, importNote: importNote ?? null });
  } else {
    process.stdout.write(`${renderReport(report)}\n`);
    if (importNote !== undefined) process.stdout.write(`${importNote}\n`);
    else process.stdout.write(`import of ${report.files.length} file(s): ${describeImport(imported)}\n`);
  }
  if (isRecord(imported) && imported["ok"] === false) {
    throw new CliError("import failed: nothing was imported (see the import result above)");
  }
  if (report.files.length === 0 && failed.length === 0) {
    throw new CliError(`no data for ${report.symbol} ${report.timeframe} in ${flags.from}..${flags.to}`);
  }
  if (failed.length > 0) {
    throw new CliError(
      `${failed.length} month(s) failed:\n${failed.map((m) => `  ${m.month}: ${m.error ?? "unknown error"}`).join("\n")}`,
    );
  }
}

function progressLine(m: MonthResult): string {
  switch (m.status) {
    case "downloaded":
      return `${m.month} downloaded (${formatBytes(m.bytes ?? 0)}, checksum ${m.checksum})`;
    case "cached":
      return `${m.month} already downloaded`;
    case "missing":
      return `${m.month} not available: ${m.error}`;
    case "failed":
      return `${m.month} FAILED: ${m.error}`;
  }
}

export function renderReport(report: DownloadReport): string {
  const rows = report.months.map((m) => [
    m.month,
    m.status,
    m.checksum ?? "",
    m.bytes !== undefined ? formatBytes(m.bytes) : "",
    m.path ?? m.error ?? "",
  ]);
  const counts = (s: MonthResult["status"]) => report.months.filter((m) => m.status === s).length;
  const summary =
    `${report.symbol} ${report.timeframe}: ${counts("downloaded")} downloaded, ${counts("cached")} already present, ` +
    `${counts("missing")} missing, ${counts("failed")} failed`;
  return `${formatTable(["month", "status", "checksum", "zip", "file / reason"], rows)}\n${summary}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One line from whatever the importer returns: its top-level numbers and flags (the details are in --json). */
function describeImport(result: unknown): string {
  if (typeof result === "string") return result;
  if (!isRecord(result)) return "done";
  const fields = Object.entries(result).filter(([, v]) => typeof v === "number" || typeof v === "boolean");
  return fields.length > 0 ? fields.map(([k, v]) => `${k}=${String(v)}`).join(" ") : "done";
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
