import { defineStrategy, float, int } from "alphaloop/strategy";

/**
 * Grid-style accumulation: the further price sits below its rolling mean (in z-score steps), the
 * larger the long position, in `levels` equal steps; back at the mean the grid is empty. A `target`
 * strategy: exposure moves one grid level at a time as price crosses levels.
 */
export default defineStrategy({
  name: "grid-scalp",
  family: "scalp",
  description:
    "Long exposure grows one level per `step` z-scores below the rolling mean, up to `levels` levels; flat at or above the mean.",
  params: { period: int(20, 300, 96), step: float(0.25, 2, 0.75), levels: int(1, 8, 4) },
  signals(bars, p, ta) {
    const z = ta.zscore(bars.close, p.period);
    const n = bars.close.length;
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const zi = z[i] as number;
      if (Number.isNaN(zi)) {
        target[i] = Number.NaN;
        continue;
      }
      const level = zi >= 0 ? 0 : Math.min(p.levels, Math.floor(-zi / p.step));
      target[i] = level / p.levels;
    }
    return { target };
  },
});
