/**
 * `ta`: vectorised technical indicators over Float64Array columns. Every function takes whole
 * series and returns new arrays of the same length, NaN during warm-up, computed in one O(n)
 * pass (cci and percentRank are O(n·period)). Output at bar i depends only on inputs 0..i.
 * This module is also bundled into the strategy sandbox: pure ECMAScript, no imports at run time.
 */
import { adx } from "./adx.ts";
import { atr } from "./atr.ts";
import { bbands } from "./bbands.ts";
import { cci } from "./cci.ts";
import { correlation } from "./correlation.ts";
import { crossover } from "./crossover.ts";
import { crossunder } from "./crossunder.ts";
import { dema } from "./dema.ts";
import { donchian } from "./donchian.ts";
import { ema } from "./ema.ts";
import { highest } from "./highest.ts";
import { keltner } from "./keltner.ts";
import { logReturns } from "./log-returns.ts";
import { lowest } from "./lowest.ts";
import { macd } from "./macd.ts";
import { mom } from "./mom.ts";
import { natr } from "./natr.ts";
import { obv } from "./obv.ts";
import { percentRank } from "./percent-rank.ts";
import { realizedVol } from "./realized-vol.ts";
import { returns } from "./returns.ts";
import { rma } from "./rma.ts";
import { roc } from "./roc.ts";
import { rsi } from "./rsi.ts";
import { shift } from "./shift.ts";
import { sma } from "./sma.ts";
import { stdev } from "./stdev.ts";
import { stoch } from "./stoch.ts";
import { stochRsi } from "./stoch-rsi.ts";
import { supertrend } from "./supertrend.ts";
import { tema } from "./tema.ts";
import { vwap } from "./vwap.ts";
import { williamsR } from "./williams-r.ts";
import { wma } from "./wma.ts";
import { zscore } from "./zscore.ts";

export type { AdxResult } from "./adx.ts";
export type { BandsResult } from "./bbands.ts";
export type { MacdResult } from "./macd.ts";
export type { Series } from "./series.ts";
export type { StochResult } from "./stoch.ts";
export type { StochRsiResult } from "./stoch-rsi.ts";
export type { SupertrendResult } from "./supertrend.ts";
export {
  adx,
  atr,
  bbands,
  cci,
  correlation,
  crossover,
  crossunder,
  dema,
  donchian,
  ema,
  highest,
  keltner,
  logReturns,
  lowest,
  macd,
  mom,
  natr,
  obv,
  percentRank,
  realizedVol,
  returns,
  rma,
  roc,
  rsi,
  shift,
  sma,
  stdev,
  stoch,
  stochRsi,
  supertrend,
  tema,
  vwap,
  williamsR,
  wma,
  zscore,
};

/** Every indicator, as strategies see it (`ta.sma(bars.close, 20)`). */
export const ta = {
  // moving averages
  sma,
  ema,
  wma,
  rma,
  dema,
  tema,
  // momentum / oscillators
  rsi,
  macd,
  stoch,
  stochRsi,
  cci,
  roc,
  mom,
  williamsR,
  adx,
  // volatility / bands
  atr,
  natr,
  bbands,
  donchian,
  keltner,
  supertrend,
  stdev,
  realizedVol,
  // volume
  obv,
  vwap,
  // statistics and series tools
  zscore,
  highest,
  lowest,
  percentRank,
  correlation,
  returns,
  logReturns,
  shift,
  crossover,
  crossunder,
};

export type Ta = typeof ta;
