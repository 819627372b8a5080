/** Median wall time of `fn` over `runs` runs after `warmup` untimed runs, in milliseconds. */
export async function medianMs(fn: () => unknown | Promise<unknown>, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

export function ratio(baselineMs: number, subjectMs: number): string {
  return `${(baselineMs / subjectMs).toFixed(2)}x`;
}
