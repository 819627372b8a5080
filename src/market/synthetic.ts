/**
 * Synthetic OHLCV bars with the stylised facts of crypto prices, for tests, benchmarks and demos
 * that must not depend on downloaded data. Seeded and deterministic: the same options give the same
 * arrays on every machine.
 *
 * Per bar, in log-price terms:
 *   r_t = mu(regime_t) + scale(regime_t) * sigma_t * z_t + jump_t
 * - regime_t: a Markov chain over bull / bear / sideways, each with its own drift and volatility scale;
 * - sigma_t^2 = omega + alpha * e_{t-1}^2 + beta * sigma_{t-1}^2 (GARCH(1,1)): volatility clusters;
 * - z_t: Student-t scaled to unit variance: fat tails;
 * - jump_t: rare normal jumps (a Bernoulli draw per bar).
 * High and low come from the exact distribution of the maximum and minimum of a Brownian bridge
 * from open to close, so they always enclose open and close and widen with volatility. Volume
 * rises with volatility and with |r_t|. Each bar opens at the previous close unless `openGap` > 0.
 */
import type { Bars } from "../domain/bars.ts";
import { type Timeframe, timeframeMs } from "../domain/timeframe.ts";
import { createRandom, type Seed } from "./prng.ts";

export const REGIMES = ["bull", "bear", "sideways"] as const;
export type Regime = (typeof REGIMES)[number];

export interface RegimeParams {
  /** Annualised log drift, e.g. 0.8 = +80 %/year in log terms. */
  readonly drift: number;
  /** Multiplies the GARCH volatility while the regime lasts. */
  readonly volScale: number;
}

export interface SyntheticOptions {
  readonly n: number;
  /** Default "1m". */
  readonly timeframe?: Timeframe;
  /** Open time of the first bar, ms UTC or an ISO date; must be on the timeframe grid. Default 2020-01-01. */
  readonly start?: number | string;
  /** Default 1. */
  readonly seed?: Seed;
  /** Default 30 000. */
  readonly startPrice?: number;
  /** Long-run annualised volatility of the GARCH part. Default 0.6. */
  readonly annualVol?: number;
  /** Default: bull +0.9/yr ×0.9 vol, bear −0.9/yr ×1.3 vol, sideways 0 ×0.7 vol. */
  readonly regimes?: Readonly<Record<Regime, RegimeParams>>;
  /** Mean time spent in one regime, in days. Default 20. */
  readonly meanRegimeDays?: number;
  /** GARCH(1,1) shock and persistence weights; alpha + beta < 1. Default 0.06 and 0.92. */
  readonly garchAlpha?: number;
  readonly garchBeta?: number;
  /** Student-t degrees of freedom of the innovations (> 2). Default 4.5. */
  readonly tailDf?: number;
  /** Expected jumps per year and their standard deviation (log). Default 12 and 0.02. */
  readonly jumpsPerYear?: number;
  readonly jumpStd?: number;
  /** Mean volume of a bar. Default 20 per minute of bar length. */
  readonly baseVolume?: number;
  /** Std of the log gap between a bar's open and the previous close. Default 0 (open = previous close). */
  readonly openGap?: number;
}

export interface SyntheticMarket {
  readonly bars: Bars;
  /** Index into `REGIMES` per bar: the regime that generated it. */
  readonly regime: Uint8Array;
}

const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;

const DEFAULT_REGIMES: Readonly<Record<Regime, RegimeParams>> = {
  bull: { drift: 0.9, volScale: 0.9 },
  bear: { drift: -0.9, volScale: 1.3 },
  sideways: { drift: 0, volScale: 0.7 },
};

function resolveStart(start: number | string | undefined, stepMs: number): number {
  const t =
    start === undefined ? Date.UTC(2020, 0, 1) : typeof start === "number" ? start : Date.parse(start);
  if (!Number.isFinite(t)) throw new Error(`synthetic start is not a valid time: ${String(start)}`);
  if (t % stepMs !== 0)
    throw new Error(`synthetic start ${new Date(t).toISOString()} is not on the ${stepMs} ms grid`);
  return t;
}

/** Bars plus the regime that produced each, for tests that check the regime structure. */
export function generateSynthetic(options: SyntheticOptions): SyntheticMarket {
  const n = options.n;
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`n must be a whole number >= 0, got ${n}`);
  const stepMs = timeframeMs(options.timeframe ?? "1m");
  const t0 = resolveStart(options.start, stepMs);
  const rng = createRandom(options.seed ?? 1);
  const barsPerYear = YEAR_MS / stepMs;
  const alpha = options.garchAlpha ?? 0.06;
  const beta = options.garchBeta ?? 0.92;
  if (!(alpha >= 0 && beta >= 0 && alpha + beta < 1)) {
    throw new Error(`GARCH needs alpha, beta >= 0 and alpha + beta < 1 (got ${alpha}, ${beta})`);
  }
  const df = options.tailDf ?? 4.5;
  if (!(df > 2)) throw new Error(`tailDf must be > 2 so returns have a variance, got ${df}`);
  const annualVol = options.annualVol ?? 0.6;
  const regimes = options.regimes ?? DEFAULT_REGIMES;
  const drift = REGIMES.map((r) => regimes[r].drift / barsPerYear);
  const volScale = REGIMES.map((r) => regimes[r].volScale);
  for (const r of REGIMES) {
    const { drift: d, volScale: v } = regimes[r];
    if (!(Number.isFinite(d) && v > 0 && Number.isFinite(v))) {
      throw new Error(`regime ${r} needs a finite drift and a positive volScale, got ${d} and ${v}`);
    }
  }
  const jumpProb = Math.min(1, (options.jumpsPerYear ?? 12) / barsPerYear);
  const jumpStd = options.jumpStd ?? 0.02;
  const baseVolume = options.baseVolume ?? 20 * (stepMs / 60_000);
  const openGap = options.openGap ?? 0;
  const meanRegimeDays = options.meanRegimeDays ?? 20;
  for (const [name, v] of [
    ["annualVol", annualVol],
    ["meanRegimeDays", meanRegimeDays],
    ["baseVolume", baseVolume],
  ] as const) {
    if (!(v > 0 && Number.isFinite(v))) throw new Error(`${name} must be a positive number, got ${v}`);
  }
  for (const [name, v] of [
    ["jumpStd", jumpStd],
    ["openGap", openGap],
    ["jumpsPerYear", options.jumpsPerYear ?? 12],
  ] as const) {
    if (!(v >= 0 && Number.isFinite(v))) throw new Error(`${name} must be a number >= 0, got ${v}`);
  }

  const switchProb = Math.min(1, stepMs / (meanRegimeDays * DAY_MS));
  const uncondVar = (annualVol * annualVol) / barsPerYear;
  const uncondSd = Math.sqrt(uncondVar);
  const omega = uncondVar * (1 - alpha - beta);
  // A cap on the conditional variance keeps a freak run of shocks from producing absurd bars.
  const maxVar = 100 * uncondVar;
  const tScale = Math.sqrt((df - 2) / df);

  const time = new Float64Array(n);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  const regimeOf = new Uint8Array(n);

  let regime = rng.int(3);
  let variance = uncondVar;
  let prevClose = options.startPrice ?? 30_000;
  if (!(prevClose > 0)) throw new Error(`startPrice must be > 0, got ${prevClose}`);

  // Random numbers are drawn in blocks (see Random.fillUniform) and every bar consumes the same
  // draws: rare events (regime switch, jump) are branch-free selects, because a branch first taken
  // after 30 000 bars would deoptimise the loop back to the interpreter.
  const block = Math.min(n, 4096);
  const uni = new Float64Array(5 * block);
  const gauss = new Float64Array((openGap > 0 ? 3 : 2) * block);
  const tDraws = new Float64Array(block);
  let t = t0;
  for (let start = 0; start < n; start += block) {
    const m = Math.min(block, n - start);
    rng.fillUniform(uni);
    rng.fillNormal(gauss);
    rng.fillStudentT(tDraws, df);
    for (let j = 0; j < m; j++) {
      const i = start + j;
      const u = 5 * j;
      const uSwitch = uni[u] as number;
      const uWhich = uni[u + 1] as number;
      regime = (regime + (uSwitch < switchProb ? (uWhich < 0.5 ? 1 : 2) : 0)) % 3;
      const sigma = Math.sqrt(variance);
      const scale = volScale[regime] as number;
      const sd = sigma * scale;
      const shock = sigma * (tDraws[j] as number) * tScale;
      const jump = jumpStd * (gauss[2 * j] as number);
      const r =
        (drift[regime] as number) -
        0.5 * sd * sd +
        scale * shock +
        ((uni[u + 2] as number) < jumpProb ? jump : 0);

      const o = openGap > 0 ? prevClose * Math.exp(openGap * (gauss[2 * block + j] as number)) : prevClose;
      const c = o * Math.exp(r);
      // Max and min of a Brownian bridge from 0 to r with variance sd^2 over the bar:
      // P(max > m) = exp(-2 m (m - r) / sd^2), sampled by inversion.
      const r2 = r * r;
      const twoVar = 2 * sd * sd;
      const up = 0.5 * (r + Math.sqrt(r2 - twoVar * Math.log(1 - (uni[u + 3] as number))));
      const down = 0.5 * (r - Math.sqrt(r2 - twoVar * Math.log(1 - (uni[u + 4] as number))));

      time[i] = t;
      open[i] = o;
      close[i] = c;
      // max/min also absorb exp rounding that could put high a hair under open or close.
      high[i] = Math.max(o * Math.exp(up), o, c);
      low[i] = Math.min(o * Math.exp(down), o, c);
      const activity = sd / uncondSd;
      volume[i] =
        baseVolume *
        activity *
        (0.4 + (0.75 * Math.abs(r)) / sd) *
        Math.exp(0.4 * (gauss[2 * j + 1] as number) - 0.08);
      regimeOf[i] = regime;

      const next = omega + alpha * shock * shock + beta * variance;
      variance = Math.min(next, maxVar);
      prevClose = c;
      t += stepMs;
    }
  }
  return { bars: { time, open, high, low, close, volume }, regime: regimeOf };
}

/** Synthetic bars; see `generateSynthetic` for the model. */
export function syntheticBars(options: SyntheticOptions): Bars {
  return generateSynthetic(options).bars;
}
