/**
 * Input coercion, argument checks and output allocation shared by every `ta` indicator.
 * Pure ECMAScript on purpose: the library is bundled into a bare V8 isolate (no Node APIs).
 */

/** What every indicator accepts as a series: a Float64Array (no copy) or any array-like of numbers. */
export type Series = ArrayLike<number>;

/**
 * The internal type of a typed array from any realm (undefined for anything else). In the sandbox
 * the library lives in a realm of its own and the strategy's bars come from another, where
 * `instanceof Float64Array` is false and would copy every input.
 */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)?.get as ((this: unknown) => string | undefined) | undefined;

/** The series as a Float64Array; a Float64Array is returned as is (indicators never write to inputs). */
export function toF64(x: Series): Float64Array {
  return typedArrayTag?.call(x) === "Float64Array" ? (x as Float64Array) : Float64Array.from(x);
}

/** A fresh output of length n filled with NaN (warm-up and missing values). */
export function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}

/** Throws a RangeError naming the function and parameter unless `value` is an integer >= min. */
export function checkInt(fn: string, param: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`ta.${fn}: ${param} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throws a RangeError unless `value` is a finite number (multipliers, scales). */
export function checkFinite(fn: string, param: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(`ta.${fn}: ${param} must be a finite number, got ${String(value)}`);
  }
  return value;
}

/** Throws a RangeError unless every series has the same length; returns that length. */
export function checkSameLength(fn: string, ...series: Series[]): number {
  const n = series[0]?.length ?? 0;
  for (const s of series) {
    if (s.length !== n) {
      throw new RangeError(
        `ta.${fn}: input series must have the same length, got ${series.map((x) => x.length).join(", ")}`,
      );
    }
  }
  return n;
}

/** True for finite numbers; NaN and ±Infinity count as missing in every indicator. */
export function isFiniteNumber(x: number): boolean {
  return x - x === 0;
}

/**
 * Clamps a 0..100 oscillator in place: running-sum smoothing can land a few ulps outside the range
 * (e.g. -7e-15 for a mean of zeros), which would break `x >= 0` style rules. NaN stays NaN.
 */
export function clampPercent(xs: Float64Array): void {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x < 0) xs[i] = 0;
    else if (x > 100) xs[i] = 100;
  }
}
