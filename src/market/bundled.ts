/**
 * The small real data set shipped in data/ (BTCUSDT and ETHUSDT 1h 2019–2025, one 1m month each),
 * imported automatically into an empty embedded store so a fresh checkout has something to show.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log } from "../log/logger.ts";
import type { Db } from "../store/db.ts";
import { type ImportOptions, type ImportResult, importFiles } from "./import.ts";

export const BUNDLED_DATA_DIR = fileURLToPath(new URL("../../data/", import.meta.url));

export function bundledFiles(dir = BUNDLED_DATA_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /\.csv(\.gz)?$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Import the bundled files when the store holds no bars at all; otherwise do nothing and return
 * undefined. Safe to call on every start: once anything is stored it costs one small query.
 */
export async function ensureBundledData(
  db: Db,
  opts: { dir?: string; onProgress?: ImportOptions["onProgress"] } = {},
): Promise<ImportResult | undefined> {
  const { rows } = await db.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM bars) AS any", []);
  if (rows[0]?.any) return undefined;
  const files = bundledFiles(opts.dir);
  log().info({ files: files.length, store: db.location }, "empty store: importing the bundled market data");
  const result = await importFiles(db, files, opts.onProgress ? { onProgress: opts.onProgress } : {});
  if (!result.ok) {
    throw new Error(`bundled data failed to import:\n${result.problems.map((p) => p.reason).join("\n")}`);
  }
  return result;
}
