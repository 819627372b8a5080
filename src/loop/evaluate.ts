/**
 * Evaluate one candidate (strategy code + config YAML) under a frozen run config, on the search
 * window only: compile and sandbox the strategy, backtest it on every walk-forward fold, stitch the
 * folds into one out-of-sample record, and check it for look-ahead. The caller hands in the
 * search-window bars; this module has no way to reach the holdout.
 *
 * Nothing a candidate does can throw out of here: every failure comes back as data so the loop can
 * show it to the model and go on.
 */
import { createHash } from "node:crypto";
import { checkLookahead, type LookaheadReport } from "../backtest/lookahead.ts";
import {
  type DailyReturns,
  metrics,
  type ScalarMetrics,
  scalarMetrics,
  summaryMetrics,
} from "../backtest/metrics.ts";
import type { Sandbox, SandboxError, StrategyHandle, StrategyMeta } from "../backtest/sandbox/index.ts";
import { type SimulationBuffers, type SimulationResult, simulate, type Trade } from "../backtest/simulate.ts";
import { type ConfigError, parseStrategyConfig } from "../backtest/strategy-config.ts";
import { type Bars, lowerBound, sliceBars } from "../domain/bars.ts";
import type { FrozenRunConfig } from "../domain/run-config.ts";
import type { Signals } from "../domain/signals.ts";
import type { StrategyConfig } from "../domain/strategy-config.ts";
import { timeframeMs } from "../domain/timeframe.ts";
import { resampleBars } from "../market/resample.ts";
import { type FoldExecutor, partAsSimulation, simulationOptions } from "./fold-executor.ts";
import { type Fold, planFolds } from "./folds.ts";

export interface Candidate {
  /** Strategy module source (TypeScript). */
  readonly code: string;
  /** Strategy config (YAML). */
  readonly configYaml: string;
  readonly hypothesis?: string;
}

export type EvaluationErrorKind = SandboxError["kind"] | "config";

export interface EvaluationError {
  readonly kind: EvaluationErrorKind;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export interface FoldOutcome {
  readonly index: number;
  /** Open time of the fold's first and last evaluated bar, ms. */
  readonly from: number;
  readonly to: number;
  readonly metrics: ScalarMetrics;
}

export interface EvaluationTimings {
  compileMs: number;
  backtestMs: number;
  lookaheadMs: number;
  totalMs: number;
}

export interface Evaluation {
  /** evaluated: backtested (may still fail gates); crash: the code or config failed; policy: it tried to set harness-owned keys. */
  readonly status: "evaluated" | "crash" | "policy";
  readonly error?: EvaluationError;
  /** `config sets windows.search.start`-style lines; never applied. */
  readonly policyViolations: readonly string[];
  readonly strategy?: StrategyMeta;
  readonly config?: StrategyConfig;
  readonly folds: readonly FoldOutcome[];
  /** Metrics of the folds stitched end to end (the out-of-sample record over the search window). */
  readonly aggregate?: ScalarMetrics;
  readonly returns?: Float64Array;
  readonly daily?: DailyReturns;
  /** Per-bar equity of the stitched record and the bar times it is marked at. */
  readonly equity?: Float64Array;
  readonly time?: Float64Array;
  readonly trades?: readonly Trade[];
  readonly lookahead?: LookaheadReport;
  /** Folds that used the full-window signals instead of running the strategy on their own bars. */
  readonly sharedSignalFolds?: number;
  readonly codeHash: string;
  readonly configHash: string;
  readonly timings: EvaluationTimings;
}

export interface EvaluateContext {
  readonly run: FrozenRunConfig;
  /** Bars of the run's dataset at its base timeframe, search window only. */
  readonly searchBars: Bars;
  readonly sandbox: Sandbox;
  /** Cut points for the look-ahead check (default 3; 0 skips it). */
  readonly lookaheadCuts?: number;
  /** Resampled search bars by timeframe, shared across candidates of a run. */
  readonly resampled?: Map<string, Bars>;
  /** Runs the folds elsewhere (the `backtests` queue); unset: right here, one after another. */
  readonly folds?: FoldExecutor;
}

/** Normalised text hash: whitespace runs and line endings don't make a "new" candidate. */
export function normalisedHash(text: string): string {
  return createHash("sha256")
    .update(
      text
        .replace(/\r\n/g, "\n")
        .replace(/[ \t]+/g, " ")
        .trim(),
    )
    .digest("hex");
}

function barsFor(ctx: EvaluateContext, timeframe: string): Bars {
  const base = ctx.run.config.dataset.timeframe;
  if (timeframe === base) return ctx.searchBars;
  const cached = ctx.resampled?.get(timeframe);
  if (cached) return cached;
  const bars = resampleBars(ctx.searchBars, base, timeframe).bars;
  ctx.resampled?.set(timeframe, bars);
  return bars;
}

/** "config sets a.b, c" lines: the policy message names every leaf the config tried to set. */
function policyLines(errors: readonly ConfigError[]): string[] {
  return errors
    .filter((e) => e.kind === "policy")
    .map((e) => e.message.replace(/^policy: /, "").split(" — ")[0] ?? `config sets ${e.path}`);
}

function harnessError(err: unknown): EvaluationError {
  return {
    kind: "invalid_output",
    message: `the simulator rejected this candidate: ${err instanceof Error ? err.message : String(err)}`,
  };
}

class SignalsFailure extends Error {
  constructor(readonly error: SandboxError) {
    super(error.message);
  }
}

async function signalsOf(
  handle: StrategyHandle,
  bars: Bars,
  params: Record<string, unknown>,
): Promise<Signals> {
  const r = await handle.signals(bars, params);
  if (!r.ok) throw new SignalsFailure(r.error);
  return r.signals;
}

/**
 * Whether a fold may use the full-window signals on its bars instead of running the strategy on
 * [warmupStart, end): the look-ahead check found none (so signals up to the fold's end do not
 * depend on later bars), and either the fold's history starts at the window's first bar (anchored:
 * the same prefix) or its warm-up covers the measured need. The measurement compares event
 * signals exactly but targets only within 1e-6, so a target strategy on a rolling fold is run
 * per fold: the reuse must give the same trades and equity, not nearly the same.
 */
function reusable(report: LookaheadReport, full: Signals, f: Fold): boolean {
  if (!report.ok || !report.warmupStable) return false;
  if (f.warmupStart === 0) return true;
  return full.kind === "events" && f.start - f.warmupStart >= report.warmupBars;
}

/** Signals on bars [from, to) as views over the same memory. */
function sliceSignals(s: Signals, from: number, to: number): Signals {
  if (s.kind === "target") return { kind: "target", target: s.target.subarray(from, to) };
  return {
    kind: "events",
    enterLong: s.enterLong.subarray(from, to),
    exitLong: s.exitLong.subarray(from, to),
    ...(s.enterShort ? { enterShort: s.enterShort.subarray(from, to) } : {}),
    ...(s.exitShort ? { exitShort: s.exitShort.subarray(from, to) } : {}),
  };
}

/** The parts' evaluated times as one view, if they lie back to back in the same buffer. */
function contiguousTimes(parts: readonly SimulationResult[], n: number): Float64Array | undefined {
  const first = parts[0];
  if (!first) return undefined;
  const buffer = first.time.buffer;
  const start = first.time.byteOffset + first.startIndex * 8;
  let next = start;
  for (const p of parts) {
    const len = p.returns.length - p.startIndex;
    if (
      p.time.buffer !== buffer ||
      p.time.byteOffset + p.startIndex * 8 !== next ||
      p.time.length - p.startIndex < len
    )
      return undefined;
    next += len * 8;
  }
  return new Float64Array(buffer, start, n);
}

/** Joins per-fold simulations into one record whose equity compounds across folds. */
function stitch(parts: readonly SimulationResult[]): SimulationResult {
  let n = 0;
  for (const p of parts) n += p.returns.length - p.startIndex;
  const returns = new Float64Array(n);
  const equity = new Float64Array(n);
  const position = new Float64Array(n);
  // Folds that follow each other in one bar array (they always do) stitch their times into a view
  // of that array: no 8 MB copy per million bars.
  const shared = contiguousTimes(parts, n);
  const time = shared ?? new Float64Array(n);
  const trades: Trade[] = [];
  let turnover = 0;
  let k = 0;
  let e = 1;
  for (const p of parts) {
    const len = p.returns.length - p.startIndex;
    // Block copies (memcpy) for what is only moved; one tight loop for the compounded equity.
    const r = p.returns.subarray(p.startIndex);
    returns.set(r, k);
    position.set(p.position.subarray(p.startIndex), k);
    if (!shared) time.set(p.time.subarray(p.startIndex, p.startIndex + len), k);
    for (let i = 0; i < len; i++) {
      e *= 1 + (r[i] as number);
      equity[k + i] = e;
    }
    k += len;
    for (const t of p.trades) trades.push(t);
    turnover += p.turnover;
  }
  return { returns, equity, position, time, trades, turnover, startIndex: 0 };
}

/**
 * The stitched record of folds run in this process, built in place: each fold simulates straight
 * into the record's returns and position columns (through views that start `warm-up` bars before
 * the fold's place in the record, over the previous fold's bars, which the simulator leaves
 * alone before its start bar) and into one equity buffer reused across folds (only the fold's
 * own summary reads it). The record is the same as `stitch` of the folds' fresh simulations, bit
 * for bit, without their three columns per fold and the copies out of them.
 */
class FoldRecord {
  readonly returns: Float64Array;
  readonly position: Float64Array;
  private readonly trades: Trade[] = [];
  private turnover = 0;
  private k = 0;
  private scratch: Float64Array | undefined;
  private readonly first: number;
  private contiguous = true;
  private last: number;

  constructor(private readonly folds: readonly Fold[]) {
    let n = 0;
    for (const f of folds) n += f.end - f.start;
    this.returns = new Float64Array(n);
    this.position = new Float64Array(n);
    this.first = folds[0]?.start ?? 0;
    this.last = this.first;
  }

  /** Buffers for fold f, or undefined when its warm-up reaches before the record's first bar. */
  buffersFor(f: Fold): SimulationBuffers | undefined {
    const warm = f.start - f.warmupStart;
    const len = f.end - f.start;
    if (warm > this.k) return undefined;
    const n = warm + len;
    if (!this.scratch || this.scratch.length < n) {
      let most = n;
      for (const g of this.folds) most = Math.max(most, g.end - g.warmupStart);
      this.scratch = new Float64Array(most);
    }
    return {
      equity: this.scratch.subarray(0, n),
      returns: this.returns.subarray(this.k - warm, this.k + len),
      position: this.position.subarray(this.k - warm, this.k + len),
    };
  }

  /** Takes fold f's simulation; `copy` when it ran on its own arrays rather than buffersFor's. */
  add(f: Fold, sim: SimulationResult, copy: boolean): void {
    const len = f.end - f.start;
    if (copy) {
      this.returns.set(sim.returns.subarray(sim.startIndex, sim.startIndex + len), this.k);
      this.position.set(sim.position.subarray(sim.startIndex, sim.startIndex + len), this.k);
    }
    if (f.start !== this.last) this.contiguous = false;
    this.last = f.end;
    this.k += len;
    for (const t of sim.trades) this.trades.push(t);
    this.turnover += sim.turnover;
  }

  /** The record, its equity compounded across folds; times are a view when the folds lie back to back. */
  finish(time: Float64Array): SimulationResult {
    const n = this.k;
    const returns = this.returns;
    const equity = new Float64Array(n);
    let e = 1;
    for (let i = 0; i < n; i++) {
      e *= 1 + (returns[i] as number);
      equity[i] = e;
    }
    let times: Float64Array;
    if (this.contiguous) times = time.subarray(this.first, this.first + n);
    else {
      times = new Float64Array(n);
      let k = 0;
      for (const f of this.folds) {
        times.set(time.subarray(f.start, f.end), k);
        k += f.end - f.start;
      }
    }
    return {
      returns,
      equity,
      position: this.position,
      time: times,
      trades: this.trades,
      turnover: this.turnover,
      startIndex: 0,
    };
  }
}

export async function evaluateCandidate(candidate: Candidate, ctx: EvaluateContext): Promise<Evaluation> {
  const t0 = performance.now();
  const timings: EvaluationTimings = { compileMs: 0, backtestMs: 0, lookaheadMs: 0, totalMs: 0 };
  const base = {
    codeHash: normalisedHash(candidate.code),
    configHash: normalisedHash(candidate.configYaml),
    policyViolations: [] as string[],
    folds: [] as FoldOutcome[],
    timings,
  };
  const done = (e: Omit<Evaluation, keyof typeof base> & Partial<typeof base>): Evaluation => {
    timings.totalMs = performance.now() - t0;
    return { ...base, ...e };
  };

  const loaded = await ctx.sandbox.load(candidate.code);
  timings.compileMs = performance.now() - t0;
  if (!loaded.ok)
    return done({
      status: loaded.error.kind === "policy" ? "policy" : "crash",
      error: loaded.error,
      policyViolations: loaded.error.kind === "policy" ? [loaded.error.message] : [],
    });
  const handle = loaded.handle;
  try {
    const strategy = handle.meta;
    const parsed = parseStrategyConfig(candidate.configYaml, strategy.params);
    if (!parsed.ok) {
      const policy = policyLines(parsed.errors);
      const message = parsed.errors.map((e) => e.message).join("\n");
      return done({
        status: policy.length > 0 ? "policy" : "crash",
        error: { kind: policy.length > 0 ? "policy" : "config", message },
        policyViolations: policy,
        strategy,
      });
    }
    const config = parsed.config;
    const run = ctx.run.config;
    const baseMs = timeframeMs(run.dataset.timeframe);
    const tfMs = timeframeMs(config.timeframe);
    if (tfMs % baseMs !== 0) {
      return done({
        status: "crash",
        error: {
          kind: "config",
          message: `timeframe: ${config.timeframe} is not a multiple of the dataset's ${run.dataset.timeframe} bars`,
        },
        strategy,
        config,
      });
    }
    const bars = barsFor(ctx, config.timeframe);
    let folds: Fold[];
    try {
      folds = planFolds(bars.time.length, {
        folds: run.walk_forward.folds,
        scheme: run.walk_forward.scheme,
        warmupBars: run.walk_forward.warmup_bars,
      });
    } catch (err) {
      return done({
        status: "crash",
        error: { kind: "config", message: `timeframe ${config.timeframe}: ${(err as Error).message}` },
        strategy,
        config,
      });
    }

    const params = config.params as Record<string, unknown>;
    const simOptions = simulationOptions(config, run);
    // The look-ahead check runs first: it needs the full-window signals anyway, and its warm-up
    // measurement says whether the folds may reuse them.
    let lookahead: LookaheadReport | undefined;
    let full: Signals | undefined;
    const cuts = ctx.lookaheadCuts ?? 3;
    if (cuts > 0) {
      const tl = performance.now();
      try {
        full = await signalsOf(handle, bars, params);
        lookahead = await checkLookahead({
          bars,
          signalsFor: (b) => signalsOf(handle, b, params),
          cuts,
          seed: run.loop.seed,
          full,
        });
      } catch (err) {
        if (err instanceof SignalsFailure)
          return done({ status: "crash", error: err.error, strategy, config });
        throw err;
      }
      timings.lookaheadMs = performance.now() - tl;
    }

    const tb = performance.now();
    const parts: SimulationResult[] = [];
    const foldOutcomes: FoldOutcome[] = [];
    const delegated = ctx.folds
      ? await ctx.folds.evaluate({
          candidate,
          run: ctx.run,
          timeframe: config.timeframe,
          folds,
          bars,
          codeHash: base.codeHash,
          configHash: base.configHash,
        })
      : undefined;
    if (delegated?.ok === false) return done({ status: "crash", error: delegated.error, strategy, config });
    for (const p of delegated?.ok ? delegated.parts : []) {
      const f = folds[p.outcome.index] as Fold;
      parts.push(partAsSimulation(p, bars.time.subarray(f.start, f.end)));
      foldOutcomes.push(p.outcome);
    }
    let sharedSignalFolds = 0;
    let stitched: SimulationResult;
    if (delegated) stitched = stitch(parts);
    else {
      // Folds run here simulate straight into the stitched record's columns (see FoldRecord).
      const record = new FoldRecord(folds);
      try {
        for (const f of folds) {
          const slice = sliceBars(bars, f.warmupStart, f.end);
          const reuse = full && lookahead && reusable(lookahead, full, f) ? full : undefined;
          if (reuse) sharedSignalFolds++;
          const signals = reuse
            ? sliceSignals(reuse, f.warmupStart, f.end)
            : await signalsOf(handle, slice, params);
          const startIndex = f.start - f.warmupStart;
          const into = record.buffersFor(f);
          const sim = simulate(slice, signals, { ...simOptions, startIndex, ...(into ? { into } : {}) });
          // Summarised now: the next fold reuses the equity buffer and writes over this one's warm-up.
          foldOutcomes.push({
            index: f.index,
            from: bars.time[f.start] as number,
            to: bars.time[f.end - 1] as number,
            metrics: summaryMetrics(sim, { timeframe: config.timeframe }),
          });
          record.add(f, sim, !into);
        }
      } catch (err) {
        if (err instanceof SignalsFailure)
          return done({ status: "crash", error: err.error, strategy, config });
        // A candidate must never take the run down, even through a gap in config validation.
        return done({ status: "crash", error: harnessError(err), strategy, config });
      }
      stitched = record.finish(bars.time);
    }
    const all = metrics(stitched, { timeframe: config.timeframe });
    timings.backtestMs = performance.now() - tb;

    return done({
      status: "evaluated",
      strategy,
      config,
      folds: foldOutcomes,
      aggregate: scalarMetrics(all),
      returns: stitched.returns,
      daily: all.daily,
      equity: stitched.equity,
      time: stitched.time,
      trades: stitched.trades,
      ...(lookahead ? { lookahead } : {}),
      sharedSignalFolds,
    });
  } finally {
    handle.dispose();
  }
}

export interface SingleBacktestOptions {
  /** Base-timeframe bars: any warm-up history first, then the bars to trade from `startTime` on. */
  readonly bars: Bars;
  readonly baseTimeframe: string;
  /** Open time of the first bar that may trade (default: the first bar). */
  readonly startTime?: number;
  readonly feeBps: number;
  readonly slippageBps: number;
  readonly sandbox: Sandbox;
  /** Look-ahead cut points (default 0: skipped). */
  readonly lookaheadCuts?: number;
  readonly seed?: number;
}

export type SingleBacktest =
  | { readonly ok: false; readonly error: EvaluationError; readonly policyViolations: readonly string[] }
  | {
      readonly ok: true;
      readonly strategy: StrategyMeta;
      readonly config: StrategyConfig;
      readonly metrics: ScalarMetrics;
      readonly trades: readonly Trade[];
      readonly lookahead?: LookaheadReport;
      readonly from: number;
      readonly to: number;
    };

function configFailure(errors: readonly ConfigError[]): SingleBacktest {
  const policy = policyLines(errors);
  return {
    ok: false,
    error: {
      kind: policy.length > 0 ? "policy" : "config",
      message: errors.map((e) => e.message).join("\n"),
    },
    policyViolations: policy,
  };
}

/**
 * One backtest of a candidate over one stretch of bars: the sealed holdout, and `alphaloop
 * backtest` for people trying a strategy by hand. No folds, no ledger.
 */
export async function backtestOnce(candidate: Candidate, o: SingleBacktestOptions): Promise<SingleBacktest> {
  const loaded = await o.sandbox.load(candidate.code);
  if (!loaded.ok) return { ok: false, error: loaded.error, policyViolations: [] };
  const handle = loaded.handle;
  try {
    const parsed = parseStrategyConfig(candidate.configYaml, handle.meta.params);
    if (!parsed.ok) return configFailure(parsed.errors);
    const config = parsed.config;
    let bars: Bars;
    try {
      bars =
        config.timeframe === o.baseTimeframe
          ? o.bars
          : resampleBars(o.bars, o.baseTimeframe, config.timeframe).bars;
    } catch (err) {
      return {
        ok: false,
        error: { kind: "config", message: `timeframe: ${(err as Error).message}` },
        policyViolations: [],
      };
    }
    // The first strategy bar opening at or after startTime; bars before it only feed indicators.
    const start = o.startTime === undefined ? 0 : lowerBound(bars.time, o.startTime);
    if (start >= bars.time.length) {
      return {
        ok: false,
        error: { kind: "config", message: "no bars in the requested window" },
        policyViolations: [],
      };
    }
    const params = config.params as Record<string, unknown>;
    const r = await handle.signals(bars, params);
    if (!r.ok) return { ok: false, error: r.error, policyViolations: [] };
    let sim: SimulationResult;
    try {
      sim = simulate(bars, r.signals, {
        direction: config.direction,
        risk: config.risk,
        sizing: config.sizing,
        feeBps: o.feeBps,
        slippageBps: o.slippageBps,
        timeframe: config.timeframe,
        startIndex: start,
      });
    } catch (err) {
      return { ok: false, error: harnessError(err), policyViolations: [] };
    }
    let lookahead: LookaheadReport | undefined;
    if ((o.lookaheadCuts ?? 0) > 0) {
      try {
        lookahead = await checkLookahead({
          bars,
          signalsFor: (b) => signalsOf(handle, b, params),
          cuts: o.lookaheadCuts ?? 0,
          seed: o.seed ?? 1,
          full: r.signals,
        });
      } catch (err) {
        if (err instanceof SignalsFailure) return { ok: false, error: err.error, policyViolations: [] };
        throw err;
      }
    }
    return {
      ok: true,
      strategy: handle.meta,
      config,
      metrics: scalarMetrics(metrics(sim, { timeframe: config.timeframe })),
      trades: sim.trades,
      ...(lookahead ? { lookahead } : {}),
      from: bars.time[start] as number,
      to: bars.time[bars.time.length - 1] as number,
    };
  } finally {
    handle.dispose();
  }
}
