import { defineStrategy, float, int } from "alphaloop/strategy";

/**
 * Bollinger reversion with an RSI filter (the S2 benchmark strategy): buy a close below the lower
 * band when RSI confirms the move is stretched, exit back at the middle band. The ATR stop lives in
 * the config so the simulator, not the strategy, enforces it.
 */
export default defineStrategy({
  name: "bollinger-reversion",
  family: "mean-reversion",
  description:
    "Long on a close below the lower Bollinger band with RSI under `rsiMax`; exit at the middle band.",
  params: {
    period: int(10, 60, 20),
    mult: float(1, 3.5, 2),
    rsiPeriod: int(5, 30, 14),
    rsiMax: int(10, 50, 35),
  },
  signals(bars, p, ta) {
    const bands = ta.bbands(bars.close, p.period, p.mult);
    const r = ta.rsi(bars.close, p.rsiPeriod);
    // Series read into locals before the loop: a property lookup per bar costs more than the
    // comparisons themselves.
    const { close } = bars;
    const { lower, middle } = bands;
    const n = close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = close[i] as number;
      enterLong[i] = c < (lower[i] as number) && (r[i] as number) < p.rsiMax ? 1 : 0;
      exitLong[i] = c > (middle[i] as number) ? 1 : 0;
    }
    return { enterLong, exitLong };
  },
});
