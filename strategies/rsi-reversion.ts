import { defineStrategy, int } from "alphaloop/strategy";

/**
 * Short-term mean reversion: buy an oversold RSI, sell when it recovers. A long trend filter keeps
 * it from catching falling knives in a bear market.
 */
export default defineStrategy({
  name: "rsi-reversion",
  family: "mean-reversion",
  description:
    "Long when RSI drops below `oversold` while price is above its long SMA; exit when RSI rises above `exit`.",
  params: {
    period: int(2, 30, 14),
    oversold: int(5, 45, 30),
    exit: int(40, 80, 55),
    trend: int(50, 400, 200),
  },
  signals(bars, p, ta) {
    const r = ta.rsi(bars.close, p.period);
    const trend = ta.sma(bars.close, p.trend);
    const { close } = bars;
    const n = close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = ta.crossover(r, p.exit);
    const down = ta.crossunder(r, p.oversold);
    for (let i = 0; i < n; i++) {
      // NaN comparisons are false, so the warm-up never enters.
      enterLong[i] = down[i] === 1 && (close[i] as number) > (trend[i] as number) ? 1 : 0;
    }
    return { enterLong, exitLong };
  },
});
