/**
 * The rolling variance's exactness where it is hardest: BTC-sized prices (~1e5, so sums of squares
 * cancel), constant stretches shorter than, equal to and longer than the window right after
 * moves and spikes (a constant window must give exactly 0, not rounding noise: zscore divides by
 * it), and long runs between NaN gaps so the steady loop and the general loop both take turns.
 */
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";

function series(period: number): Float64Array {
  let s = 9;
  const rnd = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const out: number[] = [];
  let p = 97_000;
  const walk = (len: number) => {
    for (let i = 0; i < len; i++) {
      p *= 1 + (rnd() - 0.5) * 0.002;
      out.push(p);
    }
  };
  const hold = (len: number) => {
    for (let i = 0; i < len; i++) out.push(p);
  };
  for (const len of [period - 1, period, period + 1, 3 * period, 400]) {
    walk(300);
    hold(len);
    // A spike, then calm: the running sums have just carried a huge square.
    p *= 1.3;
    walk(1);
    p /= 1.3;
    hold(len);
    walk(2);
    hold(len);
  }
  walk(200);
  out.splice(900, 1, Number.NaN);
  out.splice(1800, 1, Number.NaN);
  walk(300);
  return Float64Array.from(out);
}

/** Two-pass population mean and std of src[from..to); NaN if any value is not finite. */
function twoPass(
  src: Float64Array,
  from: number,
  to: number,
): { mean: number; std: number; constant: boolean } {
  let sum = 0;
  for (let i = from; i < to; i++) sum += src[i]!;
  const mean = sum / (to - from);
  let m2 = 0;
  let constant = true;
  for (let i = from; i < to; i++) {
    m2 += (src[i]! - mean) ** 2;
    if (src[i] !== src[from]) constant = false;
  }
  return { mean, std: Math.sqrt(m2 / (to - from)), constant };
}

describe("rolling mean and variance (stdev, zscore, bbands)", () => {
  for (const period of [5, 20, 64]) {
    it(`gives exactly 0 on every constant window and two-pass values elsewhere (period ${period})`, () => {
      const x = series(period);
      const sd = ta.stdev(x, period);
      const z = ta.zscore(x, period);
      const bb = ta.bbands(x, period, 2);
      let constants = 0;
      let compared = 0;
      for (let i = period - 1; i < x.length; i++) {
        const ref = twoPass(x, i - period + 1, i + 1);
        if (Number.isNaN(ref.mean)) {
          expect(sd[i], `stdev[${i}]`).toBeNaN();
          continue;
        }
        if (ref.constant) {
          constants++;
          expect(sd[i], `stdev[${i}] of a constant window`).toBe(0);
          expect(z[i], `zscore[${i}] of a constant window`).toBe(0);
          expect(bb.upper[i], `upper[${i}] of a constant window`).toBe(bb.middle[i]);
          expect(bb.lower[i], `lower[${i}] of a constant window`).toBe(bb.middle[i]);
          continue;
        }
        compared++;
        expect(Math.abs(sd[i]! - ref.std), `stdev[${i}]`).toBeLessThanOrEqual(1e-9 * ref.std);
        expect(Math.abs(bb.middle[i]! - ref.mean), `middle[${i}]`).toBeLessThanOrEqual(1e-12 * ref.mean);
      }
      expect(constants).toBeGreaterThan(400);
      expect(compared).toBeGreaterThan(1800);
    });
  }
});
