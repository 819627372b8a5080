/**
 * Batch `ta` indicators vs trading-signals streaming (`new X(n)` then `.add()` per bar) on 1M bars:
 * time per indicator, speed-up, geometric-mean speed-up (goal >= 10x), and a check that both give
 * the same values within 1e-9 relative after warm-up.
 */
import { ADX, ATR, BollingerBands, EMA, RSI, SMA, WSMA } from "trading-signals";
import { ta } from "../src/backtest/ta/index.ts";
import { medianMs, ratio } from "./timing.ts";

/**
 * Best-of-n wall time. On a shared, contended machine noise only ever adds time, so the minimum is
 * the steadiest estimate of the cost; the median (bench/timing.ts) is printed alongside.
 */
async function bestMs(fn: () => unknown, runs: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const N = 1_000_000;

function market(n: number) {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  let p = 30_000;
  for (let i = 0; i < n; i++) {
    const open = p;
    p *= 1 + (rnd() - 0.5) * 0.004;
    close[i] = p;
    high[i] = Math.max(open, p) * (1 + rnd() * 0.001);
    low[i] = Math.min(open, p) * (1 - rnd() * 0.001);
  }
  return { high, low, close };
}

interface Case {
  name: string;
  ours: () => Float64Array;
  theirs: () => Float64Array;
}

/** Max relative difference where both have a value; NaN if any position disagrees on having one. */
function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.NaN;
    if (Number.isNaN(x)) continue;
    worst = Math.max(worst, Math.abs(x - y) / Math.max(1, Math.abs(x), Math.abs(y)));
  }
  return worst;
}

export default async function indicatorsBench(): Promise<void> {
  const m = market(N);
  const candles = Array.from(m.close, (close, i) => ({ high: m.high[i]!, low: m.low[i]!, close }));
  const closes = Array.from(m.close);

  /** Streams inputs through a fresh trading-signals indicator; NaN until it is stable. */
  const stream = <In>(
    make: () => { add(x: In): unknown; isStable: boolean },
    inputs: In[],
    pick = (r: unknown) => r,
  ) => {
    const ind = make();
    const out = new Float64Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const r = ind.add(inputs[i]!);
      out[i] = ind.isStable ? (pick(r) as number) : Number.NaN;
    }
    return out;
  };

  const cases: Case[] = [
    { name: "SMA(20)", ours: () => ta.sma(m.close, 20), theirs: () => stream(() => new SMA(20), closes) },
    { name: "EMA(20)", ours: () => ta.ema(m.close, 20), theirs: () => stream(() => new EMA(20), closes) },
    { name: "RMA(14)", ours: () => ta.rma(m.close, 14), theirs: () => stream(() => new WSMA(14), closes) },
    { name: "RSI(14)", ours: () => ta.rsi(m.close, 14), theirs: () => stream(() => new RSI(14), closes) },
    {
      name: "Bollinger(20,2) upper",
      ours: () => ta.bbands(m.close, 20, 2).upper,
      theirs: () =>
        stream(
          () => new BollingerBands(20, 2),
          closes,
          (r) => (r as { upper: number }).upper,
        ),
    },
    {
      name: "ATR(14)",
      ours: () => ta.atr(m.high, m.low, m.close, 14),
      theirs: () => stream(() => new ATR(14), candles),
    },
    {
      name: "ADX(14)",
      ours: () => ta.adx(m.high, m.low, m.close, 14).adx,
      theirs: () => stream(() => new ADX(14), candles),
    },
  ];

  console.log(`${N.toLocaleString("en-US")} bars; ta batch vs trading-signals streaming (.add per bar)`);
  console.log(
    "indicator               ta (ms)  trading-signals (ms)  speed-up  median speed-up  max rel diff",
  );
  const speedups: number[] = [];
  const medianSpeedups: number[] = [];
  for (const c of cases) {
    const diff = maxRelDiff(c.ours(), c.theirs());
    const oursMs = await bestMs(c.ours, 9);
    const theirsMs = await bestMs(c.theirs, 5);
    const oursMedian = await medianMs(c.ours, 5, 0);
    const theirsMedian = await medianMs(c.theirs, 3, 0);
    speedups.push(theirsMs / oursMs);
    medianSpeedups.push(theirsMedian / oursMedian);
    const ok = diff <= 1e-9 ? "" : "  MISMATCH";
    console.log(
      `${c.name.padEnd(22)} ${oursMs.toFixed(1).padStart(8)} ${theirsMs.toFixed(1).padStart(21)} ${ratio(theirsMs, oursMs).padStart(9)} ${ratio(theirsMedian, oursMedian).padStart(15)}  ${diff.toExponential(1)}${ok}`,
    );
  }
  const geo = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  console.log(
    `geometric-mean speed-up: ${geo(speedups).toFixed(1)}x best-of-n, ${geo(medianSpeedups).toFixed(1)}x median (goal >= 10x)`,
  );
}
