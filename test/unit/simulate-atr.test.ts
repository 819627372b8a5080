import { ATR } from "trading-signals";
import { describe, expect, it } from "vitest";
import { wilderAtr } from "../../src/backtest/wilder-atr.ts";

describe("the simulator's private Wilder ATR", () => {
  let s = 11;
  const rnd = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const n = 500;
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    const o = p;
    p *= 1 + (rnd() - 0.5) * 0.04;
    close[i] = p;
    high[i] = Math.max(o, p) * (1 + rnd() * 0.01);
    low[i] = Math.min(o, p) * (1 - rnd() * 0.01);
  }

  it("matches trading-signals' ATR once that one is stable", () => {
    for (const period of [1, 5, 14]) {
      const ours = wilderAtr(high, low, close, period);
      const ref = new ATR(period);
      let compared = 0;
      for (let i = 0; i < n; i++) {
        const r = ref.add({ high: high[i]!, low: low[i]!, close: close[i]! });
        if (!ref.isStable) continue;
        expect(ours[i]).toBeCloseTo(r as number, 9);
        compared++;
      }
      expect(compared).toBeGreaterThan(n - period - 2);
    }
  });

  it("writes every value of a buffer it is given (the simulator reuses one)", () => {
    for (const period of [1, 5, 14]) {
      const junk = new Float64Array(n).fill(Number.NaN);
      expect(Array.from(wilderAtr(high, low, close, period, junk))).toEqual(
        Array.from(wilderAtr(high, low, close, period)),
      );
    }
  });

  it("has a level from the first bar (mean of the true ranges so far), so a stop always has one", () => {
    const ours = wilderAtr(high, low, close, 14);
    expect(ours[0]).toBeCloseTo(high[0]! - low[0]!, 12);
    const tr1 = Math.max(high[1]! - low[1]!, Math.abs(high[1]! - close[0]!), Math.abs(low[1]! - close[0]!));
    expect(ours[1]).toBeCloseTo((high[0]! - low[0]! + tr1) / 2, 12);
  });
});
