/**
 * A research worker process: consumes iteration jobs from a transport, picks up every run left in
 * `running` (on start and every `reconcileMs`: a job id already pending makes the enqueue a
 * no-op), serves health and metrics, and closes gracefully.
 */
import type { Sandbox } from "../backtest/sandbox/index.ts";
import { log } from "../log/logger.ts";
import type { Driver } from "../loop/driver.ts";
import type { FoldExecutors } from "../loop/fold-executor.ts";
import type { CompletedIteration } from "../loop/research-loop.ts";
import type { RunRecord } from "../loop/run-repository.ts";
import type { BarSource } from "../loop/windows.ts";
import type { Db } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { type BacktestWorker, type BacktestWorkerOptions, startBacktestWorker } from "./backtest-worker.ts";
import { type HealthServer, startHealthServer } from "./health-server.ts";
import { failRunOnFinalError, iterationHandler } from "./iteration-handler.ts";
import { WorkerMetrics } from "./metrics.ts";
import type { ResearchTransport } from "./transport.ts";

export interface WorkerOptions {
  readonly db: Db;
  readonly transport: ResearchTransport;
  readonly driverFor: (run: RunRecord) => Promise<Driver>;
  readonly sandbox?: Sandbox;
  readonly bars?: BarSource;
  /**
   * Folds of this worker's iterations go to the `backtests` queue through these (closed with the
   * worker); unset: they run inside the iteration.
   */
  readonly folds?: FoldExecutors & { close(): Promise<void> };
  /** Also take `backtests` jobs (fold evaluations) in sandboxed worker threads. */
  readonly backtests?: Omit<BacktestWorkerOptions, "metrics">;
  /** Port for /health and /metrics; 0 picks a free one; undefined serves nothing. */
  readonly healthPort?: number;
  /** How often runs in `running` are re-enqueued (0: only at start). */
  readonly reconcileMs?: number;
  readonly onIteration?: (runId: string, it: CompletedIteration) => void;
}

export interface RunningWorker {
  readonly metrics: WorkerMetrics;
  readonly health: HealthServer | undefined;
  /** Enqueues the next iteration of every running run; returns how many runs. */
  reconcile(): Promise<number>;
  close(timeoutMs?: number): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const runs = new PgRunRepository(o.db);
  const metrics = new WorkerMetrics(() => o.transport.depth());
  // Fold jobs are taken before iterations start, so an iteration's folds always have a taker here.
  const backtests: BacktestWorker | undefined = o.backtests
    ? await startBacktestWorker({ ...o.backtests, metrics })
    : undefined;
  await o.transport.start(
    iterationHandler({
      db: o.db,
      transport: o.transport,
      driverFor: o.driverFor,
      metrics,
      ...(o.sandbox ? { sandbox: o.sandbox } : {}),
      ...(o.bars ? { bars: o.bars } : {}),
      ...(o.folds ? { folds: o.folds } : {}),
      ...(o.onIteration ? { onIteration: o.onIteration } : {}),
    }),
    failRunOnFinalError(o.db),
  );
  const reconcile = async () => {
    const running = await runs.runsInStatus(["running"]);
    for (const r of running) {
      await o.transport.enqueueIteration({ runId: r.id, iteration: (await runs.lastIteration(r.id)) + 1 });
    }
    return running.length;
  };
  const picked = await reconcile();
  if (picked > 0) log().info({ runs: picked }, "picked up running runs");
  let timer: NodeJS.Timeout | undefined;
  if (o.reconcileMs && o.reconcileMs > 0) {
    timer = setInterval(() => {
      reconcile().catch((err: unknown) => log().warn({ err }, "reconcile failed"));
    }, o.reconcileMs);
    timer.unref();
  }
  const health =
    o.healthPort === undefined
      ? undefined
      : await startHealthServer(o.healthPort, { db: o.db, transport: o.transport, metrics });
  return {
    metrics,
    health,
    reconcile,
    async close(timeoutMs = 30_000) {
      clearInterval(timer);
      const t0 = Date.now();
      // Iterations first (they may still wait on fold jobs), then the fold jobs, then the rest.
      await o.transport.close(timeoutMs);
      await backtests?.close(Math.max(1000, timeoutMs - (Date.now() - t0)));
      await o.folds?.close();
      await health?.close();
    },
  };
}
