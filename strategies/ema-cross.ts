import { defineStrategy, int } from "alphaloop/strategy";

/**
 * The textbook trend follower and the baseline every other idea must beat: long while the fast
 * EMA is above the slow one. Event signals: enter on the cross up, exit on the cross down.
 */
export default defineStrategy({
  name: "ema-cross",
  family: "trend",
  description: "Long when the fast EMA crosses above the slow EMA, flat when it crosses back below.",
  params: { fast: int(5, 50, 12), slow: int(10, 200, 26) },
  signals(bars, p, ta) {
    const fast = ta.ema(bars.close, p.fast);
    const slow = ta.ema(bars.close, p.slow);
    return { enterLong: ta.crossover(fast, slow), exitLong: ta.crossunder(fast, slow) };
  },
});
