/**
 * The consumer side of the `backtests` queue: a BullMQ worker whose processor is a file run in
 * sandboxed worker threads (`useWorkerThreads`), `concurrency` of them at once. A backtest burning
 * CPU in a thread leaves this thread's event loop free to renew job locks, so long folds are never
 * mistaken for stalled ones.
 *
 * isolated-vm runs inside worker threads. Two things make that work on Node 20: the process is
 * started with `--no-node-snapshot` (a process-wide flag the threads inherit, and one a worker's
 * execArgv may not repeat: BullMQ would pass the process's execArgv on and Node refuses it, so the
 * threads get an empty execArgv), and the processor entry registers tsx itself.
 *
 * The trade-off against child processes: a thread shares the process, so a native crash inside
 * isolated-vm would end the whole worker (its jobs are then redone elsewhere once their locks
 * lapse, like a killed worker's), where a child process would lose only itself. Threads start
 * faster and need no second Node process per fold slot; the isolate's own memory and time limits
 * stay in force either way.
 */
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { log } from "../log/logger.ts";
import { BACKTESTS_QUEUE, FOLD_JOB } from "./backtest-jobs.ts";
import type { BacktestThreadSettings } from "./backtest-thread.ts";
import type { WorkerMetrics } from "./metrics.ts";

export const BACKTEST_PROCESSOR = new URL("./backtest-thread-entry.mjs", import.meta.url);

export interface BacktestWorkerOptions {
  readonly redisUrl: string;
  readonly prefix?: string;
  /** Fold jobs run at once by this process, one worker thread each (default 1). */
  readonly concurrency?: number;
  /** Postgres the threads load runs and bars from. */
  readonly database: BacktestThreadSettings;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly metrics?: WorkerMetrics;
}

export interface BacktestWorker {
  close(timeoutMs?: number): Promise<void>;
}

export async function startBacktestWorker(o: BacktestWorkerOptions): Promise<BacktestWorker> {
  const conn = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  conn.on("error", (err) => log().warn({ err }, "redis (backtests worker) error"));
  const worker = new Worker(BACKTESTS_QUEUE, BACKTEST_PROCESSOR, {
    connection: conn,
    prefix: o.prefix ?? "alphaloop",
    concurrency: Math.max(1, o.concurrency ?? 1),
    useWorkerThreads: true,
    workerThreadsOptions: {
      execArgv: [],
      workerData: { database: o.database, redisUrl: o.redisUrl, prefix: o.prefix ?? "alphaloop" },
    },
    lockDuration: o.lockDurationMs ?? 30_000,
    stalledInterval: o.stalledIntervalMs ?? 30_000,
    maxStalledCount: 2,
  });
  worker.on("error", (err) => log().warn({ err }, "backtests worker error"));
  worker.on("completed", (job) => {
    if (job.name === FOLD_JOB) o.metrics?.foldJobs.inc();
  });
  worker.on("failed", (job, err) => {
    log().warn({ err, job: job?.id, attempt: job?.attemptsMade }, "backtests job failed");
  });
  await worker.waitUntilReady();
  return {
    async close(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), timeoutMs);
      });
      // Past the bound the threads are terminated; their jobs' locks lapse and another worker redoes them.
      if ((await Promise.race([worker.close(), bounded])) === "timeout") await worker.close(true);
      clearTimeout(timer);
      await conn.quit().catch(() => undefined);
    },
  };
}
