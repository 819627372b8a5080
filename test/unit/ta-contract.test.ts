/**
 * The contract every `ta` indicator must keep (run over every key of `ta`):
 * length in = length out; exactly the documented warm-up of NaN (taReference), then no NaN on clean
 * input; no look-ahead (prefix invariance: the values over a prefix do not depend on later bars);
 * inputs never mutated; plain arrays accepted like Float64Arrays; NaN-in behaviour as documented.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";
import { formatTaReference, taReference } from "../../src/backtest/ta/reference.ts";
import {
  caseLabel,
  type IndicatorCase,
  indicatorCases,
  type Market,
  type MarketKind,
  makeMarket,
  type Output,
  outputsOf,
  warmupsOf,
} from "./ta-cases.ts";

const FIELDS = ["open", "high", "low", "close", "volume"] as const;

function prefixOf(m: Market, len: number): Market {
  // Copies (slice), so an indicator cannot see the rest of the buffer through a view.
  return {
    open: m.open.slice(0, len),
    high: m.high.slice(0, len),
    low: m.low.slice(0, len),
    close: m.close.slice(0, len),
    volume: m.volume.slice(0, len),
  };
}

function referenceOf(name: string) {
  const entry = taReference.find((e) => e.name === name);
  if (!entry) throw new Error(`no taReference entry for ${name}`);
  return entry;
}

/** Every value of `a` equals `b` at the same index, bit for bit (NaN equals NaN); `b` may be longer. */
function expectSameBits(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${label}: differs at ${i}: ${a[i]} vs ${b[i]}`);
  }
}

describe("ta reference covers exactly the functions in ta", () => {
  it("has one entry per function and no stale entries", () => {
    const names = taReference.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(ta).sort());
  });

  it("documents every function's parameters in its signature", () => {
    for (const c of indicatorCases) {
      const entry = referenceOf(c.name);
      expect(entry.signature.startsWith(`${c.name}(`), c.name).toBe(true);
      for (const p of Object.keys(c.params))
        expect(entry.signature, `${c.name}: ${p}`).toMatch(new RegExp(`\\b${p}\\b`));
    }
  });

  it("renders a prompt section naming every function with its signature and warm-up", () => {
    const text = formatTaReference();
    for (const e of taReference) {
      expect(text).toContain(`ta.${e.signature}`);
      expect(text).toContain(`Warm-up (leading NaN): ${e.warmup}.`);
    }
  });

  it("documents the real default of every defaulted parameter", () => {
    const m = makeMarket(200, 9, "walk");
    const seriesArg: Record<string, Float64Array> = { ...m, source: m.close, a: m.close, b: m.volume };
    for (const e of taReference) {
      const params = e.signature
        .slice(e.signature.indexOf("(") + 1, -1)
        .split(",")
        .map((p) => p.trim());
      const firstDefault = params.findIndex((p) => p.includes("="));
      if (firstDefault < 0) continue;
      const required = params.slice(0, firstDefault).map((p) => seriesArg[p] ?? 10);
      const defaults = params.slice(firstDefault).map((p) => Number(p.split("=")[1]));
      const fn = ta[e.name as keyof typeof ta] as (...args: unknown[]) => Output;
      const implicit = outputsOf(fn(...required));
      const explicit = outputsOf(fn(...required, ...defaults));
      for (const [key, arr] of Object.entries(explicit))
        expectSameBits(implicit[key]!, arr, `${e.name} defaults`);
      // And the defaults matter: a different value changes the result (the check is not vacuous).
      const other = outputsOf(fn(...required, ...defaults.map((d) => d + 1)));
      const changed = Object.entries(other).some(([k, arr]) =>
        arr.some((x, i) => !Object.is(x, explicit[k]![i])),
      );
      expect(changed, `${e.name}: changing the defaults changes nothing`).toBe(true);
    }
  });

  it("has a contract case for every function", () => {
    expect(new Set(indicatorCases.map((c) => c.name))).toEqual(new Set(Object.keys(ta)));
  });
});

const kinds: MarketKind[] = ["walk", "ticks", "flat"];

describe.each(indicatorCases.map((c) => [caseLabel(c), c] as const))("%s", (_label, c: IndicatorCase) => {
  const entry = referenceOf(c.name);
  const warmups = warmupsOf(entry.warmup, c.params);

  it.each(kinds)(
    "keeps length, has exactly the documented warm-up and no NaN after it (%s market)",
    (kind) => {
      const n = 180;
      const m = makeMarket(n, 7, kind);
      const outs = outputsOf(c.call(m));
      expect(Object.keys(outs).sort()).toEqual(Object.keys(warmups).sort());
      for (const [key, arr] of Object.entries(outs)) {
        expect(arr.length, key).toBe(n);
        const w = warmups[key]!;
        expect(w, key).toBeGreaterThanOrEqual(0);
        expect(w, key).toBeLessThan(n);
        const firstFinite = arr.findIndex((x) => !Number.isNaN(x));
        expect(firstFinite, `${key}: first non-NaN index`).toBe(w);
        const lateNaN = Array.from(arr.subarray(w)).findIndex((x) => !Number.isFinite(x));
        expect(lateNaN, `${key}: NaN/Infinity after warm-up at ${w + lateNaN}`).toBe(-1);
      }
    },
  );

  it("has no look-ahead: a prefix of the input gives exactly the full-series values over that prefix", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 260 }),
        fc.constantFrom<MarketKind>("walk", "ticks"),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
        (seed, n, kind, cutFractions) => {
          const m = makeMarket(n, seed, kind);
          const full = outputsOf(c.call(m));
          for (const f of cutFractions) {
            const cut = Math.max(1, Math.floor(f * n));
            const part = outputsOf(c.call(prefixOf(m, cut)));
            for (const [key, arr] of Object.entries(part)) {
              expect(arr.length).toBe(cut);
              expectSameBits(arr, full[key]!, `${key} cut=${cut}/${n}`);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("does not mutate its inputs and accepts plain number arrays", () => {
    const m = makeMarket(150, 11, "ticks");
    const before = FIELDS.map((f) => m[f].slice());
    const typed = outputsOf(c.call(m));
    FIELDS.forEach((f, i) => {
      expectSameBits(m[f], before[i]!, `input ${f} mutated`);
    });
    const plain = {
      open: Array.from(m.open),
      high: Array.from(m.high),
      low: Array.from(m.low),
      close: Array.from(m.close),
      volume: Array.from(m.volume),
    };
    const fromPlain = outputsOf(c.call(plain as unknown as Market));
    for (const [key, arr] of Object.entries(typed)) expectSameBits(fromPlain[key]!, arr, `plain ${key}`);
  });

  it("marks a bar with a NaN input as missing and recovers after it", () => {
    const n = 220;
    const m = makeMarket(n, 3, "walk");
    const at = 120;
    for (const f of FIELDS) m[f][at] = Number.NaN;
    const outs = outputsOf(c.call(m));
    const seen = at + (c.nanDelay ?? 0);
    for (const [key, arr] of Object.entries(outs)) {
      if (arr instanceof Uint8Array) {
        // Boolean outputs cannot hold NaN: no event fires on a missing bar or the bar after it.
        expect(arr[at], key).toBe(0);
        expect(arr[at + 1], key).toBe(0);
      } else {
        expect(arr[seen], key).toBeNaN();
      }
      expect(Number.isFinite(arr[n - 1]!), `${key} recovers`).toBe(true);
    }
  });
});
