/**
 * Batch `ta` indicators vs trading-signals streaming (`new X(n)` then `.add()` per bar) on 1M bars:
 * time per indicator, speed-up, geometric-mean speed-up (goal >= 10x), and a check that both give
 * the same values within 1e-9 relative after warm-up.
 */
import { cpus, loadavg } from "node:os";
import { ADX, ATR, BollingerBands, EMA, RSI, SMA, WSMA } from "trading-signals";
import { ta } from "../src/backtest/ta/index.ts";
import { medianMs, ratio } from "./timing.ts";

/**
 * Best-of-n CPU time (user + system) of the calling process. On a shared, oversubscribed machine
 * wall time mostly measures waiting for a core; CPU time does not, and noise only ever adds to it,
 * so the minimum is the steadiest estimate of the cost. The wall-clock median (bench/timing.ts)
 * is printed alongside.
 */
async function bestCpuMs(fn: () => unknown, runs: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1000);
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
  // trading-signals needs one object (or boxed number) per bar: 1M live candles make every major
  // GC slower, so each side is timed in its own phase with only its own inputs alive.
  let candles: { high: number; low: number; close: number }[] = [];
  let closes: number[] = [];

  // One hand-written loop per indicator: a shared `stream(ind)` helper would make the `.add` call
  // site megamorphic and slow trading-signals down, and the baseline should be its best case.
  const sma = () => {
    const ind = new SMA(20);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(closes[i]!) ?? Number.NaN;
    return out;
  };
  const ema = () => {
    const ind = new EMA(20);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const r = ind.add(closes[i]!);
      out[i] = ind.isStable && r !== null ? r : Number.NaN;
    }
    return out;
  };
  const rma = () => {
    const ind = new WSMA(14);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(closes[i]!) ?? Number.NaN;
    return out;
  };
  const rsi = () => {
    const ind = new RSI(14);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(closes[i]!) ?? Number.NaN;
    return out;
  };
  const bb = () => {
    const ind = new BollingerBands(20, 2);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(closes[i]!)?.upper ?? Number.NaN;
    return out;
  };
  const atr = () => {
    const ind = new ATR(14);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(candles[i]!) ?? Number.NaN;
    return out;
  };
  const adx = () => {
    const ind = new ADX(14);
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ind.add(candles[i]!) ?? Number.NaN;
    return out;
  };

  const cases: Case[] = [
    { name: "SMA(20)", ours: () => ta.sma(m.close, 20), theirs: sma },
    { name: "EMA(20)", ours: () => ta.ema(m.close, 20), theirs: ema },
    { name: "RMA(14)", ours: () => ta.rma(m.close, 14), theirs: rma },
    { name: "RSI(14)", ours: () => ta.rsi(m.close, 14), theirs: rsi },
    { name: "Bollinger(20,2) upper", ours: () => ta.bbands(m.close, 20, 2).upper, theirs: bb },
    { name: "ATR(14)", ours: () => ta.atr(m.high, m.low, m.close, 14), theirs: atr },
    { name: "ADX(14)", ours: () => ta.adx(m.high, m.low, m.close, 14).adx, theirs: adx },
  ];

  // One untimed pass over every case first, so no case pays for the JIT warming shared helpers.
  for (const x of cases) x.ours();
  const ours = [];
  for (const x of cases) {
    ours.push({ out: x.ours(), cpu: await bestCpuMs(x.ours, 9), wall: await medianMs(x.ours, 5, 0) });
  }
  candles = Array.from(m.close, (close, i) => ({ high: m.high[i]!, low: m.low[i]!, close }));
  closes = Array.from(m.close);

  console.log(`${N.toLocaleString("en-US")} bars; ta batch vs trading-signals streaming (.add per bar)`);
  console.log(
    `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; times are best-of-n CPU ms`,
  );
  console.log(
    "indicator               ta (ms)  trading-signals (ms)  speed-up  wall-median speed-up  max rel diff",
  );
  for (const x of cases) x.theirs();
  const speedups: number[] = [];
  const medianSpeedups: number[] = [];
  for (const [i, x] of cases.entries()) {
    const o = ours[i]!;
    const diff = maxRelDiff(o.out, x.theirs());
    const theirsMs = await bestCpuMs(x.theirs, 5);
    const theirsMedian = await medianMs(x.theirs, 3, 0);
    speedups.push(theirsMs / o.cpu);
    medianSpeedups.push(theirsMedian / o.wall);
    const ok = diff <= 1e-9 ? "" : "  MISMATCH";
    console.log(
      `${x.name.padEnd(22)} ${o.cpu.toFixed(1).padStart(8)} ${theirsMs.toFixed(1).padStart(21)} ${ratio(theirsMs, o.cpu).padStart(9)} ${ratio(theirsMedian, o.wall).padStart(20)}  ${diff.toExponential(1)}${ok}`,
    );
  }
  const geo = (xs: number[]) => Math.exp(xs.reduce((s, v) => s + Math.log(v), 0) / xs.length);
  console.log(
    `geometric-mean speed-up: ${geo(speedups).toFixed(1)}x best-of-n CPU, ${geo(medianSpeedups).toFixed(1)}x wall median (goal >= 10x)`,
  );
}
