/**
 * Synthetic generation of 1M 1m bars and resampling them to 1h, each against a naive
 * object-per-bar implementation of the same work measured in the same run.
 */
import type { Bars } from "../src/domain/bars.ts";
import { createRandom } from "../src/market/prng.ts";
import { resampleBars } from "../src/market/resample.ts";
import { syntheticBars } from "../src/market/synthetic.ts";
import { medianMs, ratio } from "./timing.ts";

const N = 1_000_000;
const MIN = 60_000;

interface BarObject {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** The same model written the obvious way: one object per bar, pushed onto an array. */
function naiveSynthetic(n: number, seed: number): BarObject[] {
  const rng = createRandom(seed);
  const perYear = (365 * 86_400_000) / MIN;
  const drifts = [0.9 / perYear, -0.9 / perYear, 0];
  const scales = [0.9, 1.3, 0.7];
  const uncond = 0.36 / perYear;
  let variance = uncond;
  let regime = 0;
  let price = 30_000;
  const out: BarObject[] = [];
  for (let i = 0; i < n; i++) {
    if (rng.next() < MIN / (20 * 86_400_000)) regime = (regime + 1 + rng.int(2)) % 3;
    const sd = Math.sqrt(variance) * scales[regime]!;
    const shock = Math.sqrt(variance) * rng.studentT(4.5) * Math.sqrt(2.5 / 4.5);
    const r =
      drifts[regime]! + scales[regime]! * shock + (rng.next() < 12 / perYear ? 0.02 * rng.normal() : 0);
    const close = price * Math.exp(r);
    const up = 0.5 * (r + Math.sqrt(r * r - 2 * sd * sd * Math.log(1 - rng.next())));
    const down = 0.5 * (r - Math.sqrt(r * r - 2 * sd * sd * Math.log(1 - rng.next())));
    out.push({
      time: Date.UTC(2020, 0, 1) + i * MIN,
      open: price,
      high: Math.max(price * Math.exp(up), price, close),
      low: Math.min(price * Math.exp(down), price, close),
      close,
      volume: 20 * (1 + Math.abs(r) / sd) * Math.exp(0.4 * rng.normal()),
    });
    variance = Math.min(uncond * 0.02 + 0.06 * shock * shock + 0.92 * variance, 100 * uncond);
    price = close;
  }
  return out;
}

/** Group-by in a Map of bucket → bar objects, then aggregate each bucket. */
function naiveResample(bars: readonly BarObject[], targetMs: number): BarObject[] {
  const groups = new Map<number, BarObject[]>();
  for (const b of bars) {
    const key = Math.floor(b.time / targetMs) * targetMs;
    let g = groups.get(key);
    if (!g) {
      g = [];
      groups.set(key, g);
    }
    g.push(b);
  }
  const out: BarObject[] = [];
  for (const [time, g] of groups) {
    if (g.length < targetMs / MIN) continue;
    out.push({
      time,
      open: g[0]!.open,
      high: Math.max(...g.map((b) => b.high)),
      low: Math.min(...g.map((b) => b.low)),
      close: g[g.length - 1]!.close,
      volume: g.reduce((s, b) => s + b.volume, 0),
    });
  }
  return out;
}

function toObjects(b: Bars): BarObject[] {
  return Array.from(b.time, (time, i) => ({
    time,
    open: b.open[i]!,
    high: b.high[i]!,
    low: b.low[i]!,
    close: b.close[i]!,
    volume: b.volume[i]!,
  }));
}

/** Median CPU time (user + system) of `fn`: on a shared machine it moves less than wall time. */
function medianCpuMs(fn: () => unknown, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)] ?? Number.NaN;
}

export default async function bench(): Promise<void> {
  // Floor: allocating and writing the six output columns alone (page faults dominate on a VM).
  const floorMs = await medianMs(() => {
    for (let k = 0; k < 6; k++) new Float64Array(N).fill(k + 1);
  }, 5);
  const genMs = await medianMs(() => syntheticBars({ n: N, seed: 1 }), 5);
  const genCpuMs = medianCpuMs(() => syntheticBars({ n: N, seed: 1 }));
  const naiveGenMs = await medianMs(() => naiveSynthetic(N, 1), 3);
  console.log(
    `synthetic 1M 1m bars: ${genMs.toFixed(1)} ms wall, ${genCpuMs.toFixed(1)} ms CPU (naive object-per-bar ${naiveGenMs.toFixed(1)} ms, ${ratio(naiveGenMs, genMs)}; ` +
      `floor: allocating and filling the 6 output columns ${floorMs.toFixed(1)} ms)`,
  );

  const bars = syntheticBars({ n: N, seed: 2 });
  const objects = toObjects(bars);
  const resampleMs = await medianMs(() => resampleBars(bars, "1m", "1h"), 7);
  const naiveResampleMs = await medianMs(() => naiveResample(objects, 3_600_000), 3);
  console.log(
    `resample 1M 1m bars → 1h: ${resampleMs.toFixed(1)} ms (naive Map group-by ${naiveResampleMs.toFixed(1)} ms, ${ratio(naiveResampleMs, resampleMs)})`,
  );
  const dayMs = await medianMs(() => resampleBars(bars, "1m", "1d"), 7);
  const naiveDayMs = await medianMs(() => naiveResample(objects, 86_400_000), 3);
  console.log(
    `resample 1M 1m bars → 1d: ${dayMs.toFixed(1)} ms (naive ${naiveDayMs.toFixed(1)} ms, ${ratio(naiveDayMs, dayMs)})`,
  );
}
