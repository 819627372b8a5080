import { checkInt, checkSameLength, type Series, toF64 } from "./series.ts";
import { wilderInto } from "./smoothing.ts";
import { trueRangeInto } from "./true-range.ts";

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
 * DX = 100·|+DI − −DI| / (+DI + −DI) (0 when both are 0), ADX = RMA(DX).
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
  const tr = new Float64Array(n);
  trueRangeInto(h, l, c, tr);
  const plusDm = new Float64Array(n);
  const minusDm = new Float64Array(n);
  let prevHigh = Number.NaN;
  let prevLow = Number.NaN;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(tr[i]!)) {
      plusDm[i] = Number.NaN;
      minusDm[i] = Number.NaN;
      continue;
    }
    if (Number.isNaN(prevHigh)) {
      plusDm[i] = 0;
      minusDm[i] = 0;
    } else {
      const up = h[i]! - prevHigh;
      const down = prevLow - l[i]!;
      plusDm[i] = up < 0 || up < down ? 0 : up;
      minusDm[i] = down < 0 || down < up ? 0 : down;
    }
    prevHigh = h[i]!;
    prevLow = l[i]!;
  }
  const atrLine = new Float64Array(n);
  wilderInto(tr, period, atrLine);
  const plusSmooth = new Float64Array(n);
  wilderInto(plusDm, period, plusSmooth);
  const minusSmooth = new Float64Array(n);
  wilderInto(minusDm, period, minusSmooth);
  const plusDi = new Float64Array(n);
  const minusDi = new Float64Array(n);
  const dx = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = atrLine[i]!;
    if (Number.isNaN(a)) {
      plusDi[i] = Number.NaN;
      minusDi[i] = Number.NaN;
      dx[i] = Number.NaN;
      continue;
    }
    // A zero ATR (flat bars) has no direction: report 0 rather than 0/0.
    const pdi = a === 0 ? 0 : plusSmooth[i]! / a;
    const mdi = a === 0 ? 0 : minusSmooth[i]! / a;
    plusDi[i] = pdi * 100;
    minusDi[i] = mdi * 100;
    const sum = pdi + mdi;
    dx[i] = sum === 0 ? 0 : (Math.abs(pdi - mdi) / sum) * 100;
  }
  const adxLine = new Float64Array(n);
  wilderInto(dx, period, adxLine);
  return { adx: adxLine, plusDi, minusDi };
}
