/**
 * Look-ahead check for a strategy's signal function. Pure apart from calling `signalsFor`.
 *
 * Prefix invariance: a signal at bar i may only depend on bars 0..i, so computing the signals on
 * bars [0, cut) must reproduce the full-data signals on [0, cut) exactly. Cut points (seeded):
 *   - the shortest prefix (`minPrefix`, moved to just after the first active bar within
 *     2·minPrefix): it hides the most future, so whole-series statistics (max, mean, std) differ
 *     most there. Always checked as a full prefix [0, cut);
 *   - `cuts` random points in [minPrefix, n);
 *   - `cuts` points right after bars where the full signals are active (an event fires or the
 *     target changes): a one-bar peek only shows at the last bars before a cut, and event arrays
 *     are 0 on most bars, so aligned cuts are what make it visible;
 *   - `windows` more aligned cuts.
 * Once the warm-up is known, every cut but the first runs on a window of the bars just before it,
 * [cut − (2·warm-up + 64 + 32), cut), instead of the whole prefix. The random and aligned cuts
 * also run on the same window extended 32 bars past the cut: both start at the same bar, so the
 * warm-up cannot make them differ and any difference before the cut is exact proof of look-ahead
 * (prefix invariance failing on the series that starts at the window). Every window's last 32
 * bars are also compared with the full signals (targets within 1e-6 relative); that is only a
 * screen, so when it differs the full prefix [0, cut) is run and gives the exact verdict — an
 * underestimated warm-up can cost time but never a false verdict. A strategy whose warm-up never
 * stabilises gets full prefixes for the random and aligned cuts, as without windows.
 * This catches reading close[i+1], reversed arrays, centred windows, normalising by the whole
 * series' max/mean/std, and a target shifted back a bar to fake a same-bar fill (target[t] using
 * close[t] is legitimate — the simulator fills it at t+1's open — but target[t] computed from bar
 * t+1 is the cheat, and its prefix differs at cut − 1). A cut the strategy throws on is skipped;
 * throwing on every cut fails the check. Limit: a peek is visible only if what it reads lies
 * past some cut — whole-series normalisation whose statistic is set inside the shortest prefix
 * (e.g. the series' max is among the first `minPrefix` bars) changes nothing after it and passes.
 *
 * Warm-up (in the spirit of freqtrade's recursive-analysis): signals over evaluation windows
 * (ending at the end of the data and at ⅔ and ⅓ of it, each starting on an active bar and holding
 * ≥ 8 active bars) are recomputed with h bars of history before the window, h found by doubling
 * and binary search up to `maxWarmup`; `warmupBars` is the largest h needed (events equal, targets
 * within 1e-6 relative). For event strategies it is a lower bound: a cross matches as long as its
 * side does, whatever the indicator's residual error. A strategy whose signals still differ at
 * the cap (anchored to the first bar of the data, e.g. a cumulative mean) gets
 * warmupStable = false; that is reported, not counted as look-ahead.
 */
import { type Bars, sliceBars } from "../domain/bars.ts";
import type { Signals } from "../domain/signals.ts";

export interface LookaheadOptions {
  bars: Bars;
  signalsFor: (bars: Bars) => Promise<Signals> | Signals;
  /** Random cut points; as many activity-aligned cut points are added. Default 3. */
  cuts?: number;
  seed?: number;
  /**
   * Shortest prefix handed to the strategy. Default max(2, 10 % of the bars), at most
   * DEFAULT_MAX_MIN_PREFIX: a shorter prefix hides more of the future (so it is no weaker against
   * whole-series statistics), and on long data 10 % would make this one exact run the check's
   * largest cost.
   */
  minPrefix?: number;
  /** Bars in the warm-up evaluation window (widened until it holds some activity). Default 200. */
  warmupWindow?: number;
  /** Largest history the warm-up search tries. Default 2000. */
  maxWarmup?: number;
  /** More activity-aligned cuts, checked on windows once the warm-up is known. Default 16. */
  windows?: number;
  /** Full-data signals if the caller already has them (saves one run). */
  full?: Signals;
}

export interface BadBar {
  index: number;
  time: number;
  /** Which series differed: enterLong, exitLong, enterShort, exitShort, target or kind. */
  signal: string;
  /** The prefix length that exposed it. */
  cut: number;
  full: number;
  prefix: number;
}

export interface LookaheadReport {
  /** No look-ahead found and at least one cut could be checked. */
  ok: boolean;
  lookahead: boolean;
  firstBadBar?: BadBar;
  /** Set when no cut could be checked because the strategy threw on every prefix. */
  error?: string;
  warmupBars: number;
  warmupStable: boolean;
  /** Cut points checked, by a full prefix or by a window. */
  cutsChecked: number;
  /** Of those, checked with a full prefix [0, cut). */
  prefixCuts: number;
  /** Of those, checked on windows just before the cut (after the warm-up is known). */
  windowsChecked: number;
  /** Calls of signalsFor made. */
  runs: number;
}

const EVENT_KEYS = ["enterLong", "exitLong", "enterShort", "exitShort"] as const;
/** Cap on the default shortest prefix, in bars. */
const DEFAULT_MAX_MIN_PREFIX = 20_000;
const WARMUP_TOLERANCE = 1e-6;
const WARMUP_EVENTS = 8;
const WARMUP_WINDOWS = 3;

/** mulberry32: tiny seeded PRNG so the cut points are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function eventArray(s: Signals, key: (typeof EVENT_KEYS)[number]): Uint8Array | undefined {
  return s.kind === "events" ? s[key] : undefined;
}

/** Whether the full signals do something at bar i (an event, or a target change). */
function active(s: Signals, i: number): boolean {
  if (s.kind === "target") return i > 0 && !same(s.target[i], s.target[i - 1], 0);
  for (const k of EVENT_KEYS) if ((eventArray(s, k)?.[i] ?? 0) !== 0) return true;
  return false;
}

function same(a: number | undefined, b: number | undefined, tol: number): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return tol > 0 && Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

interface Diff {
  index: number;
  signal: string;
  full: number;
  prefix: number;
}

/**
 * First i in [0, len) where `test[i + testOffset]` differs from `full[i + fullOffset]`, or null.
 * Missing optional event arrays count as all zeros; a missing value past an array's end differs.
 */
function firstDiff(
  full: Signals,
  fullOffset: number,
  test: Signals,
  testOffset: number,
  len: number,
  tol: number,
): Diff | null {
  if (full.kind !== test.kind) return { index: 0, signal: "kind", full: 0, prefix: 0 };
  let best: Diff | null = null;
  const pairs: [string, ArrayLike<number> | undefined, ArrayLike<number> | undefined, number][] =
    full.kind === "target" && test.kind === "target"
      ? [["target", full.target, test.target, tol]]
      : EVENT_KEYS.map((k) => [k, eventArray(full, k), eventArray(test, k), 0]);
  for (const [name, a, b, t] of pairs) {
    if (!a && !b) continue;
    const limit = best ? best.index : len;
    for (let i = 0; i < limit; i++) {
      const x = a ? a[i + fullOffset] : 0;
      const y = b ? b[i + testOffset] : 0;
      if (!same(x, y, t)) {
        best = { index: i, signal: name, full: x ?? Number.NaN, prefix: y ?? Number.NaN };
        break;
      }
    }
  }
  return best;
}

/**
 * Every bar i in [from, to) where the full signals are active, as cut points i + 1 (a cut right
 * after an active bar). One tight pass per series instead of a closure call per bar.
 */
function activeCuts(s: Signals, from: number, to: number): Int32Array {
  const lo = Math.max(0, from);
  const out = new Int32Array(Math.max(0, to - lo));
  let k = 0;
  if (s.kind === "target") {
    const t = s.target;
    for (let i = Math.max(1, lo); i < to; i++) if (!same(t[i], t[i - 1], 0)) out[k++] = i + 1;
    return out.subarray(0, k);
  }
  const a = s.enterLong;
  const b = s.exitLong;
  const c = s.enterShort;
  const d = s.exitShort;
  // Long-only strategies (most of them) have no short series: a loop over two arrays only.
  k = c === undefined && d === undefined ? activeBars2(a, b, lo, to, out) : activeBars4(s, lo, to, out);
  return out.subarray(0, k);
}

// Branch-free: write every bar and advance only past active ones (whether a bar is active is often
// a coin flip, e.g. an exit on every close above a band).
function activeBars2(a: Uint8Array, b: Uint8Array, lo: number, to: number, out: Int32Array): number {
  let k = 0;
  for (let i = lo; i < to; i++) {
    out[k] = i + 1;
    k += +(((a[i] as number) | (b[i] as number)) !== 0);
  }
  return k;
}

function activeBars4(
  s: Extract<Signals, { kind: "events" }>,
  lo: number,
  to: number,
  out: Int32Array,
): number {
  const zero = new Uint8Array(0);
  const a = s.enterLong;
  const b = s.exitLong;
  const c = s.enterShort ?? zero;
  const d = s.exitShort ?? zero;
  const cn = c.length;
  const dn = d.length;
  let k = 0;
  for (let i = lo; i < to; i++) {
    const on =
      (a[i] as number) | (b[i] as number) | (i < cn ? (c[i] as number) : 0) | (i < dn ? (d[i] as number) : 0);
    out[k] = i + 1;
    k += +(on !== 0);
  }
  return k;
}

/** Seeded random draws without replacement from `pool`, which holds `pool.size` live entries. */
function draw(pool: { items: Int32Array; size: number }, count: number, rand: () => number): number[] {
  const out: number[] = [];
  for (let k = 0; k < count && pool.size > 0; k++) {
    const j = Math.floor(rand() * pool.size);
    out.push(pool.items[j] as number);
    pool.items[j] = pool.items[pool.size - 1] as number;
    pool.size--;
  }
  return out;
}

/** Bars appended after a cut for the exact window pair (see the module comment). */
const EXTEND = 32;
/** Bars compared against the full signals at the end of a windowed cut. */
const TAIL = 32;

export async function checkLookahead(opts: LookaheadOptions): Promise<LookaheadReport> {
  const { bars, signalsFor } = opts;
  const n = bars.time.length;
  const cuts = Math.max(0, Math.floor(opts.cuts ?? 3));
  const seed = opts.seed ?? 1;
  const minPrefix = Math.max(
    1,
    Math.floor(opts.minPrefix ?? Math.max(2, Math.min(n / 10, DEFAULT_MAX_MIN_PREFIX))),
  );
  let runs = 0;
  const run = async (b: Bars): Promise<Signals> => {
    runs++;
    return await signalsFor(b);
  };
  const full = opts.full ?? (await run(bars));

  let firstBadBar: BadBar | undefined;
  let cutsChecked = 0;
  let prefixCuts = 0;
  let windowsChecked = 0;
  let lastError: unknown;
  let planned = 0;

  /** The exact test: signals on [0, cut) against the full signals. False if the strategy threw. */
  const prefixCheck = async (cut: number): Promise<boolean> => {
    let prefix: Signals;
    try {
      prefix = await run(sliceBars(bars, 0, cut));
    } catch (err) {
      // An honest strategy may refuse a short history; a cut it cannot run on proves nothing.
      lastError = err;
      return false;
    }
    cutsChecked++;
    prefixCuts++;
    const d = firstDiff(full, 0, prefix, 0, cut, 0);
    if (d) firstBadBar = { ...d, time: bars.time[d.index] as number, cut };
    return true;
  };

  const span = n - minPrefix; // cuts live in [minPrefix, n - 1]
  const items = span > 0 ? activeCuts(full, minPrefix - 1, n - 1) : new Int32Array(0);
  const activity = { items, size: items.length };
  // 1. The shortest prefix, exactly: it hides the most future, so whole-series statistics differ
  // most there. Moved to just after the first active bar nearby, where a one-bar peek shows.
  if (span > 0) {
    const first = items[0];
    const cut = first !== undefined && first <= Math.min(n - 1, 2 * minPrefix) ? first : minPrefix;
    planned++;
    await prefixCheck(cut);
    // Drop it from the pool (the first item, when used) so no later cut repeats it.
    if (cut === first) activity.items = items.subarray(1);
    activity.size = activity.items.length;
  }

  const warm = await warmup(opts, full, n, run);

  // 2. Random and activity-aligned cuts, then `windows` more aligned ones.
  const rand = prng(seed);
  const randomCuts: number[] = [];
  for (let k = 0; k < cuts && span > 0; k++) randomCuts.push(minPrefix + Math.floor(rand() * span));
  const alignedCuts = draw(activity, cuts, rand);
  const extra = draw(activity, Math.max(0, Math.floor(opts.windows ?? 16)), prng(seed ^ 0x9e3779b9));
  const history = 2 * warm.bars + 64;
  const paired = [...new Set([...randomCuts, ...alignedCuts])].sort((a, b) => a - b);
  planned += paired.length;
  for (const cut of paired) {
    if (firstBadBar) break;
    // Without a stable warm-up no window can stand in for the prefix.
    if (!warm.stable) await prefixCheck(cut);
    else await windowCheck(cut, true);
  }
  if (warm.stable)
    for (const cut of extra) {
      if (firstBadBar) break;
      await windowCheck(cut, false);
    }

  /**
   * A cut checked on the bars just before it, [from, cut) with from = cut − history − TAIL:
   * - with `pair`, also on [from, cut + EXTEND): both runs start at the same bar, so warm-up cannot
   *   tell them apart and any difference on [from, cut) is exact proof that signals there depend on
   *   later bars (the prefix test on the series that starts at `from`);
   * - the last TAIL bars against the full signals (targets within 1e-6 relative). That is only a
   *   screen — an underestimated warm-up also makes it differ — so a difference sends the cut to
   *   the exact prefix test [0, cut).
   */
  async function windowCheck(cut: number, pair: boolean): Promise<void> {
    const from = Math.max(0, cut - history - TAIL);
    if (from === 0) {
      await prefixCheck(cut);
      return;
    }
    let a: Signals;
    let b: Signals | undefined;
    try {
      a = await run(sliceBars(bars, from, cut));
      if (pair) b = await run(sliceBars(bars, from, Math.min(n, cut + EXTEND)));
    } catch (err) {
      lastError = err;
      return;
    }
    if (b) {
      const d = firstDiff(b, 0, a, 0, cut - from, 0);
      if (d) {
        // Look-ahead for certain; report it where the whole-data prefix shows it, if it does.
        await prefixCheck(cut);
        if (!firstBadBar)
          firstBadBar = { ...d, index: from + d.index, time: bars.time[from + d.index] as number, cut };
        return;
      }
    }
    const skip = history;
    if (firstDiff(full, from + skip, a, skip, cut - from - skip, WARMUP_TOLERANCE) !== null) {
      await prefixCheck(cut);
      return;
    }
    cutsChecked++;
    windowsChecked++;
  }

  // Refusing every prefix would otherwise dodge the check.
  const unchecked = planned > 0 && cutsChecked === 0;
  return {
    ok: !firstBadBar && !unchecked,
    lookahead: !!firstBadBar,
    ...(firstBadBar ? { firstBadBar } : {}),
    ...(unchecked
      ? {
          error: `the strategy failed on every prefix: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
        }
      : {}),
    warmupBars: warm.bars,
    warmupStable: warm.stable,
    cutsChecked,
    prefixCuts,
    windowsChecked,
    runs,
  };
}

/**
 * Where the warm-up is measured: a window ending at `end` that starts on a bar where the signals
 * are active (an event or a target change), holds at least WARMUP_EVENTS such bars and at least
 * `minWindow` bars (or as much as there is). A window starting with quiet bars, or holding one
 * event that happens to match, would pass with almost no history even for a strategy that needs
 * a lot of it.
 */
function warmupWindowStart(full: Signals, end: number, minWindow: number): number {
  let seen = 0;
  let lastActive = -1;
  for (let i = end - 1; i >= 1; i--) {
    if (!active(full, i)) continue;
    seen++;
    lastActive = i;
    if (seen >= WARMUP_EVENTS && end - i >= minWindow) return i;
  }
  return lastActive >= 0 ? lastActive : Math.max(0, end - minWindow);
}

/**
 * Event signals hide indicator differences (a cross matches as long as its side does), so one
 * window can match by luck with little history; the warm-up is the largest need over
 * WARMUP_WINDOWS windows ending at the end of the data and at ⅔ and ⅓ of it. Later windows start
 * their search from the need found so far, so they usually cost one run each.
 */
async function warmup(
  opts: LookaheadOptions,
  full: Signals,
  n: number,
  run: (b: Bars) => Promise<Signals>,
): Promise<{ bars: number; stable: boolean }> {
  const minWindow = Math.max(1, Math.floor(opts.warmupWindow ?? 200));
  const maxWarmup = Math.max(0, Math.floor(opts.maxWarmup ?? 2000));
  let need = 0;
  for (let k = 0; k < WARMUP_WINDOWS; k++) {
    const end = n - Math.floor((k * n) / WARMUP_WINDOWS);
    const start = warmupWindowStart(full, end, minWindow);
    if (k > 0 && start < Math.min(need, maxWarmup)) break; // too close to the data's start to say more
    const cap = Math.min(maxWarmup, start);
    const matches = async (h: number): Promise<boolean> => {
      if (h >= start) return true; // that slice is all the data before `end`
      try {
        const s = await run(sliceBars(opts.bars, start - h, end));
        return firstDiff(full, start, s, h, end - start, WARMUP_TOLERANCE) === null;
      } catch {
        return false; // too little history for the strategy to run counts as "needs more"
      }
    };
    if (await matches(need)) continue;
    let lo = need;
    let hi = Math.max(1, need * 2);
    while (hi < cap && !(await matches(hi))) {
      lo = hi;
      hi *= 2;
    }
    if (hi >= cap) {
      hi = cap;
      if (!(await matches(cap))) return { bars: cap, stable: false };
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (await matches(mid)) hi = mid;
      else lo = mid;
    }
    need = hi;
  }
  return { bars: need, stable: true };
}
