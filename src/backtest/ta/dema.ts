import { checkInt, type Series, toF64 } from "./series.ts";
import { expSmoothInto } from "./smoothing.ts";

/**
 * Double exponential moving average: 2·EMA(x) − EMA(EMA(x)). As in trading-signals `DEMA`, the
 * outer EMA runs over the inner EMA from its first value (both seeded with the first input).
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: NaN bars output NaN and are skipped.
 * Reference: https://www.investopedia.com/terms/d/double-exponential-moving-average.asp
 */
export function dema(source: Series, period: number): Float64Array {
  checkInt("dema", "period", period);
  const src = toF64(source);
  const n = src.length;
  const alpha = 2 / (period + 1);
  const inner = new Float64Array(n);
  expSmoothInto(src, period, alpha, inner, false);
  const outer = new Float64Array(n);
  expSmoothInto(inner, period, alpha, outer);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = inner[i]! * 2 - outer[i]!;
  return out;
}
