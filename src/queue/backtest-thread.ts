/**
 * The `backtests` queue's processor as BullMQ runs it: in a sandboxed worker thread, so the CPU
 * of a backtest never blocks the worker's event loop (which renews job locks and talks to Redis).
 * Each thread opens its own small Postgres pool (settings in `workerData`) and its own isolate,
 * and loads bars through the store and the window cache like any other process.
 */
import { workerData } from "node:worker_threads";
import { type SandboxedJob, UnrecoverableError } from "bullmq";
import { Redis } from "ioredis";
import { defaultSandbox } from "../backtest/sandbox/index.ts";
import { log } from "../log/logger.ts";
import { StoreBarSource } from "../loop/runner.ts";
import { openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import {
  FOLD_JOB,
  type FoldJobData,
  type FoldJobReceipt,
  foldResultKey,
  JOIN_JOB,
  type JoinJobData,
  RESULT_TTL_S,
} from "./backtest-jobs.ts";
import { type FoldJobRunner, foldJobRunner, joinReceipts } from "./backtest-processor.ts";

/** What the main thread hands each processor thread. */
export interface BacktestThreadSettings {
  readonly databaseUrl: string;
  readonly schema?: string;
}

interface ThreadData {
  readonly database: BacktestThreadSettings;
  readonly redisUrl: string;
  readonly prefix: string;
}

let redis: Redis | undefined;

/** This thread's connection for writing fold results (a plain one: a failed write fails the job, which is retried). */
function redisOf(): Redis {
  if (!redis) {
    const d = workerData as ThreadData;
    redis = new Redis(d.redisUrl);
    redis.on("error", (err) => log().warn({ err }, "redis (backtests thread) error"));
  }
  return redis;
}

let runner: Promise<FoldJobRunner> | undefined;

function runnerOf(): Promise<FoldJobRunner> {
  if (!runner) {
    const s = (workerData as ThreadData).database;
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
): Promise<FoldJobReceipt[]> {
  if (job.name === FOLD_JOB) {
    const data = job.data as FoldJobData;
    const result = await (await runnerOf())(data);
    const key = foldResultKey((workerData as ThreadData).prefix, job.id as string);
    await redisOf().set(key, JSON.stringify(result), "EX", RESULT_TTL_S);
    const own = { index: result.index, ok: result.ok };
    if (data.follows === undefined) return [own];
    const before = (await job.getChildrenValues()) as Record<string, FoldJobReceipt[]>;
    return [...Object.values(before).flat(), own];
  }
  if (job.name === JOIN_JOB) {
    const values = (await job.getChildrenValues()) as Record<string, FoldJobReceipt[]>;
    return joinReceipts(values, (job.data as JoinJobData).folds);
  }
  throw new UnrecoverableError(`unknown backtests job ${job.name}`);
}
