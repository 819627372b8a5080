/** Strategy sources and synthetic bars shared by the sandbox tests and benchmark. */
import type { Bars } from "../../src/domain/bars.ts";

/** Random-walk bars from a fixed seed (xorshift), so every run sees the same series. */
export function syntheticBars(n: number, seed = 7): Bars {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const time = new Float64Array(n);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  let price = 100;
  for (let i = 0; i < n; i++) {
    time[i] = 1_600_000_000_000 + i * 60_000;
    open[i] = price;
    price *= 1 + (next() - 0.5) * 0.004;
    close[i] = price;
    high[i] = Math.max(open[i] as number, price) * (1 + next() * 0.001);
    low[i] = Math.min(open[i] as number, price) * (1 - next() * 0.001);
    volume[i] = 1 + next() * 10;
  }
  return { time, open, high, low, close, volume };
}

export const EMA_CROSS = `import { defineStrategy, int } from "alphaloop/strategy";

export default defineStrategy({
  name: "ema-cross",
  family: "trend",
  description: "Long while the fast EMA is above the slow EMA.",
  params: { fast: int(5, 50, 12), slow: int(10, 200, 26) },
  signals(bars, p, ta) {
    const f = ta.ema(bars.close, p.fast);
    const s = ta.ema(bars.close, p.slow);
    return { enterLong: ta.crossover(f, s), exitLong: ta.crossunder(f, s) };
  },
});
`;

/** A strategy that never trades: what a sandboxed call or a queued fold costs before any work. */
export const NOOP_STRATEGY = `import { defineStrategy } from "alphaloop/strategy";
export default defineStrategy({
  name: "noop",
  family: "trend",
  description: "Never trades.",
  params: {},
  signals(bars) {
    const n = bars.close.length;
    return { enterLong: new Uint8Array(n), exitLong: new Uint8Array(n) };
  },
});
`;

/**
 * A strategy whose signals body is `body` (which must return an output), on line 6 onwards.
 * `prelude` goes on line 2, before the definition (module top level).
 */
export function strategyWith(body: string, prelude = ""): string {
  return `import { defineStrategy, int } from "alphaloop/strategy";
${prelude}
export default defineStrategy({
  name: "probe", family: "test", description: "a test strategy", params: { n: int(1, 10, 3) },
  signals(bars, p, ta) {
${body}
  },
});
`;
}

/** Flat target of the bars' length: the smallest valid output. */
export const FLAT = "return { target: new Float64Array(bars.close.length) };";
