/**
 * Loading a window of bars for backtests: cache first (memory, then file), the database only on a
 * miss. Pass the dataset `revision` you already know (a run freezes it at start) to skip even the
 * one-row lookup of the dataset; otherwise it is read from the `datasets` table.
 */
import type { Bars } from "../domain/bars.ts";
import { getDataset, readBars } from "../store/bar-store.ts";
import type { Db } from "../store/db.ts";
import { defaultWindowCache, type WindowCache } from "./window-cache.ts";

export interface BarWindow {
  readonly symbol: string;
  readonly timeframe: string;
  /** Open-time bounds in ms: from inclusive, to exclusive; omit for the whole dataset. */
  readonly from?: number;
  readonly to?: number;
}

export interface LoadedBars {
  readonly bars: Bars;
  readonly revision: string;
  readonly source: "memory" | "file" | "db";
}

export interface LoadOptions {
  /** Default: the process-wide cache under ALPHALOOP_HOME; `null` disables caching. */
  cache?: WindowCache | null;
  /** Known dataset revision: then a cache hit touches no database at all. */
  revision?: string;
}

export class UnknownDatasetError extends Error {
  constructor(symbol: string, timeframe: string) {
    super(`no bars stored for ${symbol} ${timeframe}; import some with \`alphaloop data import\``);
    this.name = "UnknownDatasetError";
  }
}

export async function loadBars(db: Db, win: BarWindow, opts: LoadOptions = {}): Promise<LoadedBars> {
  const cache = opts.cache === undefined ? defaultWindowCache() : opts.cache;
  const symbol = win.symbol.toUpperCase();
  const k = { symbol, timeframe: win.timeframe, from: win.from, to: win.to };
  if (cache && opts.revision) {
    const hit = cache.get({ ...k, revision: opts.revision });
    if (hit) return { bars: hit.bars, revision: opts.revision, source: hit.source };
  }
  // One snapshot for the revision and the bars, so an import committing in between cannot get its
  // new bars cached under the old revision.
  return db.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", []);
    const ds = await getDataset(tx, symbol, win.timeframe);
    if (!ds || ds.rows === 0) throw new UnknownDatasetError(symbol, win.timeframe);
    if (cache) {
      const hit = cache.get({ ...k, revision: ds.revision });
      if (hit) return { bars: hit.bars, revision: ds.revision, source: hit.source };
    }
    const bars = await readBars(tx, ds.id, win.from, win.to);
    cache?.put({ ...k, revision: ds.revision }, bars);
    return { bars, revision: ds.revision, source: "db" as const };
  });
}
