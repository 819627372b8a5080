import { defineStrategy, float, int } from "alphaloop/strategy";

/**
 * Supertrend flips as entries and exits, optionally trading both sides: a volatility-scaled
 * trailing line that is simple to reason about and hard to overfit (two parameters).
 */
export default defineStrategy({
  name: "supertrend-follow",
  family: "trend",
  description: "Long when Supertrend turns up, short (long_short only) when it turns down.",
  params: { period: int(5, 50, 10), mult: float(1, 6, 3) },
  signals(bars, p, ta) {
    const st = ta.supertrend(bars.high, bars.low, bars.close, p.period, p.mult);
    const up = ta.crossover(st.direction, 0);
    const down = ta.crossunder(st.direction, 0);
    return { enterLong: up, exitLong: down, enterShort: down, exitShort: up };
  },
});
