/**
 * The `backtests` queue's processor as BullMQ runs it: in a sandboxed worker thread, so the CPU
 * of a backtest never blocks the worker's event loop (which renews job locks and talks to Redis).
 * Each thread opens its own small Postgres pool (settings in `workerData`) and its own isolate,
 * and loads bars through the store and the window cache like any other process.
 */
import { workerData } from "node:worker_threads";
import { type SandboxedJob, UnrecoverableError } from "bullmq";
import { defaultSandbox } from "../backtest/sandbox/index.ts";
import { StoreBarSource } from "../loop/runner.ts";
import { openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import {
  FOLD_JOB,
  type FoldJobData,
  type FoldJobResult,
  JOIN_JOB,
  type JoinJobData,
} from "./backtest-jobs.ts";
import { type FoldJobRunner, foldJobRunner, joinResults } from "./backtest-processor.ts";

/** What the main thread hands each processor thread. */
export interface BacktestThreadSettings {
  readonly databaseUrl: string;
  readonly schema?: string;
}

let runner: Promise<FoldJobRunner> | undefined;

function runnerOf(): Promise<FoldJobRunner> {
  if (!runner) {
    const s = workerData as BacktestThreadSettings;
    runner = openDb({
      url: s.databaseUrl,
      ...(s.schema ? { schema: s.schema } : {}),
      maxConnections: 2,
    }).then((db) =>
      foldJobRunner({
        runs: new PgRunRepository(db),
        bars: new StoreBarSource(db),
        sandbox: defaultSandbox(),
      }),
    );
    // Database down at the first job: the job's retry opens it again.
    runner.catch(() => {
      runner = undefined;
    });
  }
  return runner;
}

export default async function processBacktestJob(
  job: SandboxedJob<FoldJobData | JoinJobData>,
): Promise<FoldJobResult | FoldJobResult[]> {
  if (job.name === FOLD_JOB) return (await runnerOf())(job.data as FoldJobData);
  if (job.name === JOIN_JOB) {
    const values = (await job.getChildrenValues()) as Record<string, FoldJobResult>;
    return joinResults(values, (job.data as JoinJobData).folds);
  }
  throw new UnrecoverableError(`unknown backtests job ${job.name}`);
}
