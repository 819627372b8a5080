import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  normalCdf,
  normalPdf,
  normalQuantile,
  normalSurvival,
  normalUpperQuantile,
} from "../../src/loop/stats/normal.ts";
import { StatsError } from "../../src/loop/stats/stats-error.ts";

interface NormalReference {
  normal: { cdf: { x: number; cdf: number; sf: number }[]; ppf: { p: number; x: number }[] };
}

const reference = JSON.parse(
  readFileSync(new URL("../fixtures/stats/reference.json", import.meta.url), "utf8"),
) as NormalReference;

/** Relative error, so far-tail probabilities like 1e-300 are held to the same standard as 0.5. */
function relativeError(actual: number, expected: number): number {
  if (expected === 0) return Math.abs(actual);
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe("normal distribution against scipy.stats.norm", () => {
  it("Φ and 1 − Φ agree with scipy to 1e-12 relative, tails included", () => {
    expect(reference.normal.cdf.length).toBeGreaterThan(10);
    for (const { x, cdf, sf } of reference.normal.cdf) {
      expect(relativeError(normalCdf(x), cdf), `Φ(${x})`).toBeLessThan(1e-12);
      expect(relativeError(normalSurvival(x), sf), `1 − Φ(${x})`).toBeLessThan(1e-12);
    }
  });

  it("Φ⁻¹ agrees with scipy to 1e-12 relative from 1e-300 to 1 − 1e-6", () => {
    for (const { p, x } of reference.normal.ppf) {
      expect(relativeError(normalQuantile(p), x), `Φ⁻¹(${p})`).toBeLessThan(1e-12);
    }
  });
});

describe("normal distribution properties", () => {
  it("Φ⁻¹ inverts Φ (round trip) across the range", () => {
    for (let x = -8; x <= 8; x += 0.37) {
      const p = normalCdf(x);
      // Rounding p to a double moves x by about ulp(p)/φ(x): that, not the algorithm, bounds the round trip.
      const inherent = (4 * p * Number.EPSILON) / normalPdf(x);
      expect(Math.abs(normalQuantile(p) - x), `x = ${x}`).toBeLessThan(1e-13 + inherent);
    }
  });

  it("is symmetric: Φ(−x) = 1 − Φ(x), Φ⁻¹(1 − p) = −Φ⁻¹(p)", () => {
    for (const x of [0.1, 0.7, 1.3, 2.9, 5.1]) {
      expect(normalCdf(-x)).toBeCloseTo(normalSurvival(x), 15);
    }
    for (const p of [0.001, 0.2, 0.45]) {
      expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 12);
      expect(normalUpperQuantile(p)).toBeCloseTo(normalQuantile(1 - p), 12);
    }
  });

  it("the density integrates to Φ (trapezoid over [−1, 1.5])", () => {
    const steps = 20000;
    const a = -1;
    const b = 1.5;
    const h = (b - a) / steps;
    let area = 0;
    for (let i = 0; i < steps; i++) area += (h * (normalPdf(a + i * h) + normalPdf(a + (i + 1) * h))) / 2;
    expect(area).toBeCloseTo(normalCdf(b) - normalCdf(a), 8);
  });

  it("maps the ends of [0, 1] to ±∞ and refuses probabilities outside it", () => {
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(() => normalQuantile(1.2)).toThrow(StatsError);
    expect(() => normalQuantile(-0.1)).toThrow(StatsError);
    expect(() => normalQuantile(Number.NaN)).toThrow(StatsError);
    expect(normalCdf(-60)).toBe(0);
    expect(normalCdf(60)).toBe(1);
  });
});
