import type { Bars } from "../../src/domain/bars.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
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

/**
 * Stores ~700 days of steadily trending synthetic 1h bars from 2020-01-01 as `symbol`: data on
 * which the library's trend followers pass lenient gates, so loop tests reach a pass quickly.
 */
export async function storeTrendBars(db: Db, symbol: string, seed = 21, annualVol = 0.5): Promise<void> {
  const trend = { drift: 1.2, volScale: 0.7 };
  await storeBars(
    db,
    symbol,
    "1h",
    syntheticBars({
      n: 24 * 700,
      timeframe: "1h",
      start: "2020-01-01",
      seed,
      regimes: { bull: trend, bear: trend, sideways: trend },
      annualVol,
    }),
  );
}
