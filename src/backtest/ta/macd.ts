import { checkInt, type Series, toF64 } from "./series.ts";
import { expSmoothInto } from "./smoothing.ts";

/** MACD lines: `macd` = EMA(fast) − EMA(slow), `signal` = EMA(macd, signal), `histogram` = macd − signal. */
export interface MacdResult {
  macd: Float64Array;
  signal: Float64Array;
  histogram: Float64Array;
}

/**
 * Moving average convergence/divergence with first-value-seeded EMAs (trading-signals `MACD` with
 * `EMA`s). The signal EMA starts at the first MACD value.
 * Warm-up: macd NaN for the first `max(fast, slow) - 1` bars; signal and histogram for the first
 * `max(fast, slow) + signal - 2`. NaN in: NaN bars output NaN and are skipped.
 * Reference: https://www.investopedia.com/terms/m/macd.asp
 */
export function macd(source: Series, fast = 12, slow = 26, signal = 9): MacdResult {
  checkInt("macd", "fast", fast);
  checkInt("macd", "slow", slow);
  checkInt("macd", "signal", signal);
  const src = toF64(source);
  const n = src.length;
  const fastLine = new Float64Array(n);
  expSmoothInto(src, fast, 2 / (fast + 1), fastLine);
  const slowLine = new Float64Array(n);
  expSmoothInto(src, slow, 2 / (slow + 1), slowLine);
  const line = new Float64Array(n);
  for (let i = 0; i < n; i++) line[i] = fastLine[i]! - slowLine[i]!;
  const signalLine = new Float64Array(n);
  expSmoothInto(line, signal, 2 / (signal + 1), signalLine);
  const histogram = new Float64Array(n);
  for (let i = 0; i < n; i++) histogram[i] = line[i]! - signalLine[i]!;
  return { macd: line, signal: signalLine, histogram };
}
