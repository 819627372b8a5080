import { defineStrategy, int } from "alphaloop/strategy";

/**
 * Two trend filters must agree: a slow regime filter (close above its long SMA) and a faster EMA
 * stack. Requiring both trades less often than either alone but avoids most bear-market rallies.
 */
export default defineStrategy({
  name: "dual-trend-filter",
  family: "trend",
  description:
    "Long while close > SMA(`regime`) and EMA(`fast`) > EMA(`slow`); flat as soon as either fails.",
  params: { regime: int(100, 400, 200), fast: int(5, 50, 20), slow: int(20, 150, 50) },
  signals(bars, p, ta) {
    const regime = ta.sma(bars.close, p.regime);
    const fast = ta.ema(bars.close, p.fast);
    const slow = ta.ema(bars.close, p.slow);
    const { close } = bars;
    const n = close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const bull = (close[i] as number) > (regime[i] as number) && (fast[i] as number) > (slow[i] as number);
      enterLong[i] = bull ? 1 : 0;
      exitLong[i] = bull ? 0 : 1;
    }
    return { enterLong, exitLong };
  },
});
