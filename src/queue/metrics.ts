/** Prometheus metrics of a worker process, on its own registry (tests build several in one process). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CompletedIteration } from "../loop/research-loop.ts";

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly iterations: Counter<"status">;
  readonly backtests: Counter;
  readonly foldJobs: Counter;
  readonly gatePasses: Counter;
  readonly modelLatency: Histogram;
  readonly parseRepairs: Counter;

  constructor(queueDepth?: () => Promise<number>) {
    const registers = [this.registry];
    this.iterations = new Counter({
      name: "alphaloop_iterations_total",
      help: "Iterations committed by this process, by status",
      labelNames: ["status"],
      registers,
    });
    this.backtests = new Counter({
      name: "alphaloop_backtests_total",
      help: "Candidate backtests run by this process (rate() gives backtests/s)",
      registers,
    });
    this.foldJobs = new Counter({
      name: "alphaloop_fold_backtests_total",
      help: "Fold backtests (one walk-forward fold of one candidate) this process ran from the backtests queue",
      registers,
    });
    this.gatePasses = new Counter({
      name: "alphaloop_gate_passes_total",
      help: "Candidates that passed every gate",
      registers,
    });
    this.modelLatency = new Histogram({
      name: "alphaloop_model_latency_seconds",
      help: "Time the driver spent proposing a candidate (model time for the llm driver), per iteration",
      buckets: [0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.parseRepairs = new Counter({
      name: "alphaloop_parse_repairs_total",
      help: "Iterations whose model output needed tool-call repair or ended as model_error",
      registers,
    });
    if (queueDepth) {
      new Gauge({
        name: "alphaloop_queue_depth",
        help: "Research jobs waiting, delayed or running",
        registers,
        async collect() {
          this.set(await queueDepth().catch(() => Number.NaN));
        },
      });
    }
  }

  /** Counts one committed iteration; `backtests` comes from its stored row. */
  observe(it: CompletedIteration, backtests: number): void {
    this.iterations.inc({ status: it.status });
    if (backtests > 0) this.backtests.inc(backtests);
    if (it.status === "passed") this.gatePasses.inc();
    if (it.status === "model_error") this.parseRepairs.inc();
    this.modelLatency.observe(it.timings.proposeMs / 1000);
  }
}
