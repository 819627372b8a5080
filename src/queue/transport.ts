/**
 * What carries research work between processes. Postgres is the source of truth; a transport only
 * says "run iteration k of run r next" and "abort what you are doing for run r". The embedded
 * default keeps it in memory (in-process-transport.ts), the distributed setup uses BullMQ
 * (bull-transport.ts); both pass the same loop tests.
 */

export interface IterationJob {
  readonly runId: string;
  /** The iteration this job is meant to run (lastIteration + 1 when it was enqueued). */
  readonly iteration: number;
}

/** `continue`: the handler enqueued the next iteration; `done`: nothing more to do for this run now. */
export type StepOutcome = "continue" | "done";

export type JobHandler = (job: IterationJob, signal: AbortSignal) => Promise<StepOutcome>;

export type FailedHandler = (job: IterationJob, err: unknown) => Promise<void>;

export type ControlAction = "pause" | "stop";

export interface ControlMessage {
  readonly runId: string;
  readonly action: ControlAction;
}

export interface ResearchTransport {
  readonly kind: "in-process" | "bullmq";
  /**
   * Idempotent while the job is pending or running: the job id is `${runId}:${iteration}:iterate`.
   * A finished job with the same id is replaced, so a resumed run can redo an aborted iteration.
   */
  enqueueIteration(job: IterationJob): Promise<void>;
  /**
   * Starts consuming jobs with `handler` (a producer-only transport never calls this). `onFailed`
   * hears of a job that failed its last attempt, so the run can be marked failed with the reason.
   */
  start(handler: JobHandler, onFailed?: FailedHandler): Promise<void>;
  /** Aborts the run's in-flight iteration in every process (its status is already set in Postgres). */
  publishControl(msg: ControlMessage): Promise<void>;
  /** Jobs waiting, delayed or running. */
  depth(): Promise<number>;
  /** Throws when the transport's backing service does not answer. */
  ping(): Promise<void>;
  /**
   * Stops taking jobs and waits up to `timeoutMs` for running ones; past that they are aborted and
   * left to be redone (by a retry or by another worker), never marked done.
   */
  close(timeoutMs?: number): Promise<void>;
}

export function iterationJobId(job: IterationJob): string {
  return `${job.runId}:${job.iteration}:iterate`;
}

/** Exponential backoff as BullMQ computes it: delay · 2^(attempt−1). */
export function backoffMs(baseMs: number, attemptsMade: number): number {
  return baseMs * 2 ** Math.max(0, attemptsMade - 1);
}

/** Thrown out of a job that was cut short by shutdown, so the queue redoes it instead of completing it. */
export class WorkerClosingError extends Error {
  override name = "WorkerClosingError";
  constructor() {
    super("worker closing: the iteration is redone by another attempt");
  }
}
