import { logReturns } from "./log-returns.ts";
import { rollingMeanStdInto } from "./rolling-moments.ts";
import { checkFinite, checkInt, type Series } from "./series.ts";

/**
 * Realized volatility: population standard deviation of the last `period` one-bar log returns,
 * times sqrt(annualization). annualization = 1 gives per-bar volatility; pass the bars per year
 * (e.g. 525600 for 1m bars, 8760 for 1h) for an annualized figure.
 * Warm-up: the first `period` outputs are NaN. NaN in: any window holding a NaN return gives NaN.
 * Reference: https://en.wikipedia.org/wiki/Volatility_(finance)
 */
export function realizedVol(source: Series, period: number, annualization = 1): Float64Array {
  checkInt("realizedVol", "period", period);
  checkFinite("realizedVol", "annualization", annualization);
  if (annualization <= 0) {
    throw new RangeError(`ta.realizedVol: annualization must be > 0, got ${String(annualization)}`);
  }
  const r = logReturns(source, 1);
  const out = new Float64Array(r.length);
  rollingMeanStdInto(r, period, null, out);
  if (annualization !== 1) {
    const scale = Math.sqrt(annualization);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * scale;
  }
  return out;
}
