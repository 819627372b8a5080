/**
 * What a research job does, the same on every transport: read the run from Postgres (the source of
 * truth), drop the job unless the run is running, run exactly one guarded loop step, and enqueue
 * the next iteration. A job for an iteration that is already committed only makes sure the next one
 * is queued, so duplicates and redeliveries are harmless.
 */
import type { Sandbox } from "../backtest/sandbox/index.ts";
import { eventId } from "../domain/run.ts";
import { log } from "../log/logger.ts";
import type { Driver } from "../loop/driver.ts";
import type { FoldExecutors } from "../loop/fold-executor.ts";
import type { CompletedIteration } from "../loop/research-loop.ts";
import type { RunRecord } from "../loop/run-repository.ts";
import { buildLoop, frozenOf, StoreBarSource } from "../loop/runner.ts";
import { type BarSource, RunWindows } from "../loop/windows.ts";
import type { Db } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { PgTrialLedger } from "../store/trial-ledger.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { FailedHandler, IterationJob, JobHandler, ResearchTransport, StepOutcome } from "./transport.ts";

export interface IterationHandlerDeps {
  readonly db: Db;
  readonly transport: ResearchTransport;
  readonly driverFor: (run: RunRecord) => Promise<Driver>;
  readonly sandbox?: Sandbox;
  readonly bars?: BarSource;
  /** Where folds run (the `backtests` queue); unset: inside the iteration. */
  readonly folds?: FoldExecutors;
  readonly metrics?: WorkerMetrics;
  readonly onIteration?: (runId: string, it: CompletedIteration) => void;
}

/** Runs whose search bars a worker keeps between their iterations. */
const CACHED_RUN_WINDOWS = 16;

export function iterationHandler(deps: IterationHandlerDeps): JobHandler {
  const runs = new PgRunRepository(deps.db);
  // One ledger for every iteration this worker runs, so what it has read of a run's trials and of
  // a window's correlation sample is not read again (in full, returns and all) each iteration.
  const ledger = new PgTrialLedger(deps.db);
  // A run's windows (its search bars, loaded once) across its iterations on this worker.
  const windows = new Map<string, RunWindows>();
  const windowsOf = (run: RunRecord): RunWindows => {
    const key = `${run.id}:${run.configHash}`;
    let w = windows.get(key);
    if (!w) {
      w = new RunWindows(deps.bars ?? new StoreBarSource(deps.db), frozenOf(run).config);
      while (windows.size >= CACHED_RUN_WINDOWS) windows.delete(windows.keys().next().value as string);
    } else windows.delete(key);
    windows.set(key, w);
    return w;
  };
  return async (job: IterationJob, signal: AbortSignal): Promise<StepOutcome> => {
    const run = await runs.getRun(job.runId);
    if (run?.status !== "running") return "done";
    const last = await runs.lastIteration(job.runId);
    if (last >= job.iteration) {
      // Redelivered after its iteration committed (e.g. the worker died before enqueuing the next).
      await deps.transport.enqueueIteration({ runId: job.runId, iteration: last + 1 });
      return "continue";
    }
    const committed: CompletedIteration[] = [];
    const loop = buildLoop(run, {
      db: deps.db,
      driver: await deps.driverFor(run),
      ledger,
      windows: windowsOf(run),
      ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
      ...(deps.folds ? { folds: deps.folds } : {}),
      onIteration: (it) => {
        committed.push(it);
        deps.onIteration?.(job.runId, it);
      },
    });
    const step = await loop.step(signal);
    for (const it of committed) deps.metrics?.observe(it, it.backtests);
    if (step.done) return "done";
    // The iteration this step committed is the run's last (a run's iterations are sequential);
    // only a step that committed none asks the store.
    const now = committed.at(-1)?.n ?? (await runs.lastIteration(job.runId));
    await deps.transport.enqueueIteration({ runId: job.runId, iteration: now + 1 });
    return "continue";
  };
}

/** A job out of retries: the run is marked failed with the error, so nobody waits on it forever. */
export function failRunOnFinalError(db: Db): FailedHandler {
  const runs = new PgRunRepository(db);
  return async (job, err) => {
    const reason =
      `iteration ${job.iteration} failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
    const failed = await runs.setStatus(
      job.runId,
      "failed",
      reason,
      [
        {
          eventId: eventId(job.runId, "run.finished"),
          runId: job.runId,
          type: "run.finished",
          payload: { status: "failed", reason },
        },
      ],
      ["running"],
    );
    if (failed) log().error({ run: job.runId, reason }, "run failed");
  };
}
