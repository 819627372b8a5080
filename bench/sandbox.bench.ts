/**
 * The strategy sandbox on 1M bars: EMA-cross signals computed inside isolated-vm against the same
 * signals computed directly in the host (the baseline), plus what a candidate costs before its
 * first call (context setup) and the two ways of copying a bar column into the isolate.
 */
import ivm from "isolated-vm";
import { Sandbox } from "../src/backtest/sandbox/index.ts";
import { ta } from "../src/backtest/ta/index.ts";
import { sliceBars } from "../src/domain/bars.ts";
import { EMA_CROSS, syntheticBars } from "../test/support/sandbox-fixtures.ts";
import { medianMs, ratio } from "./timing.ts";

const N = 1_000_000;

/** Median process CPU time (all threads, so the isolate's too) of `fn`, in ms: steadier than wall time on a busy VM. */
async function medianCpuMs(fn: () => unknown, runs = 7): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

export default async function sandboxBench(): Promise<void> {
  const bars = syntheticBars(N, 11);
  const sandbox = new Sandbox();
  try {
    const loaded = await sandbox.load(EMA_CROSS);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const handle = loaded.handle;
    const params = { fast: 12, slow: 26 };

    const host = await medianMs(() => {
      const f = ta.ema(bars.close, params.fast);
      const s = ta.ema(bars.close, params.slow);
      return [ta.crossover(f, s), ta.crossunder(f, s)];
    }, 7);
    let transfer = 0;
    let run = 0;
    const sandboxed = await medianMs(async () => {
      const r = await handle.signals(bars, params);
      if (!r.ok) throw new Error(r.error.message);
      transfer = r.timings.transferMs;
      run = r.timings.runMs;
    }, 7);
    const hostCpu = await medianCpuMs(() => {
      const f = ta.ema(bars.close, params.fast);
      const s = ta.ema(bars.close, params.slow);
      return [ta.crossover(f, s), ta.crossunder(f, s)];
    });
    const sandboxCpu = await medianCpuMs(() => handle.signals(bars, params));
    console.log(`EMA cross on ${N.toLocaleString("en")} bars`);
    console.log(
      `  CPU time: host ${hostCpu.toFixed(1)} ms, sandboxed ${sandboxCpu.toFixed(1)} ms  → ${ratio(hostCpu, sandboxCpu)} of host speed`,
    );
    console.log(`  host (baseline)        ${host.toFixed(1)} ms`);
    console.log(
      `  sandboxed signals      ${sandboxed.toFixed(1)} ms  (last: transfer ${transfer.toFixed(1)} ms, call+copy-out ${run.toFixed(1)} ms)  → ${ratio(host, sandboxed)} of host speed`,
    );

    // Twelve folds of the same candidate through one handle: the per-window cost the loop pays.
    const folds = Array.from({ length: 12 }, (_, i) => sliceBars(bars, (i * N) / 12, ((i + 1) * N) / 12));
    const hostFolds = await medianMs(() => {
      for (const fold of folds) {
        const f = ta.ema(fold.close, 12);
        const s = ta.ema(fold.close, 26);
        ta.crossover(f, s);
        ta.crossunder(f, s);
      }
    });
    const sandboxFolds = await medianMs(async () => {
      for (const fold of folds) await handle.signals(fold, params);
    });
    console.log(
      `  12 folds (83k bars each): host ${hostFolds.toFixed(1)} ms, sandboxed ${sandboxFolds.toFixed(1)} ms  → ${ratio(hostFolds, sandboxFolds)}`,
    );
    handle.dispose();

    const compiled = await sandbox.compile(EMA_CROSS);
    if (!compiled.ok) throw new Error(compiled.error.message);
    const setup = await medianMs(
      async () => {
        const l = await sandbox.load(compiled.compiled);
        if (l.ok) l.handle.dispose();
      },
      15,
      3,
    );
    const compile = await medianMs(async () => {
      // A fresh source each time so the compile cache does not answer.
      await sandbox.compile(`${EMA_CROSS}\n// ${Math.random()}`);
    }, 7);
    console.log(`  context setup per candidate (ta bundle + lockdown + module) ${setup.toFixed(1)} ms`);
    console.log(`  esbuild compile of a new strategy ${compile.toFixed(1)} ms`);

    // Copying one 1M column in: as a Float64Array (serialised), its ArrayBuffer (two memcpys), or a
    // host slice whose ownership moves in (one memcpy; what the sandbox does). CPU time.
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    const context = await isolate.createContext();
    const byteLength = (await context.eval("(function (x) { return x.byteLength; })", {
      reference: true,
    })) as ivm.Reference;
    const asTyped = await medianCpuMs(() =>
      byteLength.apply(undefined, [new ivm.ExternalCopy(bars.close).copyInto({ release: true })]),
    );
    const asBuffer = await medianCpuMs(() =>
      byteLength.apply(undefined, [new ivm.ExternalCopy(bars.close.buffer).copyInto({ release: true })]),
    );
    const moved = await medianCpuMs(() =>
      byteLength.apply(undefined, [
        new ivm.ExternalCopy(bars.close.slice().buffer, { transferOut: true }).copyInto({
          release: true,
          transferIn: true,
        }),
      ]),
    );
    console.log(
      `  one 1M column in (CPU): ExternalCopy(Float64Array) ${asTyped.toFixed(1)} ms, ExternalCopy(ArrayBuffer) ${asBuffer.toFixed(1)} ms, slice + transfer ${moved.toFixed(1)} ms  → ${ratio(asTyped, moved)} vs typed array`,
    );
    context.release();
    isolate.dispose();
  } finally {
    sandbox.dispose();
  }
}
