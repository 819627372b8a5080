import { checkSameLength, type Series, toF64 } from "./series.ts";

/** `b` as a series of the given length: a number becomes a constant level (e.g. an RSI threshold). */
export function seriesOrLevel(fn: string, a: Series, b: Series | number): Float64Array {
  if (typeof b === "number") return new Float64Array(a.length).fill(b);
  checkSameLength(fn, a, b);
  return toF64(b);
}

/**
 * Crossover: 1 on bars where a > b now and a <= b on the previous bar, else 0. `b` may be a number
 * (a fixed level). Returns a Uint8Array (use it as a boolean per bar).
 * Warm-up: none, bar 0 is always 0. NaN in: 0 whenever a NaN is involved now or on the previous bar.
 * Reference: https://www.tradingview.com/pine-script-reference/v5/#fun_ta.crossover
 */
export function crossover(a: Series, b: Series | number): Uint8Array {
  const x = toF64(a);
  const y = seriesOrLevel("crossover", a, b);
  const n = x.length;
  const out = new Uint8Array(n);
  // Comparisons turned into 0/1 and combined with &: branch-free, where `a && b ? 1 : 0` branched
  // on a coin flip (1.5x slower). NaN compares false both ways, as before.
  let before = n > 0 ? +(x[0]! <= y[0]!) : 0;
  for (let i = 1; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    out[i] = before & +(xi > yi);
    before = +(xi <= yi);
  }
  return out;
}
