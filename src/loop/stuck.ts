/**
 * Stuck detection (pure): a run is stuck when its best gate distance has not improved for K
 * iterations, or the last K iterations were all the same family. The loop asks the human for a
 * nudge once per stuck episode; progress (a new best, or a change of family) ends the episode.
 */
export interface StuckInput {
  /** Gate distance per iteration, oldest first (null for crashed iterations). */
  readonly distances: readonly (number | null)[];
  readonly families: readonly (string | null)[];
  readonly k: number;
}

export interface StuckVerdict {
  readonly stuck: boolean;
  readonly reason?: string;
}

/** Best distance so far and the iteration (1-based) that set it. */
export function bestDistance(distances: readonly (number | null)[]): {
  best: number | null;
  at: number | null;
} {
  let best: number | null = null;
  let at: number | null = null;
  distances.forEach((d, i) => {
    if (d !== null && (best === null || d < best)) {
      best = d;
      at = i + 1;
    }
  });
  return { best, at };
}

export function detectStuck({ distances, families, k }: StuckInput): StuckVerdict {
  const n = distances.length;
  if (n >= k) {
    const { at } = bestDistance(distances);
    const since = at === null ? n : n - at;
    if (since >= k) return { stuck: true, reason: `no gain in best gate distance for ${since} iterations` };
  }
  if (families.length >= k) {
    const last = families.slice(-k);
    const f = last[0];
    if (f && last.every((x) => x === f))
      return { stuck: true, reason: `the last ${k} iterations were all ${f}` };
  }
  return { stuck: false };
}
