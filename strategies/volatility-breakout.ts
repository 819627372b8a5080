import { defineStrategy, float, int } from "alphaloop/strategy";

/**
 * Range expansion: a bar that closes more than `k` previous ATRs above its open signals a burst of
 * demand; ride it for a while. Only taken when volatility (NATR) is above its own median, so quiet
 * markets' noise does not trigger it. The exit is the time stop and ATR trailing stop in the config.
 */
export default defineStrategy({
  name: "volatility-breakout",
  family: "volatility",
  description:
    "Long when close − open > k × previous ATR and NATR is above its rolling median; exits by trailing and time stop.",
  params: { atrPeriod: int(5, 50, 14), k: float(0.5, 3, 1.2), regime: int(50, 500, 200) },
  signals(bars, p, ta) {
    const prevAtr = ta.shift(ta.atr(bars.high, bars.low, bars.close, p.atrPeriod), 1);
    const volRank = ta.percentRank(ta.natr(bars.high, bars.low, bars.close, p.atrPeriod), p.regime);
    const { open, close } = bars;
    const n = close.length;
    const enterLong = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const body = (close[i] as number) - (open[i] as number);
      enterLong[i] = body > p.k * (prevAtr[i] as number) && (volRank[i] as number) > 0.5 ? 1 : 0;
    }
    return { enterLong, exitLong: new Uint8Array(n) };
  },
});
