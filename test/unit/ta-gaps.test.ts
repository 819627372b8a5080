/**
 * ATR's and ADX's steady loops compute the true range as max(high, prevClose) − min(low, prevClose)
 * and leave a NaN or an inverted bar to the general path. These cases make every branch of that
 * split happen: gaps up and down past the bar, bars with high < low, and missing bars.
 */
import { ADX, ATR } from "trading-signals";
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";

function gappyMarket(n: number): { high: Float64Array; low: Float64Array; close: Float64Array } {
  let s = 5;
  const rnd = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    // One bar in four opens away from the last close, up or down, by more than its own range.
    const open = rnd() < 0.25 ? p * (1 + (rnd() - 0.5) * 0.2) : p;
    p = open * (1 + (rnd() - 0.5) * 0.02);
    high[i] = Math.max(open, p) * (1 + rnd() * 0.005);
    low[i] = Math.min(open, p) * (1 - rnd() * 0.005);
    close[i] = p;
    // Now and then a bar whose high and low were swapped by a bad feed.
    if (rnd() < 0.03) [high[i], low[i]] = [low[i]!, high[i]!];
  }
  return { high, low, close };
}

function expectClose(ours: number, theirs: number, label: string): void {
  expect(Math.abs(ours - theirs), label).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(theirs)));
}

describe("ta.atr on gaps, inverted bars and missing bars", () => {
  const n = 3000;
  const m = gappyMarket(n);

  it("equals trading-signals' ATR where the previous close lies outside the bar and where high < low", () => {
    let outside = 0;
    for (let i = 1; i < n; i++) if (m.close[i - 1]! > m.high[i]! || m.close[i - 1]! < m.low[i]!) outside++;
    expect(outside).toBeGreaterThan(n / 10);
    for (const period of [1, 3, 14]) {
      const ours = ta.atr(m.high, m.low, m.close, period);
      const ref = new ATR(period);
      let compared = 0;
      for (let i = 0; i < n; i++) {
        const r = ref.add({ high: m.high[i]!, low: m.low[i]!, close: m.close[i]! });
        if (r === null) continue;
        expectClose(ours[i]!, r, `atr(${period})[${i}]`);
        compared++;
      }
      expect(compared).toBe(n - period + 1);
    }
  });

  it("skips a missing bar: every later value equals the ATR of the series without that bar", () => {
    for (const at of [5, 20, 21, 1500, n - 2]) {
      const high = m.high.slice();
      const low = m.low.slice();
      const close = m.close.slice();
      high[at] = Number.NaN;
      const withGap = ta.atr(high, low, close, 14);
      const keep = (a: Float64Array) => Float64Array.from([...a.subarray(0, at), ...a.subarray(at + 1)]);
      const without = ta.atr(keep(m.high), keep(m.low), keep(m.close), 14);
      expect(withGap[at]).toBeNaN();
      for (let i = 0; i < n - 1; i++) {
        const j = i < at ? i : i + 1;
        if (Number.isNaN(without[i]!)) expect(withGap[j], `[${j}]`).toBeNaN();
        else expect(withGap[j], `gap at ${at}, [${j}]`).toBe(without[i]);
      }
    }
  });
});

describe("ta.adx on gaps, inverted bars and missing bars", () => {
  const n = 3000;
  const m = gappyMarket(n);

  it("equals trading-signals' ADX and DIs where the previous close lies outside the bar and where high < low", () => {
    for (const period of [3, 14]) {
      const ours = ta.adx(m.high, m.low, m.close, period);
      const ref = new ADX(period);
      let compared = 0;
      for (let i = 0; i < n; i++) {
        const r = ref.add({ high: m.high[i]!, low: m.low[i]!, close: m.close[i]! });
        if (!ref.isStable || r === null) continue;
        expectClose(ours.adx[i]!, r, `adx(${period})[${i}]`);
        // trading-signals gives the DIs as fractions, ours are percentages.
        expectClose(ours.plusDi[i]!, (ref.pdi as number) * 100, `plusDi(${period})[${i}]`);
        expectClose(ours.minusDi[i]!, (ref.mdi as number) * 100, `minusDi(${period})[${i}]`);
        compared++;
      }
      expect(compared).toBeGreaterThan(n - 2 * period);
    }
  });

  it("skips a missing bar: every later value equals the ADX of the series without that bar", () => {
    for (const at of [5, 26, 27, 1500, n - 2]) {
      const close = m.close.slice();
      close[at] = Number.NaN;
      const withGap = ta.adx(m.high, m.low, close, 14);
      const keep = (a: Float64Array) => Float64Array.from([...a.subarray(0, at), ...a.subarray(at + 1)]);
      const without = ta.adx(keep(m.high), keep(m.low), keep(m.close), 14);
      for (const key of ["adx", "plusDi", "minusDi"] as const) {
        expect(withGap[key][at], key).toBeNaN();
        for (let i = 0; i < n - 1; i++) {
          const j = i < at ? i : i + 1;
          if (Number.isNaN(without[key][i]!)) expect(withGap[key][j], `${key}[${j}]`).toBeNaN();
          else expect(withGap[key][j], `${key}, gap at ${at}, [${j}]`).toBe(without[key][i]);
        }
      }
    }
  });
});
