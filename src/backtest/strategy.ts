/**
 * The strategy API: what a strategy module imports as `alphaloop/strategy`.
 *
 * This file is bundled verbatim into every sandbox (the compiler resolves `alphaloop/strategy` to
 * it), so it must stay free of runtime imports: type-only imports are erased, anything else would be
 * dragged into the sandbox. For `tsc` to type-check files under strategies/, tsconfig needs
 * `"paths": { "alphaloop/strategy": ["./src/backtest/strategy.ts"] }`.
 *
 * ```ts
 * import { defineStrategy, int } from "alphaloop/strategy";
 * export default defineStrategy({
 *   name: "ema-cross", family: "trend", description: "fast EMA crossing the slow EMA",
 *   params: { fast: int(5, 50, 12), slow: int(10, 200, 26) },
 *   signals(bars, p, ta) {
 *     const f = ta.ema(bars.close, p.fast), s = ta.ema(bars.close, p.slow);
 *     return { enterLong: ta.crossover(f, s), exitLong: ta.crossunder(f, s) };
 *   },
 * });
 * ```
 */
import type { Bars as DomainBars } from "../domain/bars.ts";
import type { ta as taLibrary } from "./ta/index.ts";

/** Columnar bars, one Float64Array per field (time is the bar's open time in ms, UTC). */
export type Bars = DomainBars;

/** The indicator library handed to `signals` as its third argument. */
export type Ta = typeof taLibrary;

export interface IntParam {
  readonly type: "int";
  readonly min: number;
  readonly max: number;
  readonly default: number;
}
export interface FloatParam {
  readonly type: "float";
  readonly min: number;
  readonly max: number;
  readonly default: number;
}
export interface BoolParam {
  readonly type: "bool";
  readonly default: boolean;
}
export interface ChoiceParam<T extends string = string> {
  readonly type: "choice";
  readonly options: readonly T[];
  readonly default: T;
}
export type ParamSpec = IntParam | FloatParam | BoolParam | ChoiceParam;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** The values `signals` receives for declared params: numbers, booleans or one of the choices. */
export type ParamValues<P extends ParamSpecs> = {
  readonly [K in keyof P]: P[K] extends ChoiceParam<infer T> ? T : P[K] extends BoolParam ? boolean : number;
};

/** An integer parameter searched in [min, max]. */
export function int(min: number, max: number, defaultValue: number): IntParam {
  return { type: "int", min, max, default: defaultValue };
}

/** A real-valued parameter searched in [min, max]. */
export function float(min: number, max: number, defaultValue: number): FloatParam {
  return { type: "float", min, max, default: defaultValue };
}

export function bool(defaultValue: boolean): BoolParam {
  return { type: "bool", default: defaultValue };
}

/** One of a fixed set of strings, e.g. `choice(["sma", "ema"], "ema")`. */
export function choice<const T extends string>(
  options: readonly T[],
  defaultValue: NoInfer<T>,
): ChoiceParam<T> {
  return { type: "choice", options, default: defaultValue };
}

/**
 * A boolean-ish event series: 1/true on the bar whose close triggers the action, 0/false elsewhere.
 * Typed arrays are the fast path; plain arrays are accepted.
 */
export type EventSeries = Uint8Array | Float64Array | Int8Array | ArrayLike<number> | ArrayLike<boolean>;

export interface EventOutput {
  readonly enterLong: EventSeries;
  readonly exitLong: EventSeries;
  readonly enterShort?: EventSeries;
  readonly exitShort?: EventSeries;
}

/**
 * Wanted exposure in [-1, 1] from each bar's close on. NaN is allowed only in a leading warm-up run
 * (it means flat); a NaN after the first number is an invalid output.
 */
export interface TargetOutput {
  readonly target: Float64Array | ArrayLike<number>;
}

export type SignalOutput = EventOutput | TargetOutput;

export interface StrategyDefinition<P extends ParamSpecs = ParamSpecs> {
  /** Short kebab-case name, unique in the library. */
  readonly name: string;
  /** Family such as trend, mean-reversion, breakout, volatility, carry. */
  readonly family: string;
  /** One or two sentences: the hypothesis the strategy tests. */
  readonly description: string;
  readonly params: P;
  /**
   * Computes the whole signal series in one pass. Runs in a sandbox: no clock, no network, no
   * imports besides this module; `Math.random` is seeded so runs are reproducible.
   */
  signals(bars: Bars, p: ParamValues<P>, ta: Ta): SignalOutput;
}

/** Identity at runtime; exists so `p.fast` is typed from the declared params. */
export function defineStrategy<const P extends ParamSpecs>(
  definition: StrategyDefinition<P>,
): StrategyDefinition<P> {
  return definition;
}
