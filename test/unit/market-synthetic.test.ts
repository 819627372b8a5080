import { describe, expect, it } from "vitest";
import type { Bars } from "../../src/domain/bars.ts";
import { createRandom, restoreRandom } from "../../src/market/prng.ts";
import { generateSynthetic, REGIMES, syntheticBars } from "../../src/market/synthetic.ts";

/** Bitwise equality; vitest's deep equality is slow on 100k-element typed arrays. */
function sameBytes(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function logReturns(b: Bars): Float64Array {
  const out = new Float64Array(b.close.length - 1);
  for (let i = 1; i < b.close.length; i++) out[i - 1] = Math.log(b.close[i]! / b.close[i - 1]!);
  return out;
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

function kurtosis(x: Float64Array): number {
  const m = mean(x);
  let m2 = 0;
  let m4 = 0;
  for (const v of x) {
    const d = v - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= x.length;
  m4 /= x.length;
  return m4 / (m2 * m2);
}

function autocorrelation(x: ArrayLike<number>, lag: number): number {
  const m = mean(x);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - m;
    den += d * d;
    if (i >= lag) num += d * (x[i - lag]! - m);
  }
  return num / den;
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe("prng", () => {
  it("is deterministic per seed, string seeds included, and restores from state", () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const xa = Array.from({ length: 100 }, () => a.nextUint32());
    const xb = Array.from({ length: 100 }, () => b.nextUint32());
    const xc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(createRandom("run-7").next()).toBe(createRandom("run-7").next());
    expect(createRandom("run-7").next()).not.toBe(createRandom("run-8").next());
    const r = createRandom(5);
    r.next();
    const resumed = restoreRandom(r.state());
    expect(Array.from({ length: 10 }, () => resumed.next())).toEqual(
      Array.from({ length: 10 }, () => r.next()),
    );
  });

  it("draws uniforms in [0, 1), unbiased ints and unit normals", () => {
    const r = createRandom(1);
    const n = 200_000;
    const u = Float64Array.from({ length: n }, () => r.next());
    expect(u.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(0);
    expect(u.reduce((a, b) => Math.max(a, b))).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 2);
    const counts = [0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const z = Float64Array.from({ length: n }, () => r.normal());
    expect(mean(z)).toBeCloseTo(0, 1);
    expect(mean(z.map((v) => v * v))).toBeCloseTo(1, 1);
    expect(kurtosis(z)).toBeCloseTo(3, 0);
    // Student-t with 5 df: variance 5/3, kurtosis 9 in theory (heavy sample noise, so only > 4).
    const t = Float64Array.from({ length: n }, () => r.studentT(5));
    expect(mean(t.map((v) => v * v))).toBeCloseTo(5 / 3, 1);
    expect(kurtosis(t)).toBeGreaterThan(4);
    // Gamma(k) has mean k.
    expect(mean(Float64Array.from({ length: n }, () => r.gamma(0.5)))).toBeCloseTo(0.5, 1);
    expect(mean(Float64Array.from({ length: n }, () => r.gamma(3)))).toBeCloseTo(3, 1);
  });

  it("block fills give exactly the sequence of scalar draws", () => {
    const a = createRandom(77);
    const b = createRandom(77);
    const blockU = a.fillUniform(new Float64Array(5));
    const blockN = a.fillNormal(new Float64Array(7));
    const blockT = a.fillStudentT(new Float64Array(9), 4.5);
    const blockT1 = a.fillStudentT(new Float64Array(3), 1.5);
    expect(Array.from(blockU)).toEqual(Array.from({ length: 5 }, () => b.next()));
    expect(Array.from(blockN)).toEqual(Array.from({ length: 7 }, () => b.normal()));
    expect(Array.from(blockT)).toEqual(Array.from({ length: 9 }, () => b.studentT(4.5)));
    expect(Array.from(blockT1)).toEqual(Array.from({ length: 3 }, () => b.studentT(1.5)));
    expect(a.next()).toBe(b.next());
  });

  it("fork gives an independent stream and leaves the parent deterministic", () => {
    const a = createRandom(9);
    const b = createRandom(9);
    const child = a.fork();
    b.fork();
    expect(a.next()).toBe(b.next());
    expect(child.next()).not.toBe(a.next());
  });
});

describe("syntheticBars", () => {
  const market = generateSynthetic({ n: 100_000, timeframe: "1m", seed: 7 });
  const bars = market.bars;

  it("is deterministic: same seed same arrays, different seed different arrays", () => {
    const again = syntheticBars({ n: 100_000, timeframe: "1m", seed: 7 });
    for (const k of ["time", "open", "high", "low", "close", "volume"] as const) {
      expect(sameBytes(again[k], bars[k]), k).toBe(true);
    }
    const other = syntheticBars({ n: 100_000, timeframe: "1m", seed: 8 });
    expect(sameBytes(other.close, bars.close)).toBe(false);
    expect(sameBytes(other.time, bars.time)).toBe(true);
  });

  it("keeps OHLC invariants, continuity, the time grid and positive volume on 100k bars", () => {
    const { time, open, high, low, close, volume } = bars;
    let violations = 0;
    for (let i = 0; i < time.length; i++) {
      const o = open[i]!;
      const c = close[i]!;
      if (!(high[i]! >= Math.max(o, c) && low[i]! <= Math.min(o, c) && low[i]! > 0)) violations++;
      if (!(volume[i]! > 0 && Number.isFinite(volume[i]!))) violations++;
      if (time[i] !== Date.UTC(2020, 0, 1) + i * 60_000) violations++;
      if (i > 0 && o !== close[i - 1]) violations++;
    }
    expect(violations).toBe(0);
    // The intrabar range is real, not just max(open, close).
    let ranged = 0;
    for (let i = 0; i < time.length; i++) if (high[i]! > Math.max(open[i]!, close[i]!)) ranged++;
    expect(ranged / time.length).toBeGreaterThan(0.9);
  });

  it("has fat tails: kurtosis of returns > 3", () => {
    expect(kurtosis(logReturns(bars))).toBeGreaterThan(3);
  });

  it("clusters volatility: autocorrelation of |returns| at lag 1 > 0.05", () => {
    const abs = logReturns(bars).map(Math.abs);
    expect(autocorrelation(abs, 1)).toBeGreaterThan(0.05);
    // i.i.d. returns with the same marginal distribution show none.
    const shuffled = Float64Array.from(abs);
    const r = createRandom(3);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    expect(Math.abs(autocorrelation(shuffled, 1))).toBeLessThan(0.02);
  });

  it("volume rises with |return|", () => {
    const ret = logReturns(bars).map(Math.abs);
    expect(correlation(ret, bars.volume.subarray(1))).toBeGreaterThan(0.2);
  });

  it("switches between bull, bear and sideways regimes with different drifts", () => {
    const m = generateSynthetic({ n: 50_000, timeframe: "1h", seed: 11 });
    const ret = logReturns(m.bars);
    const sums = [0, 0, 0];
    const counts = [0, 0, 0];
    let switches = 0;
    for (let i = 0; i < ret.length; i++) {
      const g = m.regime[i + 1]!;
      sums[g]! += ret[i]!;
      counts[g]!++;
      if (m.regime[i + 1] !== m.regime[i]) switches++;
    }
    expect(counts.every((c) => c > 5_000)).toBe(true);
    // Mean regime length is 20 days = 480 hourly bars, so ~100 switches in 50k bars.
    expect(switches).toBeGreaterThan(40);
    expect(switches).toBeLessThan(250);
    const avg = sums.map((s, i) => s / counts[i]!);
    const bull = avg[REGIMES.indexOf("bull")]!;
    const bear = avg[REGIMES.indexOf("bear")]!;
    const sideways = avg[REGIMES.indexOf("sideways")]!;
    expect(bull).toBeGreaterThan(sideways);
    expect(sideways).toBeGreaterThan(bear);
    expect(bull).toBeGreaterThan(0);
    expect(bear).toBeLessThan(0);
  });

  it("with openGap, bars open a little away from the previous close and still enclose open and close", () => {
    const b = syntheticBars({ n: 20_000, seed: 3, openGap: 0.0002 });
    let gapped = 0;
    let bad = 0;
    for (let i = 1; i < b.time.length; i++) {
      const o = b.open[i]!;
      if (o !== b.close[i - 1]) gapped++;
      if (Math.abs(Math.log(o / b.close[i - 1]!)) > 0.0002 * 8) bad++;
      if (!(b.high[i]! >= Math.max(o, b.close[i]!) && b.low[i]! <= Math.min(o, b.close[i]!))) bad++;
    }
    expect(gapped).toBe(b.time.length - 1);
    expect(bad).toBe(0);
  });

  it("respects start, timeframe and startPrice, and rejects bad options", () => {
    const b = syntheticBars({
      n: 3,
      timeframe: "4h",
      start: "2024-01-01T04:00:00Z",
      startPrice: 100,
      seed: 1,
    });
    expect(Array.from(b.time)).toEqual([0, 1, 2].map((i) => Date.UTC(2024, 0, 1, 4 + 4 * i)));
    expect(b.open[0]).toBe(100);
    expect(() => syntheticBars({ n: 3, timeframe: "4h", start: "2024-01-01T01:00:00Z" })).toThrow(/grid/);
    expect(() => syntheticBars({ n: 3, garchAlpha: 0.5, garchBeta: 0.6 })).toThrow(/alpha \+ beta < 1/);
    expect(() => syntheticBars({ n: -1 })).toThrow(/n must be/);
    expect(() => syntheticBars({ n: 3, annualVol: 0 })).toThrow(/annualVol must be a positive number/);
    expect(() => syntheticBars({ n: 3, openGap: -1 })).toThrow(/openGap must be a number >= 0/);
    expect(syntheticBars({ n: 0 }).time.length).toBe(0);
  });
});
