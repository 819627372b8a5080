import { checkInt, type Series, toF64 } from "./series.ts";
import { expSmoothInto } from "./smoothing.ts";

/**
 * Triple exponential moving average: 3·e1 − 3·e2 + e3 with e1 = EMA(x), e2 = EMA(e1),
 * e3 = EMA(e2). As in trading-signals `TEMA`, each EMA starts once the one below is warmed up.
 * Warm-up: the first `3 * (period - 1)` outputs are NaN. NaN in: NaN bars output NaN, skipped.
 * Reference: https://www.investopedia.com/terms/t/triple-exponential-moving-average.asp
 */
export function tema(source: Series, period: number): Float64Array {
  checkInt("tema", "period", period);
  const src = toF64(source);
  const n = src.length;
  const alpha = 2 / (period + 1);
  const e1 = new Float64Array(n);
  expSmoothInto(src, period, alpha, e1);
  const e2 = new Float64Array(n);
  expSmoothInto(e1, period, alpha, e2);
  const e3 = new Float64Array(n);
  expSmoothInto(e2, period, alpha, e3);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 3 * e1[i]! - 3 * e2[i]! + e3[i]!;
  return out;
}
