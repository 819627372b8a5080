/**
 * `alphaloop worker`: a research worker. With REDIS_URL it takes iteration jobs from the shared
 * BullMQ `research` queue and fold jobs from the `backtests` queue (run any number of these, on
 * any machines, against the same Postgres and Redis); its iterations send their folds to that
 * queue. Without REDIS_URL it runs the running runs of this store in-process, folds included. SIGTERM/SIGINT close it gracefully
 * within --shutdown-timeout; an iteration cut short is redone elsewhere, never half-committed.
 */
import type { Command } from "commander";
import { log } from "../log/logger.ts";
import type { Driver } from "../loop/driver.ts";
import { BullFoldExecutors } from "../queue/bull-fold-executor.ts";
import { BullTransport } from "../queue/bull-transport.ts";
import { InProcessTransport } from "../queue/in-process-transport.ts";
import type { ResearchTransport } from "../queue/transport.ts";
import { startWorker, type WorkerOptions } from "../queue/worker.ts";
import { type Db, openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { CliError } from "./cli-error.ts";
import { makeDriver } from "./driver-choice.ts";

export interface WorkerCommandDeps {
  openDb?: () => Promise<Db>;
  write?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Resolves to stop the worker (tests); default: SIGTERM or SIGINT. */
  until?: Promise<void>;
}

interface WorkerFlags {
  concurrency?: string;
  backtestConcurrency?: string;
  healthPort?: string;
  prefix?: string;
  attempts?: string;
  lockDuration?: string;
  stalledInterval?: string;
  reconcileSeconds: string;
  shutdownTimeout: string;
}

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be an integer ≥ ${min}, got ${v}`, 2);
  return n;
}

/**
 * Resolves on SIGTERM/SIGINT, or on an uncaught exception (logged, then the worker closes
 * gracefully and exits non-zero: BullMQ's production advice, since a process in an unknown state
 * should not take more jobs). A stray rejected promise (a Redis call during an outage) is logged,
 * not fatal: Postgres holds the state, the queue recovers.
 */
function signalled(): Promise<string> {
  process.on("unhandledRejection", (reason) => log().error({ err: reason }, "unhandled rejection"));
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once("SIGTERM", on("SIGTERM"));
    process.once("SIGINT", on("SIGINT"));
    process.once("uncaughtException", (err) => {
      log().fatal({ err }, "uncaught exception");
      process.exitCode = 1;
      resolve("uncaught exception");
    });
  });
}

export function register(program: Command, deps: WorkerCommandDeps = {}): void {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const env = deps.env ?? process.env;
  program
    .command("worker")
    .description("run research iterations from the queue (REDIS_URL) until SIGTERM/SIGINT")
    .option("--concurrency <n>", "iterations run at once by this worker (env ALPHALOOP_WORKER_CONCURRENCY)")
    .option(
      "--backtest-concurrency <n>",
      "fold jobs run at once, one worker thread each; 0 takes none (env ALPHALOOP_BACKTEST_CONCURRENCY, default 1)",
    )
    .option("--health-port <port>", "serve /health and /metrics on this port (env ALPHALOOP_HEALTH_PORT)")
    .option("--prefix <prefix>", "BullMQ key prefix (env ALPHALOOP_QUEUE_PREFIX)", undefined)
    .option("--attempts <n>", "attempts per iteration job before the run is marked failed", "3")
    .option("--lock-duration <ms>", "job lock; a killed worker's iteration is redone after this", "30000")
    .option("--stalled-interval <ms>", "how often stalled jobs are looked for", "30000")
    .option("--reconcile-seconds <s>", "how often running runs without a job are re-enqueued", "30")
    .option("--shutdown-timeout <s>", "how long SIGTERM waits for running iterations", "30")
    .action(async (o: WorkerFlags) => {
      const concurrency = int("--concurrency", o.concurrency ?? env["ALPHALOOP_WORKER_CONCURRENCY"], 1) ?? 1;
      const backtestConcurrency =
        int("--backtest-concurrency", o.backtestConcurrency ?? env["ALPHALOOP_BACKTEST_CONCURRENCY"], 0) ?? 1;
      const healthPort = int("--health-port", o.healthPort ?? env["ALPHALOOP_HEALTH_PORT"], 0);
      const attempts = int("--attempts", o.attempts, 1) ?? 3;
      const shutdownMs = (int("--shutdown-timeout", o.shutdownTimeout, 0) ?? 30) * 1000;
      const redisUrl = env["REDIS_URL"];
      const db = await open();
      const runs = new PgRunRepository(db);
      let transport: ResearchTransport;
      let folds: BullFoldExecutors | undefined;
      let backtests: WorkerOptions["backtests"];
      const databaseUrl = env["DATABASE_URL"];
      if (redisUrl) {
        const prefix = o.prefix ?? env["ALPHALOOP_QUEUE_PREFIX"] ?? "alphaloop";
        // The same lock settings for both queues: a killed worker's folds are redone as soon as its iteration.
        const locks = {
          ...(o.lockDuration
            ? { lockDurationMs: int("--lock-duration", o.lockDuration, 1000) as number }
            : {}),
          ...(o.stalledInterval
            ? { stalledIntervalMs: int("--stalled-interval", o.stalledInterval, 100) as number }
            : {}),
        };
        const bull = new BullTransport({
          redisUrl,
          prefix,
          concurrency,
          attempts,
          ...locks,
        });
        const warning = await bull.checkEviction();
        if (warning) write(`warning: ${warning}\n`);
        transport = bull;
        if (databaseUrl) {
          // Fold jobs re-create their folds from Postgres, which every worker can reach.
          folds = await new BullFoldExecutors({ redisUrl, prefix, attempts }).ready();
          if (backtestConcurrency > 0) {
            backtests = {
              redisUrl,
              prefix,
              concurrency: backtestConcurrency,
              database: { databaseUrl },
              ...locks,
            };
          }
        } else {
          write(
            "DATABASE_URL is not set: folds run inside each iteration (the backtests queue needs Postgres)\n",
          );
        }
      } else {
        write("REDIS_URL is not set: running this store's runs in-process (one worker only)\n");
        transport = new InProcessTransport({ concurrency, attempts });
      }
      const drivers = new Map<string, Promise<Driver>>();
      const worker = await startWorker({
        db,
        transport,
        // One driver per run, built once (loading the strategy library compiles every strategy).
        driverFor: (run) => {
          let d = drivers.get(run.id);
          if (!d) {
            d = makeDriver(run.driver, { db, runs });
            drivers.set(run.id, d);
          }
          return d;
        },
        ...(folds ? { folds } : {}),
        ...(backtests ? { backtests } : {}),
        ...(healthPort !== undefined ? { healthPort } : {}),
        reconcileMs: (int("--reconcile-seconds", o.reconcileSeconds, 0) ?? 30) * 1000,
        onIteration: (runId, it) =>
          log().info({ run: runId, n: it.n, status: it.status, name: it.name }, "iteration committed"),
      });
      write(
        `worker ${process.pid} ready: ${transport.kind} transport, concurrency ${concurrency}, ${folds ? `folds on the backtests queue, backtest concurrency ${backtests ? backtestConcurrency : 0}` : "folds in-process"}${worker.health ? `, health on :${worker.health.port}` : ""}\n`,
      );
      const why = await (deps.until ? deps.until.then(() => "done") : signalled());
      write(`worker ${process.pid}: ${why}, closing (up to ${shutdownMs / 1000} s)\n`);
      try {
        await worker.close(shutdownMs);
      } finally {
        await db.close();
      }
    });
}
