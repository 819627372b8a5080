/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna, https://prng.di.unimi.it/) seeded
 * through splitmix32, plus the distributions the synthetic market and the sandbox need. Same seed,
 * same sequence, on every machine: the generator uses only 32-bit integer arithmetic (`Math.imul`,
 * shifts), never `Math.random`, so a run can be replayed from its seed.
 */

/** A seed as a person types it: a number, or any string (hashed). */
export type Seed = number | string;

export interface Random {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform integer in [0, n) for 0 < n <= 2^32, without modulo bias. */
  int(n: number): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Gamma(shape, 1), shape > 0. */
  gamma(shape: number): number;
  /** Student-t with `df` degrees of freedom (df > 0); variance df/(df-2) when df > 2. */
  studentT(df: number): number;
  /**
   * Block versions: fill `out` with what `length` calls to next / normal / studentT would give
   * (the same sequence). Hot loops should draw in blocks: a non-inlined call returning a double
   * allocates a heap number, and at millions of draws that garbage dominates.
   */
  fillUniform(out: Float64Array): Float64Array;
  fillNormal(out: Float64Array): Float64Array;
  fillStudentT(out: Float64Array, df: number): Float64Array;
  /** An independent generator derived from this one's stream, for a sub-task that must not shift the parent's draws. */
  fork(): Random;
  /** The 128-bit state, to checkpoint and later `restoreRandom`. */
  state(): [number, number, number, number];
}

const TWO_POW_32 = 4_294_967_296;

/** FNV-1a over the UTF-16 code units: turns a string seed into 32 bits. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Seeds as 32-bit words; a non-integer or huge number keeps its low and high bits both. */
function seedWord(seed: Seed): number {
  if (typeof seed === "string") return hashString(seed);
  if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number or a string, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(Math.abs(seed) / TWO_POW_32) >>> 0;
  return (lo ^ Math.imul(hi, 0x9e3779b1) ^ (Math.sign(seed) < 0 ? 0x5bd1e995 : 0)) >>> 0;
}

/** splitmix32 expands one word into a full state so nearby seeds give unrelated streams. */
function expandSeed(word: number): [number, number, number, number] {
  let x = word >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    out.push((z ^ (z >>> 16)) >>> 0);
  }
  // An all-zero state is the one fixed point of xoshiro.
  if (!out.some((v) => v !== 0)) out[0] = 1;
  return out as [number, number, number, number];
}

class Xoshiro128 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  // Box–Muller/polar produce normals in pairs; the spare is kept so no draw is wasted.
  private spare = 0;
  private hasSpare = false;

  // State words are kept as signed int32 (`| 0`): V8 stores those unboxed, whereas uint32 values
  // above 2^31 become heap numbers and every draw would allocate.
  constructor(s: readonly [number, number, number, number]) {
    this.a = s[0] | 0;
    this.b = s[1] | 0;
    this.c = s[2] | 0;
    this.d = s[3] | 0;
  }

  private step(): number {
    const b = this.b;
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b = b ^ this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  nextUint32(): number {
    return this.step() >>> 0;
  }

  next(): number {
    return (this.step() >>> 0) / TWO_POW_32;
  }

  int(n: number): number {
    if (!(n > 0 && n <= TWO_POW_32 && Number.isInteger(n)))
      throw new Error(`int(n) needs an integer 0 < n <= 2^32, got ${n}`);
    // Rejection keeps every value equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    // Marsaglia polar method: no trig, one log and one sqrt per pair.
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * m;
        this.hasSpare = true;
        return u * m;
      }
    }
  }

  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      // Boost: Gamma(k) = Gamma(k + 1) * U^(1/k).
      const u = 1 - this.next();
      return this.gamma(shape + 1) * u ** (1 / shape);
    }
    // Marsaglia & Tsang (2000), "A simple method for generating gamma variables".
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  studentT(df: number): number {
    if (!(df > 0)) throw new Error(`student-t degrees of freedom must be > 0, got ${df}`);
    const z = this.normal();
    // chi2(df) = 2 * Gamma(df / 2)
    const chi2 = 2 * this.gamma(df / 2);
    return z / Math.sqrt(chi2 / df);
  }

  fillUniform(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = (this.step() >>> 0) / TWO_POW_32;
    return out;
  }

  fillNormal(out: Float64Array): Float64Array {
    const n = out.length;
    let i = 0;
    if (n > 0 && this.hasSpare) {
      this.hasSpare = false;
      out[i++] = this.spare;
    }
    while (i < n) {
      const u = (2 * (this.step() >>> 0)) / TWO_POW_32 - 1;
      const v = (2 * (this.step() >>> 0)) / TWO_POW_32 - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        out[i++] = u * m;
        if (i < n) out[i++] = v * m;
        else {
          this.spare = v * m;
          this.hasSpare = true;
        }
      }
    }
    return out;
  }

  fillStudentT(out: Float64Array, df: number): Float64Array {
    if (!(df > 0)) throw new Error(`student-t degrees of freedom must be > 0, got ${df}`);
    if (df < 2) {
      // Gamma shape below 1 takes the boosted path; rare enough to leave to the scalar code.
      for (let i = 0; i < out.length; i++) out[i] = this.studentT(df);
      return out;
    }
    // studentT inlined (normal, then Marsaglia–Tsang gamma) so the block loop never calls out.
    const d = df / 2 - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (let i = 0; i < out.length; i++) {
      const z = this.normal();
      let g: number;
      for (;;) {
        let x: number;
        let v: number;
        do {
          x = this.normal();
          v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const u = 1 - (this.step() >>> 0) / TWO_POW_32;
        const x2 = x * x;
        if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
          g = d * v;
          break;
        }
      }
      out[i] = z / Math.sqrt((2 * g) / df);
    }
    return out;
  }

  fork(): Random {
    return new Xoshiro128(expandSeed(this.nextUint32() ^ this.nextUint32()));
  }

  state(): [number, number, number, number] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A generator whose whole sequence is fixed by `seed`. */
export function createRandom(seed: Seed): Random {
  return new Xoshiro128(expandSeed(seedWord(seed)));
}

/** Resumes a generator from `Random.state()`. The pending spare normal, if any, is not part of the state. */
export function restoreRandom(state: readonly [number, number, number, number]): Random {
  if (state.every((v) => v >>> 0 === 0)) throw new Error("xoshiro128** state must not be all zero");
  return new Xoshiro128(state);
}
