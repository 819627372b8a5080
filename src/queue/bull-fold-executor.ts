/**
 * Folds on the `backtests` queue: each candidate evaluation adds one BullMQ flow — a `join`
 * parent over a chain of one `fold` job per walk-forward fold (see flowOf) — and waits for the
 * parent. Any worker
 * process running `alphaloop worker` takes the fold jobs, in sandboxed worker threads.
 *
 * Waiting survives Redis going away: the parent's completion is heard through QueueEvents, and
 * every `probeMs` without news the flow is added again. Its ids are fixed (`run:iteration:step`),
 * so while the flow exists that adds nothing; after a Redis restart lost it, that re-creates it.
 * A fold that fails its last attempt fails the parent (`failParentOnFailure`) and the evaluation
 * throws, so the iteration job is retried as a whole. Done and failed jobs are removed (a redo
 * with fixed ids must not find a stale failure); the folds' results wait under their own keys
 * (see backtest-jobs.ts) until read, and expire soon after.
 */
import type { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { type FlowJob, FlowProducer, Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { log } from "../log/logger.ts";
import type { FoldExecutor, FoldExecutors, FoldRequest, FoldRun } from "../loop/fold-executor.ts";
import {
  BACKTESTS_QUEUE,
  candidateKey,
  decodePart,
  FOLD_JOB,
  type FoldJobData,
  type FoldJobResult,
  foldJobId,
  foldResultKey,
  JOIN_JOB,
  type JoinJobData,
  joinJobId,
  RESULT_LINGER_S,
} from "./backtest-jobs.ts";

/** Waiters read the events stream live and never replay it: a short one is plenty. */
export const BACKTEST_EVENTS_MAX_LEN = 5000;

export interface BullFoldOptions {
  readonly redisUrl: string;
  readonly prefix?: string;
  /** Attempts per fold job (default 3), with exponential backoff from `backoffMs` (default 1000). */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** How long to wait for news of a flow before adding it again (default 5000). */
  readonly probeMs?: number;
  /** Give up on a candidate's folds after this long (default 10 minutes). */
  readonly timeoutMs?: number;
}

export class FoldJobsFailedError extends Error {
  override name = "FoldJobsFailedError";
}

type Wait =
  | { kind: "completed"; value: unknown }
  | { kind: "failed"; reason: string }
  | { kind: "missing" }
  | { kind: "timeout" };

export class BullFoldExecutors implements FoldExecutors {
  readonly prefix: string;
  private readonly producer: Redis;
  private readonly eventsConn: Redis;
  private readonly queue: Queue;
  private readonly flows: FlowProducer;
  private readonly events: QueueEvents;
  private closed = false;

  constructor(private readonly o: BullFoldOptions) {
    this.prefix = o.prefix ?? "alphaloop";
    this.producer = new Redis(o.redisUrl);
    this.producer.on("error", (err) => log().warn({ err }, "redis (folds producer) error"));
    // QueueEvents blocks on XREAD: its connection must wait out a Redis restart, not throw.
    this.eventsConn = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    this.eventsConn.on("error", (err) => log().warn({ err }, "redis (folds events) error"));
    this.queue = backtestsQueue(this.producer, this.prefix);
    this.flows = new FlowProducer({ connection: this.producer, prefix: this.prefix });
    this.flows.on("error", (err) => log().warn({ err }, "backtests flow producer error"));
    this.events = new QueueEvents(BACKTESTS_QUEUE, { connection: this.eventsConn, prefix: this.prefix });
    this.events.on("error", (err) => log().warn({ err }, "backtests queue events error"));
    // Every evaluation in flight listens here (its parent's end, its children's failures): a busy
    // worker has far more than EventEmitter's default of 10 listeners, and that is no leak.
    this.events.setMaxListeners(0);
  }

  /** Resolves once completion events are being read (a flow added before could be missed). */
  async ready(): Promise<this> {
    await this.events.waitUntilReady();
    await this.queue.waitUntilReady();
    return this;
  }

  forIteration(runId: string, iteration: number): FoldExecutor {
    return { evaluate: (request) => this.evaluate(runId, iteration, request) };
  }

  async evaluate(runId: string, iteration: number, r: FoldRequest): Promise<FoldRun> {
    const key = candidateKey(r.codeHash, r.configHash);
    const parentId = joinJobId(runId, iteration, key);
    const flow = this.flowOf(runId, iteration, key, r);
    const timeoutMs = this.o.timeoutMs ?? 600_000;
    const deadline = Date.now() + timeoutMs;
    // A parent's failure only names the child that failed it, and in the chain that may be
    // another fold: the failing fold's own reason is the one that is not such a pointer.
    const childIds = new Set(r.folds.map((f) => foldJobId(runId, iteration, key, f.index)));
    let childFailure: string | undefined;
    const onChildFailed = (args: { jobId: string; failedReason: string }) => {
      if (childIds.has(args.jobId) && !/^child .* failed$/.test(args.failedReason)) {
        childFailure ??= args.failedReason;
      }
    };
    const keys = [...childIds].map((id) => foldResultKey(this.prefix, id));
    this.events.on("failed", onChildFailed);
    try {
      return await this.rounds(parentId, flow, keys, deadline, () => childFailure, timeoutMs);
    } finally {
      this.events.off("failed", onChildFailed);
    }
  }

  private async rounds(
    parentId: string,
    flow: FlowJob,
    keys: readonly string[],
    deadline: number,
    childFailure: () => string | undefined,
    timeoutMs: number,
  ): Promise<FoldRun> {
    for (let round = 0; ; round++) {
      if (this.closed) throw new FoldJobsFailedError(`closing: folds of ${parentId} not awaited`);
      // The same flow done a moment ago (a redone iteration, a second waiter): its results are
      // still there, and nothing needs to run again.
      const done = await this.readResults(keys).catch(() => undefined);
      if (done) return done;
      let w: Wait;
      try {
        if (round > 0) await this.writeMeta();
        w = await this.waitFor(parentId, () => this.flows.add(flow).then(() => undefined));
      } catch (err) {
        // Redis unreachable right now: wait and add again (the flow may or may not be there).
        log().warn({ err, job: parentId }, "could not add or watch a fold flow; retrying");
        w = { kind: "timeout" };
        await sleep(Math.min(1000, this.o.probeMs ?? 5000));
      }
      if (w.kind === "completed") {
        const run = await this.readResults(keys).catch((err: unknown) => {
          log().warn({ err, job: parentId }, "could not read fold results; retrying");
          return undefined;
        });
        if (run) return run;
        // Results gone (expired, or Redis lost them): the next round adds the flow again.
      }
      if (w.kind === "failed") {
        const why = childFailure() ?? w.reason;
        throw new FoldJobsFailedError(`folds of ${parentId} failed: ${why}`);
      }
      if (Date.now() > deadline) {
        throw new FoldJobsFailedError(`folds of ${parentId} did not finish within ${timeoutMs} ms`);
      }
    }
  }

  /**
   * The candidate's folds as a chain under its join: fold 0 is the leaf, each later fold the
   * parent of the one before, the join the parent of the last. A chain rather than siblings so one
   * fold thread runs all of a candidate's folds: BullMQ moves a parent whose child just finished
   * to the front of the wait list and hands it to the worker that finished the child, in the same
   * step. Sibling folds went to whichever threads were free, and every thread that ran one had to
   * set up the candidate in a fresh sandbox context and warm its code up again (two contexts for
   * four folds cost ~1.6x the CPU of one). A candidate's folds then run one after another, which
   * costs little latency even on idle workers: a split candidate paid that warm-up on each thread.
   */
  private flowOf(runId: string, iteration: number, key: string, r: FoldRequest): FlowJob {
    const retry = {
      attempts: Math.max(1, this.o.attempts ?? 3),
      backoff: { type: "exponential", delay: this.o.backoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: true,
    };
    let chain: FlowJob | undefined;
    for (const fold of r.folds) {
      const data: FoldJobData = {
        runId,
        iteration,
        configHash: r.run.hash,
        code: r.candidate.code,
        configYaml: r.candidate.configYaml,
        timeframe: r.timeframe,
        fold,
        ...(chain ? { follows: (chain.data as FoldJobData).fold.index } : {}),
      };
      chain = {
        name: FOLD_JOB,
        queueName: BACKTESTS_QUEUE,
        data,
        opts: { ...retry, jobId: foldJobId(runId, iteration, key, fold.index), failParentOnFailure: true },
        ...(chain ? { children: [chain] } : {}),
      };
    }
    return {
      name: JOIN_JOB,
      queueName: BACKTESTS_QUEUE,
      data: { runId, iteration, folds: r.folds.length } satisfies JoinJobData,
      opts: { ...retry, jobId: joinJobId(runId, iteration, key) },
      ...(chain ? { children: [chain] } : {}),
    };
  }

  /**
   * Listens for the parent's end, adds the flow if its parent is missing, and looks at the parent
   * once: one that finished is read from Redis, one still missing (done and removed meanwhile, or
   * Redis lost it) is `missing`, and the next round looks again.
   */
  private waitFor(id: string, add: () => Promise<void>): Promise<Wait> {
    const probeMs = this.o.probeMs ?? 5000;
    // QueueEvents emits `completed:<id>` per job, but its typed listener map names only the plain
    // events (BullMQ's own waitUntilFinished casts the same way).
    const events = this.events as unknown as EventEmitter;
    return new Promise<Wait>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onCompleted = (args: { returnvalue: unknown }) =>
        finish({ kind: "completed", value: args.returnvalue });
      const onFailed = (args: { failedReason: string }) =>
        finish({ kind: "failed", reason: args.failedReason });
      const finish = (w: Wait) => {
        clearTimeout(timer);
        events.off(`completed:${id}`, onCompleted);
        events.off(`failed:${id}`, onFailed);
        resolve(w);
      };
      events.on(`completed:${id}`, onCompleted);
      events.on(`failed:${id}`, onFailed);
      timer = setTimeout(() => finish({ kind: "timeout" }), probeMs);
      (async () => {
        // Added only when its parent is not there: adding it over a flow in progress would
        // re-create (and rerun) the children that already finished and were removed.
        let job = await Job.fromId(this.queue, id);
        if (!job) {
          await add();
          job = await Job.fromId(this.queue, id);
        }
        if (!job) return finish({ kind: "missing" });
        const state = await job.getState();
        if (state === "completed") finish({ kind: "completed", value: job.returnvalue });
        else if (state === "failed") finish({ kind: "failed", reason: job.failedReason });
      })().catch((err: unknown) => {
        clearTimeout(timer);
        events.off(`completed:${id}`, onCompleted);
        events.off(`failed:${id}`, onFailed);
        reject(err);
      });
    });
  }

  /** Every fold's result, or undefined if one is gone; read ones expire shortly after. */
  private async readResults(keys: readonly string[]): Promise<FoldRun | undefined> {
    const raw = await this.producer.mget(...keys);
    if (raw.some((x) => x === null)) return undefined;
    const expire = this.producer.multi();
    for (const k of keys) expire.expire(k, RESULT_LINGER_S);
    await expire.exec();
    return decodeResults(raw as string[]);
  }

  /** After Redis lost its data the queue's settings (events stream length) are written again. */
  private async writeMeta(): Promise<void> {
    const client = await this.queue.client;
    await client.hset(this.queue.keys["meta"] as string, { "opts.maxLenEvents": BACKTEST_EVENTS_MAX_LEN });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.events.close().catch(() => undefined);
    await this.flows.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    await this.eventsConn.quit().catch(() => undefined);
    await this.producer.quit().catch(() => undefined);
  }
}

/** The queue object for the `backtests` queue, with its short events stream. */
export function backtestsQueue(connection: Redis, prefix: string): Queue {
  const q = new Queue(BACKTESTS_QUEUE, {
    connection,
    prefix,
    streams: { events: { maxLen: BACKTEST_EVENTS_MAX_LEN } },
  });
  q.on("error", (err) => log().warn({ err }, "backtests queue error"));
  return q;
}

function decodeResults(raw: readonly string[]): FoldRun {
  const results = raw.map((text) => JSON.parse(text) as FoldJobResult).sort((a, b) => a.index - b.index);
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) return { ok: false, error: failed.error };
  return {
    ok: true,
    parts: results.map((r) => decodePart((r as Extract<FoldJobResult, { ok: true }>).part)),
  };
}
