import { defineStrategy, float, int } from "alphaloop/strategy";

/**
 * Continuous trend exposure: the target position is the trend's strength (EMA distance in units of
 * recent volatility), clipped to [0, 1], and forced flat for `cooldown` bars after a jump (a bar
 * whose return exceeds `jump` standard deviations) because trend signals right after a jump are
 * mostly noise. Uses `target` output instead of events.
 */
export default defineStrategy({
  name: "vol-adjusted-trend",
  family: "trend",
  description:
    "Target = clip(EMA-distance / volatility), flat for a few bars after a jump; position scales with trend strength.",
  params: {
    ema: int(20, 300, 100),
    volPeriod: int(10, 200, 48),
    scale: float(0.1, 5, 1),
    jump: float(2, 10, 4),
    cooldown: int(0, 48, 6),
  },
  signals(bars, p, ta) {
    const trend = ta.ema(bars.close, p.ema);
    const r = ta.returns(bars.close, 1);
    const vol = ta.stdev(r, p.volPeriod);
    const { close } = bars;
    const n = close.length;
    const target = new Float64Array(n).fill(Number.NaN);
    let quietUntil = -1;
    for (let i = 0; i < n; i++) {
      const v = vol[i] as number;
      const t = trend[i] as number;
      if (!(v > 0) || Number.isNaN(t)) continue;
      if (Math.abs(r[i] as number) > p.jump * v) quietUntil = i + p.cooldown;
      const strength = ((close[i] as number) / t - 1) / v;
      target[i] = i <= quietUntil ? 0 : Math.min(1, Math.max(0, strength * p.scale * 0.1));
    }
    return { target };
  },
});
