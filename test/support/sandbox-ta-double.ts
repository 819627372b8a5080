/** A minimal stand-in for src/backtest/ta with the same shape, so sandbox tests pin their own indicators. */
function ema(values: Float64Array, period: number): Float64Array {
  const out = new Float64Array(values.length).fill(Number.NaN);
  const k = 2 / (period + 1);
  let prev = Number.NaN;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    prev = Number.isNaN(prev) ? v : prev + k * (v - prev);
    if (i >= period - 1) out[i] = prev;
  }
  return out;
}

function crossover(a: Float64Array, b: Float64Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 1; i < a.length; i++) {
    if ((a[i - 1] as number) <= (b[i - 1] as number) && (a[i] as number) > (b[i] as number)) out[i] = 1;
  }
  return out;
}

function crossunder(a: Float64Array, b: Float64Array): Uint8Array {
  return crossover(b, a);
}

export const ta = { ema, crossover, crossunder };
