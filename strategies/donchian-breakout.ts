import { defineStrategy, int } from "alphaloop/strategy";

/**
 * Turtle-style breakout: buy a close above the highest high of the previous `entry` bars, sell a
 * close below the lowest low of the previous `exit` bars. The channels are shifted one bar so the
 * bar being judged is not part of its own channel.
 */
export default defineStrategy({
  name: "donchian-breakout",
  family: "breakout",
  description:
    "Long on a close above the prior N-bar high, exit on a close below the prior M-bar low; ATR stop in the config.",
  params: { entry: int(10, 100, 20), exit: int(5, 50, 10) },
  signals(bars, p, ta) {
    const upper = ta.shift(ta.highest(bars.high, p.entry), 1);
    const lower = ta.shift(ta.lowest(bars.low, p.exit), 1);
    return { enterLong: ta.crossover(bars.close, upper), exitLong: ta.crossunder(bars.close, lower) };
  },
});
