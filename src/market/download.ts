/**
 * Downloads monthly spot kline archives from data.binance.vision:
 *   {base}/data/spot/monthly/klines/{SYMBOL}/{TF}/{SYMBOL}-{TF}-{YYYY}-{MM}.zip  (+ ".CHECKSUM")
 * Each zip holds one headerless CSV in Binance's 12-column kline format. We verify the archive
 * against its published SHA-256 when the server has one, unzip it, and store the CSV gzipped as
 * {out}/{SYMBOL}-{TF}-{YYYY}-{MM}.csv.gz, the form the importer reads.
 *
 * A month the server does not have (404: not listed yet, or before the pair existed) is reported
 * and the rest continue. 5xx, 429, timeouts and connection errors are retried with exponential
 * backoff. Note: from 2025-01 Binance writes spot timestamps in microseconds; the importer handles it.
 */
import { createHash } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { unzipSync } from "fflate";

const gzipAsync = promisify(gzip);

export const DEFAULT_BINANCE_DATA_URL = "https://data.binance.vision";
/** Where downloads go unless told otherwise: beside the embedded store's other local state. */
export function defaultDownloadDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env["ALPHALOOP_HOME"] || ".alphaloop", "downloads");
}

/** The kline intervals Binance publishes. */
export const BINANCE_INTERVALS = [
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1mo",
] as const;

export interface DownloadOptions {
  readonly symbol: string;
  readonly timeframe: string;
  /** First month, "YYYY-MM". */
  readonly from: string;
  /** Last month, "YYYY-MM", inclusive. */
  readonly to: string;
  /** Default: env BINANCE_DATA_URL, else https://data.binance.vision. */
  readonly baseUrl?: string;
  /** Default <ALPHALOOP_HOME or .alphaloop>/downloads. */
  readonly outDir?: string;
  /** Download again even if the target file exists. */
  readonly force?: boolean;
  /** Attempts after the first on a retryable failure. Default 4. */
  readonly retries?: number;
  /** First backoff delay in ms, doubled each retry (with jitter). Default 500. */
  readonly retryDelayMs?: number;
  /** Per-request timeout in ms (covers the body). Default 120 000. */
  readonly timeoutMs?: number;
  /** Months fetched at once. Default 3. */
  readonly concurrency?: number;
  /** Called as each month finishes, for progress output. */
  readonly onMonth?: (result: MonthResult) => void;
  /** Replaces global fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
  /** Default process.env, read for BINANCE_DATA_URL and ALPHALOOP_HOME. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type MonthStatus = "downloaded" | "cached" | "missing" | "failed";

export interface MonthResult {
  /** "YYYY-MM" */
  readonly month: string;
  readonly status: MonthStatus;
  readonly url: string;
  /** The gzipped CSV, for "downloaded" and "cached". */
  readonly path?: string;
  /** "verified" against the server's .CHECKSUM, or "unavailable" when it has none. */
  readonly checksum?: "verified" | "unavailable";
  /** Size of the zip downloaded. */
  readonly bytes?: number;
  /** Why a month is "missing" or "failed". */
  readonly error?: string;
}

export interface DownloadReport {
  readonly symbol: string;
  readonly timeframe: string;
  /** Gzipped CSVs ready for import, in month order. */
  readonly files: string[];
  readonly months: MonthResult[];
}

/** "2024-01".."2024-03" → ["2024-01", "2024-02", "2024-03"]. */
export function monthRange(from: string, to: string): string[] {
  const a = parseMonth(from, "--from");
  const b = parseMonth(to, "--to");
  const start = a.year * 12 + a.month - 1;
  const end = b.year * 12 + b.month - 1;
  if (end < start) throw new Error(`--to ${to} is before --from ${from}`);
  const out: string[] = [];
  for (let m = start; m <= end; m++) {
    out.push(`${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, "0")}`);
  }
  return out;
}

function parseMonth(s: string, what: string): { year: number; month: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(s);
  const year = Number(m?.[1]);
  const month = Number(m?.[2]);
  if (!m || month < 1 || month > 12) throw new Error(`${what} must be a month like 2024-01, got "${s}"`);
  return { year, month };
}

export function archiveName(symbol: string, timeframe: string, month: string): string {
  return `${symbol}-${timeframe}-${month}`;
}

export function monthlyKlineUrl(baseUrl: string, symbol: string, timeframe: string, month: string): string {
  return `${baseUrl}/data/spot/monthly/klines/${symbol}/${timeframe}/${archiveName(symbol, timeframe, month)}.zip`;
}

export function resolveBaseUrl(
  baseUrl: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const url = baseUrl ?? (env["BINANCE_DATA_URL"] || undefined) ?? DEFAULT_BINANCE_DATA_URL;
  try {
    new URL(url);
  } catch {
    throw new Error(`invalid Binance data URL "${url}"`);
  }
  return url.replace(/\/+$/, "");
}

/** Thrown for a response that retrying will not fix (404, bad checksum, bad zip). */
class PermanentError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "PermanentError";
  }
}

export async function downloadKlines(options: DownloadOptions): Promise<DownloadReport> {
  const symbol = options.symbol.trim().toUpperCase();
  if (!/^[A-Z0-9]{2,30}$/.test(symbol))
    throw new Error(`invalid symbol "${options.symbol}" (expected e.g. BTCUSDT)`);
  const timeframe = options.timeframe;
  if (!(BINANCE_INTERVALS as readonly string[]).includes(timeframe)) {
    throw new Error(`Binance has no "${timeframe}" klines; use one of ${BINANCE_INTERVALS.join(", ")}`);
  }
  const months = monthRange(options.from, options.to);
  const baseUrl = resolveBaseUrl(options.baseUrl, options.env);
  const outDir = options.outDir ?? defaultDownloadDir(options.env);
  await mkdir(outDir, { recursive: true });
  const ctx: FetchContext = {
    fetch: options.fetch ?? globalThis.fetch,
    retries: options.retries ?? 4,
    retryDelayMs: options.retryDelayMs ?? 500,
    timeoutMs: options.timeoutMs ?? 120_000,
  };

  const results: MonthResult[] = new Array(months.length);
  let nextIndex = 0;
  const worker = async () => {
    for (;;) {
      const i = nextIndex++;
      const month = months[i];
      if (month === undefined) return;
      const result = await downloadMonth(ctx, {
        baseUrl,
        symbol,
        timeframe,
        month,
        outDir,
        force: options.force,
      });
      results[i] = result;
      options.onMonth?.(result);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 3, months.length));
  await Promise.all(Array.from({ length: workers }, worker));

  return {
    symbol,
    timeframe,
    files: results.flatMap((r) => (r.path !== undefined ? [r.path] : [])),
    months: results,
  };
}

interface MonthJob {
  readonly baseUrl: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly month: string;
  readonly outDir: string;
  readonly force: boolean | undefined;
}

async function downloadMonth(ctx: FetchContext, job: MonthJob): Promise<MonthResult> {
  const name = archiveName(job.symbol, job.timeframe, job.month);
  const url = monthlyKlineUrl(job.baseUrl, job.symbol, job.timeframe, job.month);
  const path = join(job.outDir, `${name}.csv.gz`);
  if (!job.force && (await exists(path))) return { month: job.month, status: "cached", url, path };
  try {
    const zip = await fetchBytes(ctx, url);
    if (zip === null) {
      return { month: job.month, status: "missing", url, error: `${name}.zip not found (404) at ${url}` };
    }
    const checksumText = await fetchText(ctx, `${url}.CHECKSUM`);
    let checksum: MonthResult["checksum"] = "unavailable";
    if (checksumText !== null) {
      verifyChecksum(checksumText, zip, `${name}.zip`);
      checksum = "verified";
    }
    const csv = extractCsv(zip, `${name}.zip`);
    const gz = await gzipAsync(csv);
    // Write then rename, so an interrupted run never leaves a truncated file that looks "cached".
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, gz);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { month: job.month, status: "downloaded", url, path, checksum, bytes: zip.byteLength };
  } catch (err) {
    return {
      month: job.month,
      status: "failed",
      url,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

function verifyChecksum(checksumText: string, zip: Uint8Array, fileName: string): void {
  const expected = /^\s*([0-9a-fA-F]{64})\b/.exec(checksumText)?.[1]?.toLowerCase();
  if (expected === undefined) throw new PermanentError(`${fileName}.CHECKSUM is not a SHA-256 checksum file`);
  const actual = createHash("sha256").update(zip).digest("hex");
  if (actual !== expected) {
    throw new PermanentError(`checksum mismatch for ${fileName}: expected sha256 ${expected}, got ${actual}`);
  }
}

function extractCsv(zip: Uint8Array, fileName: string): Uint8Array {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, { filter: (f) => f.name.toLowerCase().endsWith(".csv") });
  } catch (err) {
    throw new PermanentError(
      `${fileName} is not a valid zip: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const names = Object.keys(entries);
  const first = names[0];
  if (names.length !== 1 || first === undefined) {
    throw new PermanentError(`${fileName} should hold exactly one .csv file, found ${names.length}`);
  }
  return entries[first] as Uint8Array;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

interface FetchContext {
  readonly fetch: typeof fetch;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;
}

/** GET with retries; null on 404. */
async function fetchBytes(ctx: FetchContext, url: string): Promise<Uint8Array | null> {
  return withRetries(ctx, url, async (res) => new Uint8Array(await res.arrayBuffer()));
}

async function fetchText(ctx: FetchContext, url: string): Promise<string | null> {
  return withRetries(ctx, url, (res) => res.text());
}

async function withRetries<T>(
  ctx: FetchContext,
  url: string,
  read: (res: Response) => Promise<T>,
): Promise<T | null> {
  let lastError = "";
  for (let attempt = 0; attempt <= ctx.retries; attempt++) {
    if (attempt > 0) await sleep(backoff(ctx.retryDelayMs, attempt));
    let res: Response;
    try {
      res = await ctx.fetch(url, { signal: AbortSignal.timeout(ctx.timeoutMs) });
    } catch (err) {
      lastError = describeFetchError(err);
      continue;
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      await res.body?.cancel();
      lastError = `HTTP ${res.status} ${res.statusText}`.trim();
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new PermanentError(`HTTP ${res.status} ${res.statusText} for ${url}`.trim(), res.status);
    }
    try {
      return await read(res);
    } catch (err) {
      // The body broke off mid-transfer (reset, timeout): worth another try.
      lastError = describeFetchError(err);
    }
  }
  throw new Error(`GET ${url} failed after ${ctx.retries + 1} attempts: ${lastError}`);
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return "timed out";
    // undici hides the useful part (ECONNREFUSED, ECONNRESET) in `cause`.
    const cause = (err as Error & { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return `${err.message}${detail}`;
  }
  return String(err);
}

function backoff(baseMs: number, attempt: number): number {
  const exp = baseMs * 2 ** (attempt - 1);
  return Math.min(30_000, exp * (0.75 + 0.5 * Math.random()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
