import type { Bars } from "../../src/domain/bars.ts";
import { lockDataset, refreshDataset, upsertBars } from "../../src/store/bar-store.ts";
import type { Db } from "../../src/store/db.ts";

/** Stores generated bars as a dataset, the way an import does. */
export async function storeBars(db: Db, symbol: string, timeframe: string, bars: Bars): Promise<void> {
  await db.transaction(async (tx) => {
    await lockDataset(tx, symbol, timeframe);
    await upsertBars(tx, symbol, timeframe, bars);
    await refreshDataset(tx, symbol, timeframe);
  });
}
