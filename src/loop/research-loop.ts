/**
 * The research loop: claim nudges → driver proposes → evaluate on the search window → gates and
 * ledger → holdout once if it passed → driver decides → iteration row, nudge claims and events in
 * one transaction. Then budgets and stuck detection, and the next iteration.
 *
 * Durability: nothing is "in flight" in memory that matters. An iteration either committed (its
 * row exists) or it is redone from scratch; trials and events carry stable keys, so a redo never
 * duplicates them, and nudges are claimed only by the transaction that commits the iteration.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Sandbox } from "../backtest/sandbox/index.ts";
import { type Bars, lowerBound } from "../domain/bars.ts";
import {
  type Decision,
  eventId,
  type IterationStatus,
  type IterationSummary,
  NO_TOKENS,
  type Nudge,
  type RunEvent,
  type StageTimings,
  type TokenUsage,
} from "../domain/run.ts";
import { datasetKey, durationMs, type FrozenRunConfig, holdoutWindowHash } from "../domain/run-config.ts";
import { log } from "../log/logger.ts";
import type { CandidateOutcome, Driver, DriverContext, ProposedCandidate } from "./driver.ts";
import { driverView } from "./driver.ts";
import { type Evaluation, evaluateCandidate } from "./evaluate.ts";
import type { FoldExecutors } from "./fold-executor.ts";
import { evaluateHoldout } from "./holdout.ts";
import {
  islandHistory,
  islandOf,
  islandSeed,
  islandSettings,
  migrantsFor,
  triedElsewhere,
} from "./islands.ts";
import { type Judgement, judge } from "./judge.ts";
import type { TrialLedger } from "./ledger.ts";
import type { RunRecord, RunRepository } from "./run-repository.ts";
import { bestDistance, detectStuck } from "./stuck.ts";
import type { RunWindows } from "./windows.ts";

export interface LoopDeps {
  readonly runs: RunRepository;
  readonly ledger: TrialLedger;
  readonly windows: RunWindows;
  readonly sandbox: Sandbox;
  readonly driver: Driver;
  /** Where folds run (the `backtests` queue); unset: inside the evaluation. */
  readonly folds?: FoldExecutors;
  /** Called after each committed iteration (the terminal front end prints a row). */
  readonly onIteration?: (it: CompletedIteration) => void;
  readonly now?: () => number;
}

export interface CompletedIteration {
  readonly n: number;
  /** The island the iteration belongs to (0 in a run without islands). */
  readonly island: number;
  readonly status: IterationStatus;
  readonly name: string | null;
  readonly family: string | null;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly gates: CandidateOutcome["gates"];
  readonly reasons: readonly string[];
  readonly decision: Decision | null;
  readonly forced: string | null;
  readonly nudges: readonly Nudge[];
  readonly holdout: HoldoutSummary | null;
  readonly tokens: TokenUsage;
  readonly timings: StageTimings;
  /** Candidates backtested (as stored on the iteration row). */
  readonly backtests: number;
}

export interface HoldoutSummary {
  readonly ok: boolean;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly error?: string;
  readonly from?: number;
  readonly to?: number;
  /** Holdout evaluations on this dataset and holdout window so far, this one included. */
  readonly peeks: number;
}

/** Thrown by a driver when the model endpoint stays down past the client's retry budget. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof Error && (err.name === "LlmUnreachableError" || /unreachable/i.test(err.name));
}

/**
 * A lost or refused database connection (server restart, network, admin termination), as opposed
 * to a bug in a query: those are worth waiting out.
 */
export function isDatabaseDown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: string }).code ?? "";
  if (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "ETIMEDOUT",
      "57P01",
      "57P02",
      "57P03",
      "08000",
      "08003",
      "08006",
    ].includes(code)
  ) {
    return true;
  }
  return /Connection terminated|terminating connection|connect ECONNREFUSED|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    err.message,
  );
}

/** Sleeps, returning early (without throwing) when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * Resampled search bars by timeframe, per search-bars object: shared by every iteration of a run and
 * by every run in this process on the same window (the window cache hands out one object per
 * window). Bars are never mutated after loading, so sharing is safe; a WeakMap lets them go.
 */
const resampledCache = new WeakMap<Bars, Map<string, Bars>>();

function resampledOf(bars: Bars): Map<string, Bars> {
  let m = resampledCache.get(bars);
  if (!m) {
    m = new Map();
    resampledCache.set(bars, m);
  }
  return m;
}

const CURVE_POINTS = 200;

/** Equity and buy-and-hold sampled to a few hundred points for the thread's chart. */
function curveOf(ev: Evaluation, closeAt: (t: number) => number | undefined) {
  const eq = ev.equity;
  const time = ev.time;
  if (!eq || !time || eq.length === 0) return undefined;
  const step = Math.max(1, Math.floor(eq.length / CURVE_POINTS));
  const t: number[] = [];
  const equity: number[] = [];
  const benchmark: number[] = [];
  const c0 = closeAt(time[0] as number);
  for (let i = 0; i < eq.length; i += step) {
    t.push(time[i] as number);
    equity.push(Number((eq[i] as number).toFixed(5)));
    const c = closeAt(time[i] as number);
    benchmark.push(c0 && c ? Number((c / c0).toFixed(5)) : 1);
  }
  return { t, equity, benchmark };
}

function metricsRecord(ev: Evaluation | undefined, j: Judgement | undefined): Record<string, number> | null {
  if (!ev?.aggregate) return null;
  return {
    ...(ev.aggregate as unknown as Record<string, number>),
    dsr: j?.deflation?.dsr ?? 0,
    foldsPositive: j?.foldsPositive ?? 0,
  };
}

function failedFixesInARow(history: readonly IterationSummary[]): number {
  let k = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i] as IterationSummary;
    if (h.decision === "fix" && (h.status === "crashed" || h.status === "model_error")) k++;
    else break;
  }
  return k;
}

export class ResearchLoop {
  private readonly now: () => number;
  private lastSeen: RunRecord | undefined;

  constructor(
    private readonly deps: LoopDeps,
    private readonly frozen: FrozenRunConfig,
    private readonly runId: string,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Runs iterations until a budget is spent, the run is stopped or paused (from any process: the
   * status is re-read before every iteration), or `signal` aborts. Returns the run as it ends.
   */
  async run(signal: AbortSignal): Promise<RunRecord> {
    if (!(await this.begin())) return this.current();
    for (;;) {
      const s = await this.step(signal);
      if (s.done) return s.run;
    }
  }

  /** Moves the run to `running` (from created, running or paused); false if it is not resumable. */
  async begin(): Promise<boolean> {
    return this.deps.runs.setStatus(
      this.runId,
      "running",
      null,
      [{ eventId: eventId(this.runId, "run.started"), runId: this.runId, type: "run.started", payload: {} }],
      ["created", "running", "paused"],
    );
  }

  /**
   * One guarded step: re-reads the run, ends it when a budget is spent, otherwise runs one
   * iteration; a model or database outage pauses (and maybe resumes) the run as `run()` always did.
   * `done` means there is nothing more to do for this run now (finished, paused, stopped, aborted).
   * A queue worker calls this once per job; `run()` calls it in a loop.
   */
  async step(signal: AbortSignal): Promise<{ done: boolean; run: RunRecord }> {
    const more = (r: RunRecord) => ({ done: false, run: r });
    const end = (r: RunRecord) => ({ done: true, run: r });
    // The run as last read, for the pause events' iteration number when a read itself fails.
    let run = this.lastSeen as RunRecord;
    try {
      run = await this.current();
      this.lastSeen = run;
      if (run.status !== "running" || signal.aborted) return end(run);
      const done = this.budgetSpent(run);
      if (done) return end(await this.finish("completed", done));
      await this.iterate(run, signal);
      return more(await this.current());
    } catch (err) {
      if (signal.aborted) return end(await this.current());
      if (isUnreachable(err)) {
        const reason = `model endpoint unreachable since ${this.clock()} UTC`;
        await this.pauseFor(reason, run);
        log().warn({ run: this.runId, reason }, "run paused");
        if (await this.waitForEndpoint(reason, signal)) return more(await this.current());
        return end(await this.current());
      }
      if (isDatabaseDown(err)) {
        const reason = `database unreachable since ${this.clock()} UTC`;
        log().warn({ run: this.runId, err }, "database unreachable; waiting for it");
        // Nothing of the iteration was committed (its writes are one transaction), so once the
        // database answers the run is paused with the reason and, when configured, resumed.
        if (!(await this.waitForDatabase(signal))) return end(await this.current().catch(() => run));
        await this.pauseFor(reason, run);
        if (this.frozen.config.loop.auto_resume_seconds > 0) {
          if (await this.resumeAfter("the database answers again", run)) return more(await this.current());
        }
        return end(await this.current());
      }
      throw err;
    }
  }

  /** Polls the store until it answers (or the signal aborts); with backoff up to 30 s. */
  private async waitForDatabase(signal: AbortSignal): Promise<boolean> {
    let delay = 250;
    while (!signal.aborted) {
      try {
        await this.deps.runs.getRun(this.runId);
        return true;
      } catch (err) {
        if (!isDatabaseDown(err)) throw err;
      }
      await pause(delay, signal);
      delay = Math.min(30_000, delay * 2);
    }
    return false;
  }

  /**
   * With `loop.auto_resume_seconds`, probes the model endpoint until it answers, then resumes the
   * run (unless a person changed its status meanwhile). Returns whether the run is running again.
   */
  private async waitForEndpoint(reason: string, signal: AbortSignal): Promise<boolean> {
    const every = this.frozen.config.loop.auto_resume_seconds * 1000;
    const probe = this.deps.driver.available?.bind(this.deps.driver);
    if (every <= 0 || !probe) return false;
    for (;;) {
      await pause(every, signal);
      if (signal.aborted) return false;
      const run = await this.current();
      if (run.status !== "paused" || run.statusReason !== reason) return false;
      if (!(await probe(signal))) continue;
      return this.resumeAfter("the model endpoint answers again", run);
    }
  }

  /** `HH:MM` of now, UTC, for pause reasons people read. */
  private clock(): string {
    return new Date(this.now()).toISOString().slice(11, 16);
  }

  /** Pauses the run with a reason people read, and its `run.paused` event. */
  private async pauseFor(reason: string, run: RunRecord | undefined): Promise<void> {
    await this.deps.runs.setStatus(this.runId, "paused", reason, [
      {
        eventId: eventId(this.runId, "run.paused", (run?.iterationsDone ?? 0) + 1, String(this.now())),
        runId: this.runId,
        type: "run.paused",
        payload: { reason },
      },
    ]);
  }

  /** Resumes a paused run (unless someone else changed its status); whether it is running again. */
  private resumeAfter(reason: string, run: RunRecord | undefined): Promise<boolean> {
    return this.deps.runs.setStatus(
      this.runId,
      "running",
      null,
      [
        {
          eventId: eventId(this.runId, "run.resumed", (run?.iterationsDone ?? 0) + 1, String(this.now())),
          runId: this.runId,
          type: "run.resumed",
          payload: { reason },
        },
      ],
      ["paused"],
    );
  }

  private async current(): Promise<RunRecord> {
    const run = await this.deps.runs.getRun(this.runId);
    if (!run) throw new Error(`run ${this.runId} does not exist`);
    return run;
  }

  private budgetSpent(run: RunRecord): string | undefined {
    const b = this.frozen.config.budgets;
    if (run.iterationsDone >= b.max_iterations) return `reached max_iterations (${b.max_iterations})`;
    if (run.startedAt && this.now() - run.startedAt.getTime() >= durationMs(b.max_wall_clock)) {
      return `reached max_wall_clock (${b.max_wall_clock})`;
    }
    if (b.max_tokens_total !== undefined && run.tokensUsed >= b.max_tokens_total) {
      return `reached max_tokens_total (${b.max_tokens_total})`;
    }
    if (this.frozen.config.loop.stop_on_first_pass && run.passes > 0)
      return "a candidate passed every gate (stop_on_first_pass)";
    return undefined;
  }

  private async finish(status: "completed" | "stopped" | "failed", reason: string): Promise<RunRecord> {
    const run = await this.current();
    await this.deps.runs.setStatus(
      this.runId,
      status,
      reason,
      [
        {
          eventId: eventId(this.runId, "run.finished"),
          runId: this.runId,
          type: "run.finished",
          payload: {
            status,
            reason,
            iterations: run.iterationsDone,
            passes: run.passes,
            bestIteration: run.bestIteration,
            bestDistance: run.bestDistance,
          },
        },
      ],
      ["running"],
    );
    return this.current();
  }

  /** One iteration, committed atomically at the end (or not at all). */
  async iterate(run: RunRecord, signal: AbortSignal): Promise<CompletedIteration> {
    const { runs, ledger, driver, sandbox, windows } = this.deps;
    const config = this.frozen.config;
    const n = (await runs.lastIteration(this.runId)) + 1;
    const history = await runs.history(this.runId);
    // Islands take turns; each sees only its own iterations, plus the others' best as migrants.
    const islands = islandSettings(config.loop);
    const island = islandOf(n, islands.islands);
    const own = islandHistory(history, island, islands.islands);
    const migrants = migrantsFor(history, n, islands);
    const islandFields = islands.islands > 1 ? { island } : {};
    // The snapshot of nudges this iteration uses; one arriving later waits for the next iteration.
    const nudges = await runs.pendingNudges(this.runId);
    const searchBars = await windows.search();
    const resampled = resampledOf(searchBars);
    const timings: StageTimings = { proposeMs: 0, compileMs: 0, backtestMs: 0, gateMs: 0, decideMs: 0 };
    const evaluated = new Map<number, { ev: Evaluation; j: Judgement }>();
    const trialIds: number[] = [];

    const evaluate = async (c: ProposedCandidate): Promise<CandidateOutcome> => {
      const folds = this.deps.folds?.forIteration(this.runId, n);
      const ev = await evaluateCandidate(c, {
        run: this.frozen,
        searchBars,
        sandbox,
        resampled,
        ...(folds ? { folds } : {}),
      });
      timings.compileMs += ev.timings.compileMs;
      timings.backtestMs += ev.timings.backtestMs + ev.timings.lookaheadMs;
      const tg = performance.now();
      const j = await judge(ev, {
        run: this.frozen,
        ledger,
        driver: driver.name,
        runId: this.runId,
        iteration: n,
        // The same candidate redone after a crash is the same trial, never a second one.
        idempotencyKey: `${this.runId}:${n}:${ev.codeHash}:${ev.configHash}`,
      });
      timings.gateMs += performance.now() - tg;
      evaluated.set(j.trialId, { ev, j });
      if (!trialIds.includes(j.trialId)) trialIds.push(j.trialId);
      return {
        status: j.status === "crashed" ? "crashed" : j.status,
        reasons: j.verdict.reasons,
        gates: j.verdict.results,
        distance: j.verdict.distance,
        ...(ev.aggregate ? { metrics: metricsRecord(ev, j) as Record<string, number> } : {}),
        ...(ev.error ? { error: ev.error } : {}),
        ...(ev.strategy ? { strategyName: ev.strategy.name, family: ev.strategy.family } : {}),
        trialId: j.trialId,
      };
    };

    const ctx: DriverContext = {
      runId: this.runId,
      iteration: n,
      brief: run.brief,
      config: driverView(config),
      seed: islandSeed(config.loop.seed, island),
      history: own,
      island,
      islands: islands.islands,
      migrants,
      triedElsewhere: triedElsewhere(history, island, islands.islands),
      nudges,
      signal,
      evaluate,
    };

    const tp = performance.now();
    const proposal = await driver.propose(ctx);
    // Cut short (pause, stop, shutdown): what the driver returns now is an artefact of the abort
    // (a model call torn down mid-answer reads as a model error), so nothing is committed and the
    // nudges stay pending for the redo. Trials already judged keep their idempotency keys.
    signal.throwIfAborted();
    timings.proposeMs = performance.now() - tp - timings.compileMs - timings.backtestMs - timings.gateMs;
    const tokens = proposal.usage ?? NO_TOKENS;
    const candidate = proposal.candidate;

    let outcome: CandidateOutcome | undefined;
    if (candidate) outcome = proposal.outcome ?? (await evaluate(candidate));
    const detail = outcome ? evaluated.get(outcome.trialId) : undefined;

    // The sealed holdout: once, for a candidate that passed; humans see it, drivers never do.
    let holdout: HoldoutSummary | null = null;
    if (candidate && outcome?.status === "passed" && detail?.ev.config) {
      const h = await evaluateHoldout(candidate, detail.ev.config.timeframe, {
        run: this.frozen,
        windows,
        sandbox,
      });
      const peeks = await ledger.recordHoldout({
        dataset: datasetKey(config),
        holdoutHash: holdoutWindowHash(config),
        trialId: outcome.trialId,
        runId: this.runId,
        iteration: n,
        metrics: h.ok ? { ...h.metrics } : { error: h.error.message },
        idempotencyKey: `${this.runId}:${n}:holdout`,
      });
      holdout = h.ok
        ? {
            ok: true,
            metrics: { ...(h.metrics as unknown as Record<string, number>) },
            from: h.from,
            to: h.to,
            peeks,
          }
        : { ok: false, error: h.error.message, peeks };
    }

    let decision: Decision | null = proposal.decision ?? null;
    const td = performance.now();
    if (!decision && candidate && outcome) decision = await driver.decide(ctx, candidate, outcome);
    timings.decideMs = performance.now() - td;

    // Loop policy on top of any driver.
    let forced: string | null = null;
    const crashed = !outcome || outcome.status === "crashed";
    if (
      decision?.decision === "fix" &&
      crashed &&
      failedFixesInARow(own) + 1 >= config.loop.max_fix_attempts
    ) {
      forced = `${config.loop.max_fix_attempts} failed fixes in a row: abandoning this idea`;
      decision = { ...decision, decision: "abandon" };
    }
    const isDup = (reasons: readonly string[]) => reasons.some((r) => r.startsWith("duplicate of"));
    if (
      outcome &&
      isDup(outcome.reasons) &&
      isDup(own.at(-1)?.reasons ?? []) &&
      decision?.decision !== "new_approach"
    ) {
      forced = "repeated near-duplicates: forcing a new approach";
      decision = {
        decision: "new_approach",
        rationale: decision?.rationale ?? forced,
        nextHypothesis: decision?.nextHypothesis ?? "",
      };
    }

    const status: IterationStatus = !candidate
      ? "model_error"
      : outcome?.status === "passed"
        ? "passed"
        : outcome?.status === "crashed"
          ? "crashed"
          : "discarded";
    const reasons = outcome?.reasons ?? [`model_error: ${proposal.modelError?.message ?? "no candidate"}`];
    const metrics = metricsRecord(detail?.ev, detail?.j);
    const distance = outcome ? outcome.distance : null;

    const distances = [...history.map((h) => h.distance), distance];
    const families = [...history.map((h) => h.family), outcome?.family ?? candidate?.family ?? null];
    const best = bestDistance(distances);
    const stuck = detectStuck({ distances, families, k: config.loop.stuck_after });

    const name = outcome?.strategyName ?? candidate?.name ?? null;
    const family = outcome?.family ?? candidate?.family ?? null;
    const events: RunEvent[] = [];
    // Sparse lookups into the base bars for the buy-and-hold line (the last bar when t is past them).
    const closeAt = (t: number) =>
      searchBars.close[Math.min(lowerBound(searchBars.time, t), searchBars.time.length - 1)];
    events.push({
      eventId: eventId(this.runId, "iteration.completed", n),
      runId: this.runId,
      type: "iteration.completed",
      payload: {
        n,
        ...islandFields,
        ...(migrants.length > 0
          ? {
              migrants: migrants.map((m) => ({ island: m.island, n: m.iteration.n, name: m.iteration.name })),
            }
          : {}),
        name,
        family,
        status,
        hypothesis: proposal.hypothesis ?? candidate?.hypothesis ?? null,
        metrics,
        gates: outcome?.gates ?? [],
        reasons,
        decision,
        forced,
        nudges: nudges.map((x) => ({ id: x.id, author: x.author, text: x.text })),
        tokens,
        timings,
        curve: detail ? curveOf(detail.ev, closeAt) : undefined,
      },
    });
    for (const x of nudges) {
      events.push({
        eventId: eventId(this.runId, "nudge.applied", n, String(x.id)),
        runId: this.runId,
        type: "nudge.applied",
        payload: { n, nudgeId: x.id, author: x.author, text: x.text, source: x.source },
      });
    }
    if (status === "passed" && candidate) {
      events.push({
        eventId: eventId(this.runId, "gate.passed", n),
        runId: this.runId,
        type: "gate.passed",
        payload: {
          n,
          ...islandFields,
          name,
          family,
          metrics,
          gates: outcome?.gates ?? [],
          code: candidate.code,
          configYaml: candidate.configYaml,
        },
      });
    }
    if (holdout) {
      events.push({
        eventId: eventId(this.runId, "holdout.evaluated", n),
        runId: this.runId,
        type: "holdout.evaluated",
        payload: { n, name, ...holdout },
      });
    }
    if (stuck.stuck && !run.stuck) {
      events.push({
        eventId: eventId(this.runId, "run.stuck", n),
        runId: this.runId,
        type: "run.stuck",
        payload: { n, reason: stuck.reason },
      });
    }

    signal.throwIfAborted();
    const backtests = proposal.backtests ?? trialIds.length;
    const committed = await runs.commitIteration(
      {
        runId: this.runId,
        n,
        name,
        family,
        hypothesis: proposal.hypothesis ?? candidate?.hypothesis ?? null,
        code: candidate?.code ?? null,
        configYaml: candidate?.configYaml ?? null,
        status,
        metrics,
        folds: detail?.ev.folds ?? null,
        gates: outcome?.gates ?? null,
        reasons,
        distance,
        decision,
        forced,
        nudgeIds: nudges.map((x) => x.id),
        tokens,
        timings,
        trialIds: [...new Set([...(proposal.trialIds ?? []), ...trialIds])],
        backtests,
        error:
          detail?.ev.error ??
          (proposal.modelError ? { kind: "model_error", message: proposal.modelError.message } : null),
        rawOutput: proposal.modelError?.raw ?? null,
        holdout,
      },
      {
        passesDelta: status === "passed" ? 1 : 0,
        bestDistance: best.best,
        bestIteration: best.at,
        tokens: tokens.promptTokens + tokens.completionTokens,
        stuck: stuck.stuck,
      },
      events,
    );
    const done: CompletedIteration = {
      n,
      island,
      status,
      name,
      family,
      metrics,
      gates: outcome?.gates ?? [],
      reasons,
      decision,
      forced,
      nudges,
      holdout,
      tokens,
      timings,
      backtests,
    };
    if (committed) this.deps.onIteration?.(done);
    return done;
  }
}
