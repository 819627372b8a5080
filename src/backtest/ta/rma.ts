import { checkInt, type Series, toF64 } from "./series.ts";
import { wilderInto } from "./smoothing.ts";

/**
 * Wilder's moving average (RMA, SMMA): seeded with the SMA of the first `period` values, then
 * prev + (x - prev) / period. Same as TradingView `ta.rma` and trading-signals `WSMA` (the
 * smoother its RSI, ATR and ADX use; its class named `RMA` seeds with the first value instead).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: NaN bars output NaN and are skipped.
 * Reference: https://www.tradingview.com/pine-script-reference/v5/#fun_ta.rma
 */
export function rma(source: Series, period: number): Float64Array {
  checkInt("rma", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  wilderInto(src, period, out);
  return out;
}
