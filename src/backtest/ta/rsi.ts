import { checkInt, type Series, toF64 } from "./series.ts";

/**
 * Relative strength index (Wilder): 100 − 100 / (1 + avgGain / avgLoss), gains and losses smoothed
 * with Wilder's RMA seeded by their SMA. Range [0, 100]; 100 when avgLoss is 0 (also for a flat
 * series), as trading-signals `RSI` and TradingView do.
 * Warm-up: the first `period` outputs are NaN (period price changes are needed).
 * NaN in: NaN bars output NaN and are skipped (the next change is measured from the last finite price).
 * Reference: https://www.investopedia.com/terms/r/rsi.asp
 */
export function rsi(source: Series, period = 14): Float64Array {
  checkInt("rsi", "period", period);
  const src = toF64(source);
  const n = src.length;
  const out = new Float64Array(n);
  const factor = 1 / period;
  let prev = Number.NaN;
  let avgGain = 0;
  let avgLoss = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if (x - x !== 0 || Number.isNaN(prev)) {
      if (x - x === 0) prev = x;
      out[i] = Number.NaN;
      continue;
    }
    // Branch-free (a random up/down branch mispredicts half the time); equal to trading-signals'
    // `x > prev ? gain : loss` split, a flat bar giving 0 to both.
    const gain = Math.max(x - prev, 0);
    const loss = Math.max(prev - x, 0);
    prev = x;
    count++;
    if (count < period) {
      avgGain += gain;
      avgLoss += loss;
      out[i] = Number.NaN;
      continue;
    }
    if (count === period) {
      avgGain = (avgGain + gain) / period;
      avgLoss = (avgLoss + loss) / period;
    } else {
      avgGain = (gain - avgGain) * factor + avgGain;
      avgLoss = (loss - avgLoss) * factor + avgLoss;
    }
    out[i] = avgLoss === 0 ? 100 : 100 - 100 / (avgGain / avgLoss + 1);
  }
  return out;
}
