/**
 * Rolling maximum / minimum in O(1) amortised per bar with a monotonic deque of indices held in
 * a ring buffer of `period` slots. A window holding any non-finite value yields NaN.
 */

function rollingExtremeInto(src: Float64Array, period: number, out: Float64Array, max: boolean): void {
  const n = src.length;
  const ring = new Int32Array(period);
  let head = 0; // ring position of the front (oldest, extreme) index
  let size = 0;
  let lastBad = -period - 1;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if (x - x === 0) {
      // Drop every queued value the new one dominates; ties keep the newer index (lives longer).
      while (size > 0) {
        const back = src[ring[(head + size - 1) % period]!]!;
        if (max ? back <= x : back >= x) size--;
        else break;
      }
      if (size === period) {
        head = (head + 1) % period;
        size--;
      }
      ring[(head + size) % period] = i;
      size++;
    } else {
      lastBad = i;
    }
    while (size > 0 && ring[head]! <= i - period) {
      head = (head + 1) % period;
      size--;
    }
    out[i] = i >= period - 1 && lastBad <= i - period && size > 0 ? src[ring[head]!]! : Number.NaN;
  }
}

/** out[i] = max of src[i-period+1..i]; NaN in warm-up or when the window holds a non-finite value. */
export function rollingMaxInto(src: Float64Array, period: number, out: Float64Array): void {
  rollingExtremeInto(src, period, out, true);
}

/** out[i] = min of src[i-period+1..i]; NaN in warm-up or when the window holds a non-finite value. */
export function rollingMinInto(src: Float64Array, period: number, out: Float64Array): void {
  rollingExtremeInto(src, period, out, false);
}
