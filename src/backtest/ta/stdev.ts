import { rollingMeanStdInto } from "./rolling-moments.ts";
import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Rolling POPULATION standard deviation over `period` bars (divide by period, as Bollinger Bands
 * and trading-signals `getStandardDeviation`; multiply by sqrt(period / (period − 1)) for the
 * sample version). Exactly 0 for a constant window.
 * Warm-up: the first `period - 1` outputs are NaN. NaN in: any window holding a NaN gives NaN.
 * Reference: https://en.wikipedia.org/wiki/Standard_deviation
 */
export function stdev(source: Series, period: number): Float64Array {
  checkInt("stdev", "period", period);
  const src = toF64(source);
  const out = new Float64Array(src.length);
  rollingMeanStdInto(src, period, null, out);
  return out;
}
