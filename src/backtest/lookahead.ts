/**
 * Look-ahead check for a strategy's signal function. Pure apart from calling `signalsFor`.
 *
 * Prefix invariance: a signal at bar i may only depend on bars 0..i, so computing the signals on
 * bars [0, cut) must reproduce the full-data signals on [0, cut) exactly. Cut points (seeded):
 *   - `minPrefix`: the shortest prefix hides the most future, so whole-series statistics
 *     (max, mean, std) differ most there;
 *   - `cuts` random points in [minPrefix, n);
 *   - `cuts` points right after bars where the full signals are active (an event fires or the
 *     target changes): a one-bar peek only shows at the last bars before a cut, and event arrays
 *     are 0 on most bars, so aligned cuts are what make it visible;
 *   - `windows` more aligned cuts, run cheaply on [cut − (2·warm-up + 64 + 32), cut) once the
 *     warm-up is known and compared on the last 32 bars (targets within 1e-6 relative). A window
 *     is only a screen: when one differs, the full prefix [0, cut) is run and compared exactly, so
 *     an underestimated warm-up can never turn into a false verdict.
 * This catches reading close[i+1], reversed arrays, centred windows, normalising by the whole
 * series' max/mean/std, and a target shifted back a bar to fake a same-bar fill (target[t] using
 * close[t] is legitimate — the simulator fills it at t+1's open — but target[t] computed from bar
 * t+1 is the cheat, and its prefix differs at cut − 1). A cut the strategy throws on is skipped;
 * throwing on every prefix fails the check. Limit: a peek is visible only if what it reads lies
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
  /** Shortest prefix handed to the strategy. Default max(2, 10 % of the bars). */
  minPrefix?: number;
  /** Bars in the warm-up evaluation window (widened until it holds some activity). Default 200. */
  warmupWindow?: number;
  /** Largest history the warm-up search tries. Default 2000. */
  maxWarmup?: number;
  /** Activity-aligned windowed cuts checked once the warm-up is known. Default 16. */
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
  /** Prefix cuts checked ([0, cut) runs). */
  cutsChecked: number;
  /** Windowed cuts checked ([cut − history, cut) runs, after the warm-up is known). */
  windowsChecked: number;
  /** Calls of signalsFor made. */
  runs: number;
}

const EVENT_KEYS = ["enterLong", "exitLong", "enterShort", "exitShort"] as const;
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

function pickCuts(full: Signals, n: number, minPrefix: number, cuts: number, seed: number): number[] {
  const rand = prng(seed);
  const chosen = new Set<number>();
  const span = n - minPrefix; // cuts live in [minPrefix, n - 1]
  if (span <= 0) return [];
  // The shortest prefix hides the most future, so whole-series statistics differ most there.
  chosen.add(minPrefix);
  for (let k = 0; k < cuts; k++) chosen.add(minPrefix + Math.floor(rand() * span));
  const candidates: number[] = [];
  for (let i = minPrefix - 1; i <= n - 2; i++) if (i >= 0 && active(full, i)) candidates.push(i + 1);
  for (let k = 0; k < cuts && candidates.length > 0; k++) {
    const j = Math.floor(rand() * candidates.length);
    chosen.add(candidates[j] as number);
    candidates[j] = candidates[candidates.length - 1] as number;
    candidates.pop();
  }
  return [...chosen].sort((a, b) => a - b);
}

export async function checkLookahead(opts: LookaheadOptions): Promise<LookaheadReport> {
  const { bars, signalsFor } = opts;
  const n = bars.time.length;
  const cuts = Math.max(0, Math.floor(opts.cuts ?? 3));
  const seed = opts.seed ?? 1;
  const minPrefix = Math.max(1, Math.floor(opts.minPrefix ?? Math.max(2, n / 10)));
  let runs = 0;
  const run = async (b: Bars): Promise<Signals> => {
    runs++;
    return await signalsFor(b);
  };
  const full = opts.full ?? (await run(bars));

  let firstBadBar: BadBar | undefined;
  let cutsChecked = 0;
  let lastError: unknown;
  const cutPoints = pickCuts(full, n, minPrefix, cuts, seed);
  for (const cut of cutPoints) {
    let prefix: Signals;
    try {
      prefix = await run(sliceBars(bars, 0, cut));
    } catch (err) {
      // An honest strategy may refuse a short history; a cut it cannot run on proves nothing.
      lastError = err;
      continue;
    }
    cutsChecked++;
    const d = firstDiff(full, 0, prefix, 0, cut, 0);
    if (d) {
      firstBadBar = { ...d, time: bars.time[d.index] as number, cut };
      break;
    }
  }

  const warm = await warmup(opts, full, n, run);

  // Windowed cuts: with the warm-up known, a cut only needs the bars just before it, so many
  // activity-aligned cuts cost little. History before the compared stretch is twice the warm-up
  // plus a margin, so converging indicators (EMA, Wilder) are far inside the tolerance.
  let windowsChecked = 0;
  if (!firstBadBar && warm.stable) {
    const history = 2 * warm.bars + 64;
    const tail = 32;
    const used = new Set(cutPoints);
    const candidates: number[] = [];
    for (let i = minPrefix - 1; i <= n - 2; i++)
      if (i >= 0 && active(full, i) && !used.has(i + 1)) candidates.push(i + 1);
    const rand = prng(seed ^ 0x9e3779b9);
    const windows = Math.max(0, Math.floor(opts.windows ?? 16));
    for (let k = 0; k < windows && candidates.length > 0 && !firstBadBar; k++) {
      const j = Math.floor(rand() * candidates.length);
      const cut = candidates[j] as number;
      candidates[j] = candidates[candidates.length - 1] as number;
      candidates.pop();
      const from = Math.max(0, cut - history - tail);
      const skip = from > 0 ? history : 0;
      let sig: Signals;
      try {
        sig = await run(sliceBars(bars, from, cut));
      } catch {
        continue;
      }
      windowsChecked++;
      if (firstDiff(full, from + skip, sig, skip, cut - from - skip, WARMUP_TOLERANCE) === null) continue;
      // A window is only a screen (an underestimated warm-up also makes it differ): the verdict
      // comes from the exact prefix comparison at the same cut.
      let prefix: Signals;
      try {
        prefix = await run(sliceBars(bars, 0, cut));
      } catch {
        continue;
      }
      cutsChecked++;
      const d = firstDiff(full, 0, prefix, 0, cut, 0);
      if (d) firstBadBar = { ...d, time: bars.time[d.index] as number, cut };
    }
  }

  // Refusing every prefix would otherwise dodge the check.
  const unchecked = cutPoints.length > 0 && cutsChecked === 0;
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
