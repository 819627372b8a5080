/**
 * Runs untrusted strategy code in an isolated-vm isolate: a separate V8 heap with a memory limit,
 * a time limit per evaluation, and no host objects reachable from inside (only copies cross).
 *
 * One isolate per Sandbox, reused across candidates because creating one costs far more than a
 * context; a fresh context per loaded candidate, so candidates never see each other's globals. If a
 * candidate blows the memory limit V8 disposes the whole isolate; the next call transparently
 * builds a new one. Every failure comes back as a `SandboxError`, never as a host exception.
 * The isolate also holds one shared harness context (ta and output validation, see runtime.ts).
 * Its built-ins are checked before and after every call (a change left by a candidate's microtask
 * is found by the next call's check and blamed on that candidate if it made the last call); a
 * candidate that changed them gets a policy error and retires the whole isolate, as a memory
 * blow-up does.
 *
 * Production notes: a memory blow-up kills every context in the isolate, so run candidates one at a
 * time per Sandbox (the loop does); vitest and the CLI need Node's `--no-node-snapshot` on Node 20.
 */
import ivm from "isolated-vm";
import { BAR_FIELDS, type BarField, type Bars } from "../../domain/bars.ts";
import type { Signals } from "../../domain/signals.ts";
import { closest } from "../../domain/suggest.ts";
import { type ParamValue, resolveParams } from "../strategy-config.ts";
import { COMPILED_FILE, type CompiledStrategy, type CompileResult, compileStrategy } from "./compile.ts";
import { checkMeta, type StrategyMeta } from "./definition.ts";
import { harnessSource, runtimeSource } from "./runtime.ts";
import { type Failure, failure, type SandboxError, type SandboxErrorKind } from "./sandbox-error.ts";
import { taBundle } from "./ta-bundle.ts";

export interface SandboxOptions {
  /** V8 heap limit of the isolate in MB (typed-array memory counts too). Default 128. */
  readonly memoryLimitMb?: number;
  /** Wall-time limit per evaluation (module setup, one `signals` call) in ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Seed of the in-sandbox `Math.random`, reset before every call. Default 1. */
  readonly seed?: number;
  /** Largest strategy source accepted, in bytes. Default 256 KB. */
  readonly maxSourceBytes?: number;
  /** Entry file of the `ta` library bundled into every context. Default src/backtest/ta/index.ts. */
  readonly taEntry?: string;
}

export const DEFAULT_MEMORY_LIMIT_MB = 128;
export const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_SEED = 1;
/** Our own setup script (ta bundle + lockdown) gets at least this long even under tiny test limits. */
const MIN_SETUP_TIMEOUT_MS = 5000;
const SCRIPT_CACHE_LIMIT = 256;
/** Bar windows up to this long are run with a synchronous call into the isolate (see signals). */
const SYNC_MAX_BARS = 65_536;
const OUTPUT_KEYS = ["target", "enterLong", "exitLong", "enterShort", "exitShort"];

export interface SignalsTimings {
  /** Copying the bar columns into the isolate. */
  readonly transferMs: number;
  /** The whole call into the isolate: module instantiation, signals, validation, copy out. */
  readonly runMs: number;
  /** The strategy's own `signals` function, timed inside the isolate (ms resolution). */
  readonly signalsMs: number;
  /** Checking and converting the output inside the isolate (ms resolution). */
  readonly validateMs: number;
  readonly totalMs: number;
}

export type SignalsResult =
  | {
      readonly ok: true;
      readonly signals: Signals;
      readonly meta: StrategyMeta;
      /** The param values used: the given ones with defaults filled in. */
      readonly params: Readonly<Record<string, ParamValue>>;
      /** console output of the call (first lines only). */
      readonly logs: readonly string[];
      readonly timings: SignalsTimings;
    }
  | (Failure & { readonly logs?: readonly string[] });

export interface LoadTimings {
  readonly compileMs: number;
  /** Context creation, runtime setup, module instantiation and describe. */
  readonly setupMs: number;
}

export type LoadResult =
  | { readonly ok: true; readonly handle: StrategyHandle; readonly timings: LoadTimings }
  | Failure;

export type DescribeResult = { readonly ok: true; readonly meta: StrategyMeta } | Failure;

export interface SignalsCallOptions {
  readonly seed?: number;
}

interface IsolateState {
  readonly isolate: ivm.Isolate;
  /** The frozen harness ({ ta, checkBuiltins, validate }) in its own context, shared by every candidate. */
  readonly harness: ivm.Reference;
  /** The harness realm's built-ins check, called by the host after a call cut short (time limit). */
  readonly harnessCheck: ivm.Reference;
  readonly runtime: ivm.Script;
  readonly scripts: Map<string, ivm.Script>;
}

/** What the in-isolate driver returns (after being copied out). */
type DriverResult =
  | {
      ok: true;
      meta?: unknown;
      signals?: RawSignals;
      logs?: string[];
      signalsMs?: number;
      validateMs?: number;
    }
  | {
      ok: false;
      kind: SandboxErrorKind;
      message: string;
      stack?: string;
      logs?: string[];
      unknownKey?: string;
    }
  /** The strategy read a bar column the host did not copy in: run again with it. */
  | { ok: false; kind: "missing_column"; column: BarField; message: string }
  /** An earlier candidate changed the shared harness realm: the isolate must be replaced. */
  | { ok: false; kind: "harness_tainted"; message: string; logs?: string[] };

type RawSignals =
  | {
      kind: "events";
      enterLong: Uint8Array;
      exitLong: Uint8Array;
      enterShort?: Uint8Array;
      exitShort?: Uint8Array;
    }
  | { kind: "target"; target: Float64Array };

export class Sandbox {
  readonly memoryLimitMb: number;
  readonly timeoutMs: number;
  readonly seed: number;
  private readonly maxSourceBytes: number | undefined;
  private readonly taEntry: string | undefined;
  private state: Promise<IsolateState> | undefined;
  private disposed = false;
  /** @internal The handle whose call entered the isolate last (candidates run one at a time). */
  lastCaller: StrategyHandle | undefined;

  constructor(options: SandboxOptions = {}) {
    this.memoryLimitMb = options.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.seed = options.seed ?? DEFAULT_SEED;
    this.maxSourceBytes = options.maxSourceBytes;
    this.taEntry = options.taEntry;
  }

  compile(source: string): Promise<CompileResult> {
    return compileStrategy(
      source,
      this.maxSourceBytes === undefined ? {} : { maxSourceBytes: this.maxSourceBytes },
    );
  }

  /**
   * Compiles (cached by source hash) and instantiates a strategy in a fresh context. The handle
   * runs `signals` on as many bar windows as needed; dispose it when done.
   */
  async load(source: string | CompiledStrategy): Promise<LoadResult> {
    const t0 = performance.now();
    let compiled: CompiledStrategy;
    if (typeof source === "string") {
      const result = await this.compile(source);
      if (!result.ok) return result;
      compiled = result.compiled;
    } else compiled = source;
    const t1 = performance.now();
    const handle = new StrategyHandle(this, compiled);
    const error = await handle.setup();
    if (error) {
      handle.dispose();
      return { ok: false, error };
    }
    return { ok: true, handle, timings: { compileMs: t1 - t0, setupMs: performance.now() - t1 } };
  }

  /** One-shot: load, compute signals on `bars`, dispose. */
  async run(
    source: string | CompiledStrategy,
    bars: Bars,
    params?: Readonly<Record<string, unknown>>,
    options?: SignalsCallOptions,
  ): Promise<SignalsResult> {
    const loaded = await this.load(source);
    if (!loaded.ok) return loaded;
    try {
      return await loaded.handle.signals(bars, params, options);
    } finally {
      loaded.handle.dispose();
    }
  }

  /** Name, family, description and declared params, without calling `signals`. */
  async describe(source: string | CompiledStrategy): Promise<DescribeResult> {
    const loaded = await this.load(source);
    if (!loaded.ok) return loaded;
    const meta = loaded.handle.meta;
    loaded.handle.dispose();
    return { ok: true, meta };
  }

  dispose(): void {
    this.disposed = true;
    const state = this.state;
    this.state = undefined;
    void state?.then(
      (s) => {
        if (!s.isolate.isDisposed) s.isolate.dispose();
      },
      () => undefined,
    );
  }

  /** @internal The live isolate, rebuilt if a candidate's memory blow-up disposed the old one. */
  async isolateState(): Promise<IsolateState> {
    if (this.disposed) throw new Error("sandbox is disposed");
    const current = this.state;
    if (current) {
      const s = await current.catch(() => undefined);
      if (s && !s.isolate.isDisposed) return s;
      if (this.state !== current) return this.isolateState();
    }
    const next = this.createIsolate();
    this.state = next;
    next.catch(() => {
      if (this.state === next) this.state = undefined;
    });
    return next;
  }

  private async createIsolate(): Promise<IsolateState> {
    const bundle = await taBundle(this.taEntry);
    const isolate = new ivm.Isolate({ memoryLimit: this.memoryLimitMb });
    try {
      const harnessContext = await isolate.createContext();
      const harnessScript = await isolate.compileScript(harnessSource(bundle), {
        filename: "alphaloop-harness.js",
      });
      const harness = (await harnessScript.run(harnessContext, {
        reference: true,
        timeout: Math.max(this.timeoutMs, MIN_SETUP_TIMEOUT_MS),
      })) as ivm.Reference;
      harnessScript.release();
      const harnessCheck = (await harness.get("checkBuiltins", { reference: true })) as ivm.Reference;
      const runtime = await isolate.compileScript(runtimeSource(), { filename: "alphaloop-runtime.js" });
      return { isolate, harness, harnessCheck, runtime, scripts: new Map() };
    } catch (error) {
      isolate.dispose();
      throw error;
    }
  }

  /**
   * @internal Retires an isolate whose shared harness realm a candidate changed: every context in
   * it is dropped (their handles rebuild on their next call) and the next call gets a fresh one.
   */
  retire(isolate: ivm.Isolate): void {
    if (!isolate.isDisposed) isolate.dispose();
  }

  /** @internal */
  async scriptFor(state: IsolateState, compiled: CompiledStrategy): Promise<ivm.Script> {
    const cached = state.scripts.get(compiled.hash);
    if (cached) return cached;
    const script = await state.isolate.compileScript(compiled.code, { filename: COMPILED_FILE });
    if (state.scripts.size >= SCRIPT_CACHE_LIMIT) {
      const [oldestKey, oldest] = state.scripts.entries().next().value ?? [];
      if (oldestKey !== undefined) state.scripts.delete(oldestKey);
      oldest?.release();
    }
    state.scripts.set(compiled.hash, script);
    return script;
  }
}

/** A strategy instantiated in its own context; only the bars change between calls. */
export class StrategyHandle {
  private context: ivm.Context | undefined;
  private driver: ivm.Reference | undefined;
  private factory: ivm.Reference | undefined;
  private isolate: ivm.Isolate | undefined;
  private state: IsolateState | undefined;
  private described: StrategyMeta | undefined;
  private disposed = false;
  /**
   * Bar columns copied into the isolate: those whose names appear in the compiled strategy, plus
   * any a call was found reading (the driver reports it and the call is re-run). A guess that is
   * too small costs a re-run, never a result computed without the column.
   */
  private readonly columns: Set<BarField>;

  constructor(
    private readonly sandbox: Sandbox,
    readonly compiled: CompiledStrategy,
  ) {
    this.columns = new Set(BAR_FIELDS.filter((f) => new RegExp(`\\b${f}\\b`).test(compiled.code)));
  }

  /** @internal The columns the next call copies in. */
  get loadedColumns(): readonly BarField[] {
    return BAR_FIELDS.filter((f) => this.columns.has(f));
  }

  get meta(): StrategyMeta {
    if (!this.described) throw new Error("strategy handle is not loaded");
    return this.described;
  }

  /** @internal Builds the context; returns the error if the module cannot be instantiated. */
  async setup(retried = false): Promise<SandboxError | undefined> {
    this.releaseContext();
    const state = await this.sandbox.isolateState();
    const timeout = this.sandbox.timeoutMs;
    try {
      this.state = state;
      this.isolate = state.isolate;
      this.context = await state.isolate.createContext();
      const prelude = (await state.runtime.run(this.context, {
        reference: true,
        timeout: Math.max(timeout, MIN_SETUP_TIMEOUT_MS),
      })) as ivm.Reference;
      try {
        this.driver = (await prelude.apply(undefined, [state.harness.derefInto()], {
          result: { reference: true },
          timeout: Math.max(timeout, MIN_SETUP_TIMEOUT_MS),
        })) as ivm.Reference;
      } finally {
        prelude.release();
      }
      const script = await this.sandbox.scriptFor(state, this.compiled);
      this.factory = (await script.run(this.context, { reference: true, timeout })) as ivm.Reference;
      this.sandbox.lastCaller = this;
      const result = (await this.driver.apply(
        undefined,
        ["describe", this.factory.derefInto(), this.sandbox.seed],
        {
          timeout,
          result: { copy: true },
        },
      )) as DriverResult;
      // No code of this candidate had run before the driver's check: a change is an earlier one's.
      if (!result.ok && result.kind === "harness_tainted" && !retried) {
        this.sandbox.retire(state.isolate);
        return this.setup(true);
      }
      if (!result.ok) return this.driverError(result);
      const meta = checkMeta(result.meta);
      if (!meta.ok) return { kind: "invalid_output", message: meta.message };
      this.described = meta.meta;
      return undefined;
    } catch (error) {
      const shared = this.state ? this.harnessChanged(this.state) : undefined;
      return shared ? { kind: "policy", message: shared } : this.hostError(error);
    }
  }

  /**
   * The harness realm's check, run by the host after a call that did not return (time limit):
   * its driver never reached the end, and the next call to find the change may be another
   * candidate's. A change retires the isolate so no later candidate meets it.
   */
  private harnessChanged(state: IsolateState): string | undefined {
    if (state.isolate.isDisposed) return undefined;
    let message: unknown;
    try {
      message = state.harnessCheck.applySync(undefined, [], { timeout: this.sandbox.timeoutMs });
    } catch (error) {
      message = `the shared ta realm could not be checked after the strategy ran (${error instanceof Error ? error.message : String(error)})`;
    }
    if (typeof message !== "string") return undefined;
    this.sandbox.retire(state.isolate);
    return message;
  }

  async signals(
    bars: Bars,
    params: Readonly<Record<string, unknown>> = {},
    options: SignalsCallOptions = {},
  ): Promise<SignalsResult> {
    if (this.disposed) throw new Error("strategy handle is disposed");
    const t0 = performance.now();
    if (!this.context || this.isolate?.isDisposed) {
      // A previous call (or another candidate) blew the isolate's memory; rebuild in a fresh one.
      const error = await this.setup();
      if (error) return { ok: false, error };
    }
    const meta = this.meta;
    const resolved = resolveParams(meta.params, params);
    if (!resolved.ok) {
      return failure("policy", resolved.errors.map((e) => e.message).join("; "));
    }
    const n = bars.time.length;
    const columns = [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume];
    for (const column of columns) {
      if (!(column instanceof Float64Array) || column.length !== n) {
        throw new TypeError("bars must be Float64Array columns of equal length");
      }
    }
    try {
      let result: DriverResult;
      let t1: number;
      let t2: number;
      let replaced = false;
      for (;;) {
        const transfers = BAR_FIELDS.map((f) => (this.columns.has(f) ? copyIntoIsolate(bars[f]) : undefined));
        const paramsCopy = new ivm.ExternalCopy(resolved.values).copyInto({ release: true });
        t1 = performance.now();
        const driver = this.driver as ivm.Reference;
        const previous = this.sandbox.lastCaller;
        this.sandbox.lastCaller = this;
        const args = [
          "signals",
          (this.factory as ivm.Reference).derefInto(),
          options.seed ?? this.sandbox.seed,
          paramsCopy,
          n,
          ...transfers,
        ];
        const callOptions = { timeout: this.sandbox.timeoutMs, result: { copy: true as const } };
        // A short window runs synchronously: the async call's hand-off to the isolate's thread and
        // back cost about as much as a few-hundred-bar strategy call itself (0.27 vs 0.13 ms CPU a
        // call), and the look-ahead check makes dozens of them. Same isolate, limits and driver;
        // the host's event loop waits at most the time limit. Long inputs stay asynchronous.
        result = (
          n <= SYNC_MAX_BARS
            ? driver.applySync(undefined, args, callOptions)
            : await driver.apply(undefined, args, callOptions)
        ) as DriverResult;
        t2 = performance.now();
        if (!result.ok && result.kind === "harness_tainted") {
          // The driver checks the shared realm before the strategy runs, so the change came
          // before this call. If this handle made the last call it is this candidate's own (a
          // microtask it left behind) and it gets the policy error; otherwise run the call again
          // in a fresh isolate, unblamed.
          if (previous === this || replaced) {
            this.sandbox.retire((this.state as IsolateState).isolate);
            break;
          }
          replaced = true;
          this.sandbox.retire((this.state as IsolateState).isolate);
          const error = await this.setup();
          if (error) return { ok: false, error };
          continue;
        }
        if (result.ok || result.kind !== "missing_column") break;
        if (!BAR_FIELDS.includes(result.column) || this.columns.has(result.column)) {
          throw new Error(`sandbox driver asked for bar column ${String(result.column)} twice`);
        }
        this.columns.add(result.column);
      }
      if (!result.ok) return { ok: false, error: this.driverError(result), logs: result.logs ?? [] };
      const signals = checkSignals(result.signals, n);
      if (typeof signals === "string") return failure("invalid_output", signals);
      return {
        ok: true,
        signals,
        meta,
        params: resolved.values,
        logs: result.logs ?? [],
        timings: {
          transferMs: t1 - t0,
          runMs: t2 - t1,
          signalsMs: result.signalsMs ?? Number.NaN,
          validateMs: result.validateMs ?? Number.NaN,
          totalMs: t2 - t0,
        },
      };
    } catch (error) {
      // A call cut short (time limit) still had its chance to change the shared realm.
      const shared = this.state ? this.harnessChanged(this.state) : undefined;
      return { ok: false, error: shared ? { kind: "policy", message: shared } : this.hostError(error) };
    }
  }

  dispose(): void {
    this.disposed = true;
    this.releaseContext();
  }

  private releaseContext(): void {
    for (const ref of [this.driver, this.factory]) {
      try {
        ref?.release();
      } catch {
        // Already gone with a disposed isolate.
      }
    }
    try {
      if (this.context && !this.isolate?.isDisposed) this.context.release();
    } catch {
      // Already gone with a disposed isolate.
    }
    this.context = undefined;
    this.driver = undefined;
    this.factory = undefined;
    this.state = undefined;
  }

  private driverError(result: Extract<DriverResult, { ok: false }>): SandboxError {
    if (result.kind === "missing_column") {
      // Only a `signals` call has bars; seeing this anywhere else is a harness bug.
      return { kind: "runtime", message: `bar column ${result.column} was read outside signals` };
    }
    if (result.kind === "harness_tainted") return { kind: "policy", message: result.message };
    const position = result.stack ? this.positionInStack(result.stack) : undefined;
    const hint = result.unknownKey === undefined ? undefined : closest(result.unknownKey, OUTPUT_KEYS);
    const base =
      result.kind === "memory"
        ? `the strategy exceeded the sandbox memory limit of ${this.sandbox.memoryLimitMb} MB (${result.message})`
        : hint
          ? `${result.message}; did you mean ${hint}?`
          : result.message;
    const message = position ? `${base} (strategy.ts:${position.line}:${position.column})` : base;
    return position
      ? { kind: result.kind, message, line: position.line, column: position.column }
      : { kind: result.kind, message: base };
  }

  /** Failures the isolate reports to the host: time limit, memory limit, or something of ours. */
  private hostError(error: unknown): SandboxError {
    const message = error instanceof Error ? error.message : String(error);
    if (this.isolate?.isDisposed || /disposed/i.test(message)) {
      this.releaseContext();
      return {
        kind: "memory",
        message: `the strategy exceeded the sandbox memory limit of ${this.sandbox.memoryLimitMb} MB`,
      };
    }
    if (/timed out/i.test(message)) {
      return {
        kind: "timeout",
        message: `the strategy exceeded the time limit of ${this.sandbox.timeoutMs} ms`,
      };
    }
    const position = error instanceof Error && error.stack ? this.positionInStack(error.stack) : undefined;
    return position
      ? { kind: "runtime", message, line: position.line, column: position.column }
      : { kind: "runtime", message };
  }

  private positionInStack(stack: string): { line: number; column: number } | undefined {
    for (const match of stack.matchAll(/strategy\.js:(\d+):(\d+)/g)) {
      const position = this.compiled.originalPosition(Number(match[1]), Number(match[2]));
      if (position) return position;
    }
    return undefined;
  }
}

/**
 * Copies exactly the view's bytes (never the rest of its buffer: a fold must not see later bars).
 * One host copy, then ownership of that copy moves into the isolate without another memcpy.
 */
function copyIntoIsolate(column: Float64Array): ivm.Copy<ArrayBuffer> {
  const own = column.slice();
  return new ivm.ExternalCopy(own.buffer, { transferOut: true }).copyInto({
    release: true,
    transferIn: true,
  });
}

/** Host-side re-check of the driver's output shape; the driver already validated the values. */
function checkSignals(raw: RawSignals | undefined, n: number): Signals | string {
  const eventsOk = (a: unknown): a is Uint8Array => a instanceof Uint8Array && a.length === n;
  if (raw?.kind === "target") {
    return raw.target instanceof Float64Array && raw.target.length === n
      ? { kind: "target", target: raw.target }
      : "target series came back malformed";
  }
  if (raw?.kind === "events" && eventsOk(raw.enterLong) && eventsOk(raw.exitLong)) {
    if (raw.enterShort !== undefined && !eventsOk(raw.enterShort)) return "enterShort came back malformed";
    if (raw.exitShort !== undefined && !eventsOk(raw.exitShort)) return "exitShort came back malformed";
    return {
      kind: "events",
      enterLong: raw.enterLong,
      exitLong: raw.exitLong,
      ...(raw.enterShort ? { enterShort: raw.enterShort } : {}),
      ...(raw.exitShort ? { exitShort: raw.exitShort } : {}),
    };
  }
  return "signals came back malformed";
}
