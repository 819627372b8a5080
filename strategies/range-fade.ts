import { defineStrategy, int } from "alphaloop/strategy";

/**
 * Fade the edges of a range, but only when ADX says there is no trend: buy the lower Donchian
 * band, short the upper one (with direction long_short), take profit at the channel middle.
 */
export default defineStrategy({
  name: "range-fade",
  family: "range",
  description:
    "When ADX < `adxMax`, buy closes at the lower channel and short closes at the upper one; exit at the middle.",
  params: { channel: int(10, 100, 30), adxPeriod: int(7, 30, 14), adxMax: int(10, 30, 20) },
  signals(bars, p, ta) {
    const ch = ta.donchian(bars.high, bars.low, p.channel);
    const strength = ta.adx(bars.high, bars.low, bars.close, p.adxPeriod).adx;
    const { close } = bars;
    const n = close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    const enterShort = new Uint8Array(n);
    const exitShort = new Uint8Array(n);
    for (let i = 1; i < n; i++) {
      const c = close[i] as number;
      // The previous bar's channel: the current bar's own high/low would always touch its band.
      const lower = ch.lower[i - 1] as number;
      const upper = ch.upper[i - 1] as number;
      const middle = ch.middle[i - 1] as number;
      const ranging = (strength[i] as number) < p.adxMax;
      enterLong[i] = ranging && c <= lower ? 1 : 0;
      enterShort[i] = ranging && c >= upper ? 1 : 0;
      exitLong[i] = c >= middle ? 1 : 0;
      exitShort[i] = c <= middle ? 1 : 0;
    }
    return { enterLong, exitLong, enterShort, exitShort };
  },
});
