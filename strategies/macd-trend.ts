import { defineStrategy, int } from "alphaloop/strategy";

/**
 * MACD trend with a trend-strength filter: take the histogram's turn above zero only when ADX says
 * a trend exists, so chop does not generate a stream of losing crosses.
 */
export default defineStrategy({
  name: "macd-trend",
  family: "trend",
  description:
    "Long when the MACD histogram turns positive and ADX exceeds `adxMin`; exit when the histogram turns negative.",
  params: {
    fast: int(5, 30, 12),
    slow: int(15, 80, 26),
    signal: int(3, 20, 9),
    adxPeriod: int(7, 30, 14),
    adxMin: int(10, 40, 20),
  },
  signals(bars, p, ta) {
    const m = ta.macd(bars.close, p.fast, p.slow, p.signal);
    const strength = ta.adx(bars.high, bars.low, bars.close, p.adxPeriod).adx;
    const up = ta.crossover(m.histogram, 0);
    const n = bars.close.length;
    const enterLong = new Uint8Array(n);
    for (let i = 0; i < n; i++) enterLong[i] = up[i] === 1 && (strength[i] as number) > p.adxMin ? 1 : 0;
    return { enterLong, exitLong: ta.crossunder(m.histogram, 0) };
  },
});
