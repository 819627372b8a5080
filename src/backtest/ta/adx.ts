import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";
import { trueRange } from "./true-range.ts";

/** Directional movement index: `adx` trend strength, `plusDi`/`minusDi` directional indicators, all 0..100. */
export interface AdxResult {
  adx: Float64Array;
  plusDi: Float64Array;
  minusDi: Float64Array;
}

/**
 * ADX / DMI (Wilder), trading-signals `ADX`/`DX` conventions: +DM and −DM (a move counts when it
 * is ≥ 0 and not smaller than the opposite move) and the true range are smoothed with Wilder's RMA,
 * the first bar contributing +DM = −DM = 0 and TR = high − low; +DI = 100·RMA(+DM)/ATR,
 * DX = 100·|+DI − −DI| / (+DI + −DI) (0 when both are 0; DIs are 0 when ATR is 0), ADX = RMA(DX).
 * Warm-up: plusDi/minusDi NaN for the first `period - 1` bars, adx for the first `2 * period - 2`.
 * NaN in: bars with a NaN input output NaN and are skipped.
 * Reference: https://www.investopedia.com/terms/a/adx.asp
 */
export function adx(high: Series, low: Series, close: Series, period = 14): AdxResult {
  checkInt("adx", "period", period);
  const n = checkSameLength("adx", high, low, close);
  const h = toF64(high);
  const l = toF64(low);
  const c = toF64(close);
  const adxLine = new Float64Array(n);
  const plusDi = new Float64Array(n);
  const minusDi = new Float64Array(n);
  // One fused pass: true range, directional moves, four Wilder smoothers. Each smoother is
  // seeded with the mean of its first `period` inputs, then avg + (x − avg) / period.
  const factor = 1 / period;
  let prevHigh = Number.NaN;
  let prevLow = 0;
  let prevClose = 0;
  let count = 0;
  let avgTr = 0;
  let avgPlus = 0;
  let avgMinus = 0;
  let dxCount = 0;
  let avgDx = 0;
  const state = new Float64Array(STATE_SIZE);
  for (let i = 0; i < n; i++) {
    if (dxCount >= period) {
      // Both warm-ups are done: the steady loop takes the bars it can (see adxSteady).
      state[PREV_HIGH] = prevHigh;
      state[PREV_LOW] = prevLow;
      state[PREV_CLOSE] = prevClose;
      state[AVG_TR] = avgTr;
      state[AVG_PLUS] = avgPlus;
      state[AVG_MINUS] = avgMinus;
      state[AVG_DX] = avgDx;
      const stop = adxSteady(h, l, c, adxLine, plusDi, minusDi, i, state, factor);
      if (stop > i) {
        prevHigh = state[PREV_HIGH]!;
        prevLow = state[PREV_LOW]!;
        prevClose = state[PREV_CLOSE]!;
        avgTr = state[AVG_TR]!;
        avgPlus = state[AVG_PLUS]!;
        avgMinus = state[AVG_MINUS]!;
        avgDx = state[AVG_DX]!;
        i = stop;
        if (i >= n) break;
      }
    }
    const hi = h[i]!;
    const lo = l[i]!;
    const cl = c[i]!;
    if (hi - hi !== 0 || lo - lo !== 0 || cl - cl !== 0) {
      adxLine[i] = Number.NaN;
      plusDi[i] = Number.NaN;
      minusDi[i] = Number.NaN;
      continue;
    }
    let tr: number;
    let plusDm = 0;
    let minusDm = 0;
    if (Number.isNaN(prevHigh)) {
      tr = hi - lo;
    } else {
      tr = trueRange(hi, lo, prevClose);
      const up = hi - prevHigh;
      const down = prevLow - lo;
      plusDm = directional(up, down);
      minusDm = directional(down, up);
    }
    prevHigh = hi;
    prevLow = lo;
    prevClose = cl;
    count++;
    if (count < period) {
      avgTr += tr;
      avgPlus += plusDm;
      avgMinus += minusDm;
      adxLine[i] = Number.NaN;
      plusDi[i] = Number.NaN;
      minusDi[i] = Number.NaN;
      continue;
    }
    if (count === period) {
      avgTr = (avgTr + tr) / period;
      avgPlus = (avgPlus + plusDm) / period;
      avgMinus = (avgMinus + minusDm) / period;
    } else {
      avgTr = wilderStep(avgTr, tr, factor);
      avgPlus = wilderStep(avgPlus, plusDm, factor);
      avgMinus = wilderStep(avgMinus, minusDm, factor);
    }
    const dx = writeDi(i, avgTr, avgPlus, avgMinus, plusDi, minusDi);
    dxCount++;
    if (dxCount < period) {
      avgDx += dx;
      adxLine[i] = Number.NaN;
    } else {
      avgDx = dxCount === period ? (avgDx + dx) / period : wilderStep(avgDx, dx, factor);
      adxLine[i] = avgDx;
    }
  }
  return { adx: adxLine, plusDi, minusDi };
}

/**
 * Wilder's +DM from this bar's up move and down move (−DM with the two swapped): the move if it
 * is positive and not smaller than the other, else 0. Branch-free, as which move is larger is a
 * coin flip: (|x| + x)·½ is exactly max(x, 0), and the comparison turned into 0 or 1 picks it or 0
 * (both ≥ 0, so no −0). Equal to `move < 0 || move < other ? 0 : move`.
 */
function directional(move: number, other: number): number {
  return (Math.abs(move) + move) * 0.5 * +(move >= other);
}

/** One step of Wilder's smoothing past its seed, in the form trading-signals uses. */
function wilderStep(avg: number, x: number, factor: number): number {
  return (x - avg) * factor + avg;
}

/**
 * Writes bar i's +DI and −DI and returns its DX. A zero ATR (flat bars) has no direction: 0 rather
 * than 0/0. Two divisions a bar, not three: the ATR cancels out of DX = |+DI − −DI| / (+DI + −DI)
 * (equal up to rounding).
 */
function writeDi(
  i: number,
  avgTr: number,
  avgPlus: number,
  avgMinus: number,
  plusDi: Float64Array,
  minusDi: Float64Array,
): number {
  const inv = avgTr === 0 ? 0 : 100 / avgTr;
  plusDi[i] = avgPlus * inv;
  minusDi[i] = avgMinus * inv;
  const sum = avgPlus + avgMinus;
  return sum === 0 || avgTr === 0 ? 0 : (Math.abs(avgPlus - avgMinus) / sum) * 100;
}

const PREV_HIGH = 0;
const PREV_LOW = 1;
const PREV_CLOSE = 2;
const AVG_TR = 3;
const AVG_PLUS = 4;
const AVG_MINUS = 5;
const AVG_DX = 6;
const STATE_SIZE = 7;

/**
 * adx past both warm-ups, over bars with finite inputs and high ≥ low, in a short function of its
 * own: the general loop's arithmetic, exactly, without its NaN and warm-up branches, and with the
 * true range as max(high, prevClose) − min(low, prevClose) (the same value when high ≥ low, and
 * predictable on real bars). The state comes and goes in a Float64Array: handed in as number
 * arguments, loop-carried values can stay boxed in V8's optimised code. Returns the first bar it
 * did not take.
 */
function adxSteady(
  h: Float64Array,
  l: Float64Array,
  c: Float64Array,
  adxLine: Float64Array,
  plusDi: Float64Array,
  minusDi: Float64Array,
  from: number,
  state: Float64Array,
  factor: number,
): number {
  const n = adxLine.length;
  let prevHigh = state[PREV_HIGH]!;
  let prevLow = state[PREV_LOW]!;
  let prevClose = state[PREV_CLOSE]!;
  let avgTr = state[AVG_TR]!;
  let avgPlus = state[AVG_PLUS]!;
  let avgMinus = state[AVG_MINUS]!;
  let avgDx = state[AVG_DX]!;
  let i = from;
  for (; i < n; i++) {
    const hi = h[i]!;
    const lo = l[i]!;
    const cl = c[i]!;
    if (hi - hi !== 0 || lo - lo !== 0 || cl - cl !== 0 || !(hi >= lo)) break;
    // biome-ignore lint/complexity/useMathMinMax: Math.max/min also order NaN and −0 (more branches).
    const top = prevClose > hi ? prevClose : hi;
    // biome-ignore lint/complexity/useMathMinMax: as above.
    const bottom = prevClose < lo ? prevClose : lo;
    const tr = top - bottom;
    const up = hi - prevHigh;
    const down = prevLow - lo;
    prevHigh = hi;
    prevLow = lo;
    prevClose = cl;
    avgTr = wilderStep(avgTr, tr, factor);
    avgPlus = wilderStep(avgPlus, directional(up, down), factor);
    avgMinus = wilderStep(avgMinus, directional(down, up), factor);
    avgDx = wilderStep(avgDx, writeDi(i, avgTr, avgPlus, avgMinus, plusDi, minusDi), factor);
    adxLine[i] = avgDx;
  }
  state[PREV_HIGH] = prevHigh;
  state[PREV_LOW] = prevLow;
  state[PREV_CLOSE] = prevClose;
  state[AVG_TR] = avgTr;
  state[AVG_PLUS] = avgPlus;
  state[AVG_MINUS] = avgMinus;
  state[AVG_DX] = avgDx;
  return i;
}
