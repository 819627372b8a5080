/**
 * The distributed transport: queue `research` on BullMQ. One job = one iteration step, id
 * `${runId}:${iteration}:iterate`, retried with exponential backoff. A worker killed mid-iteration
 * leaves its job locked; once the lock expires another worker's stalled check moves it back to
 * waiting and the iteration is redone (idempotently) there.
 *
 * Production settings from BullMQ's guide live here: workers connect with
 * `maxRetriesPerRequest: null` (a blocking connection must wait out a Redis restart, not throw),
 * producers keep the default so an enqueue fails fast; every Worker/Queue has an error handler
 * (an unhandled 'error' event would crash the process); Redis must not evict keys (`noeviction`),
 * which `checkEviction` warns about.
 */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { log } from "../log/logger.ts";
import { InFlight } from "./in-flight.ts";
import {
  type ControlMessage,
  type FailedHandler,
  type IterationJob,
  iterationJobId,
  type JobHandler,
  type ResearchTransport,
  WorkerClosingError,
} from "./transport.ts";

export const RESEARCH_QUEUE = "research";

export interface BullTransportOptions {
  readonly redisUrl: string;
  /** Key prefix for queues and the control channel (`${prefix}:control`); tests use their own. */
  readonly prefix?: string;
  readonly concurrency?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** How long a job's lock lives without renewal: a killed worker's iteration is redone after this. */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
}

export class BullTransport implements ResearchTransport {
  readonly kind = "bullmq" as const;
  readonly prefix: string;
  private readonly producer: Redis;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private workerConn: Redis | undefined;
  private subscriber: Redis | undefined;
  private readonly inFlight = new InFlight();

  constructor(private readonly o: BullTransportOptions) {
    this.prefix = o.prefix ?? "alphaloop";
    this.producer = new Redis(o.redisUrl, { lazyConnect: false });
    this.producer.on("error", (err) => log().warn({ err }, "redis (producer) error"));
    this.queue = new Queue(RESEARCH_QUEUE, {
      connection: this.producer,
      prefix: this.prefix,
      defaultJobOptions: {
        attempts: Math.max(1, o.attempts ?? 3),
        backoff: { type: "exponential", delay: o.backoffMs ?? 1000 },
        // Done jobs go away so a later enqueue of the same id (a resumed run) is not swallowed.
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    });
    this.queue.on("error", (err) => log().warn({ err }, "research queue error"));
  }

  get channel(): string {
    return `${this.prefix}:control`;
  }

  async enqueueIteration(job: IterationJob): Promise<void> {
    const jobId = iterationJobId(job);
    const existing = await this.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== "completed" && state !== "failed") return;
      await existing.remove().catch(() => undefined);
    }
    await this.queue.add("iterate", job, { jobId });
  }

  async start(handler: JobHandler, onFailed?: FailedHandler): Promise<void> {
    this.workerConn = new Redis(this.o.redisUrl, { maxRetriesPerRequest: null });
    this.workerConn.on("error", (err) => log().warn({ err }, "redis (worker) error"));
    this.subscriber = new Redis(this.o.redisUrl, { maxRetriesPerRequest: null });
    this.subscriber.on("error", (err) => log().warn({ err }, "redis (control) error"));
    this.subscriber.on("message", (channel, text) => {
      if (channel !== this.channel) return;
      try {
        const msg = JSON.parse(text) as ControlMessage;
        const n = this.inFlight.abortRun(msg.runId);
        if (n > 0) log().info({ run: msg.runId, action: msg.action }, "aborted the in-flight iteration");
      } catch (err) {
        log().warn({ err }, "bad control message");
      }
    });
    await this.subscriber.subscribe(this.channel);

    this.worker = new Worker<IterationJob>(
      RESEARCH_QUEUE,
      async (job) => {
        const { signal, release } = this.inFlight.track(job.data.runId);
        try {
          const outcome = await handler(job.data, signal);
          if (this.inFlight.closing && signal.aborted) throw new WorkerClosingError();
          return outcome;
        } finally {
          release();
        }
      },
      {
        connection: this.workerConn,
        prefix: this.prefix,
        concurrency: Math.max(1, this.o.concurrency ?? 1),
        lockDuration: this.o.lockDurationMs ?? 30_000,
        stalledInterval: this.o.stalledIntervalMs ?? 30_000,
        maxStalledCount: this.o.maxStalledCount ?? 2,
      },
    );
    this.worker.on("error", (err) => log().warn({ err }, "research worker error"));
    this.worker.on("failed", (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === "UnrecoverableError";
      if (!final || this.inFlight.closing) {
        log().warn({ err, job: job.id, attempt: job.attemptsMade }, "iteration job failed; retrying");
        return;
      }
      log().error({ err, job: job.id }, "iteration job failed for good");
      void onFailed?.(job.data, err).catch((e: unknown) => log().error({ err: e }, "onFailed threw"));
    });
    await this.worker.waitUntilReady();
  }

  async publishControl(msg: ControlMessage): Promise<void> {
    // Our own in-flight iterations hear it too: a subscriber receives its own process's publishes.
    await this.producer.publish(this.channel, JSON.stringify(msg));
  }

  async depth(): Promise<number> {
    const c = await this.queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async ping(): Promise<void> {
    await this.producer.ping();
  }

  /** Warns when Redis may evict keys: BullMQ loses jobs and locks under any policy but noeviction. */
  async checkEviction(): Promise<string | undefined> {
    try {
      const reply = (await this.producer.config("GET", "maxmemory-policy")) as unknown as string[];
      const policy = reply[1];
      if (policy && policy !== "noeviction") {
        const warning = `redis maxmemory-policy is ${policy}: set it to noeviction or BullMQ can lose jobs`;
        log().warn(warning);
        return warning;
      }
    } catch (err) {
      // Managed Redis often forbids CONFIG; not knowing is not an error.
      log().debug({ err }, "could not read maxmemory-policy");
    }
    return undefined;
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.worker) {
      const worker = this.worker;
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), timeoutMs);
      });
      const closing = worker.close();
      if ((await Promise.race([closing, bounded])) === "timeout") {
        // Abort what still runs; the jobs throw WorkerClosingError and are retried elsewhere.
        this.inFlight.closing = true;
        this.inFlight.abortAll();
        await Promise.race([closing, new Promise((r) => setTimeout(r, 5000))]);
        await worker.close(true);
      }
      clearTimeout(timer);
    }
    await this.subscriber?.quit().catch(() => undefined);
    await this.queue.close();
    await this.workerConn?.quit().catch(() => undefined);
    await this.producer.quit().catch(() => undefined);
  }
}
