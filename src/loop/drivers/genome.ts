/**
 * What the model-free drivers search over: a library strategy plus everything its config may set
 * (params inside the declared ranges, timeframe, direction, risk, sizing). Genomes are written out
 * as strategy-config YAML and read back from the YAML stored in the run's history, so a driver can
 * rebuild its whole state from the history alone.
 */
import type { ParamSpec, ParamSpecs } from "../../backtest/strategy.ts";
import { type ParamValue, parseStrategyConfig } from "../../backtest/strategy-config.ts";
import type { RiskConfig, SizingConfig, StrategyConfig } from "../../domain/strategy-config.ts";
import { timeframeMs } from "../../domain/timeframe.ts";
import type { Random } from "../../market/prng.ts";
import type { ProposedCandidate } from "../driver.ts";
import type { Library, LibraryEntry } from "../library.ts";

export interface Genome {
  readonly strategy: string;
  readonly timeframe: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly direction: StrategyConfig["direction"];
  readonly risk: RiskConfig;
  readonly sizing: SizingConfig;
}

export function findEntry(library: Library, name: string | null | undefined): LibraryEntry | undefined {
  return name ? library.find((e) => e.name === name) : undefined;
}

const yamlKey = (k: string) => (/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k));
// Plain words stay unquoted like the library's YAML; anything YAML could read as another type is quoted.
const yamlScalar = (v: unknown) =>
  typeof v !== "string"
    ? String(v)
    : /^[A-Za-z_][\w.-]*$/.test(v) && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(v)
      ? v
      : JSON.stringify(v);

function flowMap(o: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${yamlKey(k)}: ${yamlScalar(v)}`);
  return `{ ${parts.join(", ")} }`;
}

function block(o: Readonly<Record<string, unknown>>): string {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) =>
      typeof v === "object" && v !== null
        ? `  ${yamlKey(k)}: ${flowMap(v as Record<string, unknown>)}\n`
        : `  ${yamlKey(k)}: ${yamlScalar(v)}\n`,
    )
    .join("");
}

/** The config YAML of a genome, laid out like the library's; only keys the schema allows. */
export function genomeYaml(g: Genome): string {
  let out = `strategy: ${g.strategy}\ntimeframe: ${g.timeframe}\n`;
  out += Object.keys(g.params).length > 0 ? `params:\n${block(g.params)}` : "params: {}\n";
  out += `direction: ${g.direction}\n`;
  if (Object.keys(g.risk).length > 0) out += `risk:\n${block(g.risk)}`;
  out += `sizing:\n${block(g.sizing)}`;
  return out;
}

export function genomeCandidate(entry: LibraryEntry, g: Genome, hypothesis: string): ProposedCandidate {
  return { code: entry.code, configYaml: genomeYaml(g), hypothesis, name: entry.name, family: entry.family };
}

// Drivers re-read the whole history on every proposal and a YAML parse costs milliseconds, so
// decoded configs are remembered per library (bounded: cleared when it grows past the cap).
const decoded = new WeakMap<Library, Map<string, Genome | undefined>>();
const DECODED_CAP = 20_000;

/** Reads a genome back from a config the run stored; undefined when it is not a library strategy's. */
export function genomeFromYaml(library: Library, yaml: string | null | undefined): Genome | undefined {
  if (!yaml) return undefined;
  let memo = decoded.get(library);
  if (!memo) {
    memo = new Map();
    decoded.set(library, memo);
  }
  if (memo.has(yaml)) return memo.get(yaml);
  if (memo.size >= DECODED_CAP) memo.clear();
  const genome = decodeGenome(library, yaml);
  memo.set(yaml, genome);
  return genome;
}

function decodeGenome(library: Library, yaml: string): Genome | undefined {
  const strategy = /^strategy:\s*["']?([\w.-]+)/m.exec(yaml)?.[1];
  const entry = findEntry(library, strategy);
  if (!entry) return undefined;
  const parsed = parseStrategyConfig(yaml, entry.params);
  return parsed.ok ? genomeFromConfig(entry, parsed.config) : undefined;
}

export function genomeFromConfig(entry: LibraryEntry, c: StrategyConfig): Genome {
  return {
    strategy: entry.name,
    timeframe: c.timeframe,
    params: { ...(c.params as Record<string, ParamValue>) },
    direction: c.direction,
    risk: structuredClone(c.risk),
    sizing: structuredClone(c.sizing),
  };
}

/** The shipped config as a genome, its timeframe moved onto the dataset's grid if needed. */
export function shippedGenome(entry: LibraryEntry, baseTimeframe: string): Genome {
  const g = genomeFromConfig(entry, entry.config);
  return { ...g, timeframe: fitTimeframe(g.timeframe, baseTimeframe) };
}

const UNITS: readonly [string, number][] = [
  ["w", 604_800_000],
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
];

export function formatTimeframe(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  throw new Error(`${ms} ms is not a whole number of minutes`);
}

/** A timeframe the dataset can be resampled to: a whole multiple of the base, else the base. */
export function fitTimeframe(tf: string, base: string): string {
  const t = timeframeMs(tf);
  const b = timeframeMs(base);
  return t >= b && t % b === 0 ? tf : base;
}

/** The base timeframe and its 2× and 4× multiples (e.g. 1h, 2h, 4h). */
export function timeframeChoices(base: string): string[] {
  const b = timeframeMs(base);
  return [1, 2, 4].map((k) => formatTimeframe(b * k));
}

export function clampParam(spec: ParamSpec, value: number): number {
  if (spec.type !== "int" && spec.type !== "float") return value;
  if (spec.type === "int") return Math.min(spec.max, Math.max(spec.min, Math.round(value)));
  // Rounded for readable YAML; the bounds themselves are kept exact.
  const r = Math.round(value * 1000) / 1000;
  return Math.min(spec.max, Math.max(spec.min, r));
}

export function randomParam(spec: ParamSpec, rng: Random): ParamValue {
  switch (spec.type) {
    case "int":
      return spec.min + rng.int(spec.max - spec.min + 1);
    case "float":
      return clampParam(spec, spec.min + rng.next() * (spec.max - spec.min));
    case "bool":
      return rng.next() < 0.5;
    case "choice":
      return spec.options[rng.int(spec.options.length)] ?? spec.default;
  }
}

export function randomParams(specs: ParamSpecs, rng: Random): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const name of Object.keys(specs)) out[name] = randomParam(specs[name] as ParamSpec, rng);
  return out;
}

/** Gaussian step of `sigma` × the declared range, clipped; bools flip, choices re-draw. */
export function mutateParam(spec: ParamSpec, value: ParamValue, sigma: number, rng: Random): ParamValue {
  switch (spec.type) {
    case "int":
    case "float": {
      const v = typeof value === "number" ? value : spec.default;
      const step = rng.normal() * sigma * (spec.max - spec.min);
      let next = clampParam(spec, v + step);
      // An int step that rounds to nothing still moves by one, so a mutation is never a no-op.
      if (next === v && spec.type === "int" && spec.max > spec.min)
        next = v >= spec.max ? v - 1 : v <= spec.min ? v + 1 : v + (step < 0 ? -1 : 1);
      return next;
    }
    case "bool":
      return !value;
    case "choice": {
      const others = spec.options.filter((o) => o !== value);
      return others.length > 0 ? (others[rng.int(others.length)] as string) : value;
    }
  }
}

const pick = <T>(xs: readonly T[], rng: Random): T => xs[rng.int(xs.length)] as T;

/** Random stop, take-profit, trailing stop and time stop, each present or not. */
export function randomRisk(rng: Random): RiskConfig {
  const risk: {
    stop_loss?: RiskConfig["stop_loss"];
    take_profit?: RiskConfig["take_profit"];
    trailing_stop?: RiskConfig["trailing_stop"];
    time_stop_bars?: number;
  } = {};
  const stop = rng.int(3);
  if (stop === 1) risk.stop_loss = { percent: pick([2, 3, 4, 6, 8, 10], rng) };
  if (stop === 2) risk.stop_loss = { atr: pick([1, 1.5, 2, 2.5, 3, 4], rng), atr_period: 14 };
  if (rng.next() < 0.3) {
    const r = pick([1.5, 2, 3, 4], rng);
    // R is a multiple of the stop distance: without a stop the target is a percentage instead.
    risk.take_profit = risk.stop_loss ? { r_multiple: r } : { percent: r * 3 };
  }
  if (rng.next() < 0.3) risk.trailing_stop = { atr: pick([2, 2.5, 3, 4, 5], rng), atr_period: 14 };
  if (rng.next() < 0.25) risk.time_stop_bars = pick([12, 24, 48, 96], rng);
  return risk;
}

export function randomSizing(rng: Random): SizingConfig {
  if (rng.next() < 0.3) {
    return {
      mode: "volatility_target",
      fraction: 1,
      target_volatility: pick([0.2, 0.3, 0.4, 0.6], rng),
      vol_lookback: 48,
      max_leverage: 1,
    };
  }
  return { mode: "fixed_fraction", fraction: pick([0.5, 0.75, 1], rng), vol_lookback: 48, max_leverage: 1 };
}

export function randomGenome(entry: LibraryEntry, baseTimeframe: string, rng: Random): Genome {
  return {
    strategy: entry.name,
    params: randomParams(entry.params, rng),
    timeframe: pick(timeframeChoices(baseTimeframe), rng),
    direction: entry.config.direction,
    risk: randomRisk(rng),
    sizing: randomSizing(rng),
  };
}

/** Deterministic order of a list under a seed (Fisher–Yates). */
export function shuffled<T>(xs: readonly T[], rng: Random): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** "fast 12→7, slow 26→16": what changed between two param sets, for hypotheses people read. */
export function describeParamChanges(
  before: Readonly<Record<string, ParamValue>>,
  after: Readonly<Record<string, ParamValue>>,
): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(after)) if (before[k] !== v) parts.push(`${k} ${before[k]}→${v}`);
  return parts.join(", ");
}
