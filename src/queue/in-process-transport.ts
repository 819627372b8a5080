/**
 * The embedded default's transport: the same contract as BullMQ (idempotent job ids while pending
 * or running, concurrency, retries with exponential backoff, control that aborts the in-flight
 * iteration) in one process's memory. Nothing here needs to survive a crash: Postgres does.
 */
import { log } from "../log/logger.ts";
import { InFlight } from "./in-flight.ts";
import {
  backoffMs,
  type ControlMessage,
  type FailedHandler,
  type IterationJob,
  iterationJobId,
  type JobHandler,
  type ResearchTransport,
  WorkerClosingError,
} from "./transport.ts";

export interface InProcessOptions {
  readonly concurrency?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

interface Entry {
  readonly id: string;
  readonly job: IterationJob;
  attemptsMade: number;
}

export class InProcessTransport implements ResearchTransport {
  readonly kind = "in-process" as const;
  private readonly waiting: Entry[] = [];
  /** Ids waiting, delayed (between retries) or running: a second enqueue of one is a no-op. */
  private readonly pending = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly inFlight = new InFlight();
  private handler: JobHandler | undefined;
  private onFailed: FailedHandler | undefined;
  private closed = false;
  private readonly concurrency: number;
  private readonly attempts: number;
  private readonly backoff: number;
  private idleWaiters: (() => void)[] = [];

  constructor(o: InProcessOptions = {}) {
    this.concurrency = Math.max(1, o.concurrency ?? 1);
    this.attempts = Math.max(1, o.attempts ?? 3);
    this.backoff = o.backoffMs ?? 1000;
  }

  async enqueueIteration(job: IterationJob): Promise<void> {
    if (this.closed) return;
    const id = iterationJobId(job);
    if (this.pending.has(id)) return;
    this.pending.add(id);
    this.waiting.push({ id, job, attemptsMade: 0 });
    this.pump();
  }

  async start(handler: JobHandler, onFailed?: FailedHandler): Promise<void> {
    this.handler = handler;
    this.onFailed = onFailed;
    this.pump();
  }

  async publishControl(msg: ControlMessage): Promise<void> {
    this.inFlight.abortRun(msg.runId);
  }

  async depth(): Promise<number> {
    return this.pending.size;
  }

  async ping(): Promise<void> {}

  /** Resolves when no job is waiting, delayed or running (for the terminal front end and tests). */
  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiting.length = 0;
    const all = Promise.allSettled([...this.running]);
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    if ((await Promise.race([all, bounded])) === "timeout") {
      this.inFlight.closing = true;
      this.inFlight.abortAll();
      await all;
    }
    clearTimeout(timer);
    this.pending.clear();
    this.settle();
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler || this.closed) return;
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift() as Entry;
      const p: Promise<void> = this.runOne(entry, handler).finally(() => {
        this.running.delete(p);
        this.pump();
        this.settle();
      });
      this.running.add(p);
    }
  }

  private async runOne(entry: Entry, handler: JobHandler): Promise<void> {
    const { signal, release } = this.inFlight.track(entry.job.runId);
    entry.attemptsMade++;
    try {
      await handler(entry.job, signal);
      if (this.inFlight.closing && signal.aborted) throw new WorkerClosingError();
      this.pending.delete(entry.id);
    } catch (err) {
      if (this.closed || entry.attemptsMade >= this.attempts) {
        this.pending.delete(entry.id);
        if (!this.closed) {
          log().error({ err, job: entry.id }, "iteration job failed for good");
          await this.onFailed?.(entry.job, err).catch((e: unknown) =>
            log().error({ err: e }, "onFailed threw"),
          );
        }
        return;
      }
      const delay = backoffMs(this.backoff, entry.attemptsMade);
      log().warn(
        { err, job: entry.id, attempt: entry.attemptsMade, delay },
        "iteration job failed; retrying",
      );
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.waiting.push(entry);
        this.pump();
      }, delay);
      this.timers.add(t);
    } finally {
      release();
    }
  }

  private settle(): void {
    if (this.pending.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
