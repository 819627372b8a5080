/** The AbortControllers of the iterations a process is running, by run, so control can reach them. */
export class InFlight {
  private readonly byRun = new Map<string, Set<AbortController>>();
  closing = false;

  track(runId: string): { signal: AbortSignal; release: () => void } {
    const ac = new AbortController();
    let set = this.byRun.get(runId);
    if (!set) {
      set = new Set();
      this.byRun.set(runId, set);
    }
    set.add(ac);
    return {
      signal: ac.signal,
      release: () => {
        set.delete(ac);
        if (set.size === 0 && this.byRun.get(runId) === set) this.byRun.delete(runId);
      },
    };
  }

  abortRun(runId: string): number {
    const set = this.byRun.get(runId);
    for (const ac of set ?? []) ac.abort();
    return set?.size ?? 0;
  }

  abortAll(): void {
    for (const set of this.byRun.values()) for (const ac of set) ac.abort();
  }

  get size(): number {
    let n = 0;
    for (const set of this.byRun.values()) n += set.size;
    return n;
  }
}
