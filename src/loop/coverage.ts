/**
 * Where a run has looked: a MAP-Elites-style archive over family × timeframe × turnover, built from
 * the run's own history. Each cell keeps how often it was tried and its elite (the lowest gate
 * distance reached there). Shown to the model so it spends iterations where little has been tried
 * instead of tuning the same EMA cross forty times. Pure: history in, map and text out.
 */
import { parse as parseYaml } from "yaml";
import type { IterationSummary } from "../domain/run.ts";
import { isTimeframe, timeframeMs } from "../domain/timeframe.ts";

export const TURNOVER_BUCKETS = ["low", "mid", "high", "n/a"] as const;
export type TurnoverBucket = (typeof TURNOVER_BUCKETS)[number];

/** Turnover per year (traded notional / equity): below 20 is a few position changes a month. */
export const TURNOVER_LOW_MAX = 20;
/** Above 200 a year, costs start to dominate most edges. */
export const TURNOVER_HIGH_MIN = 200;

export const UNKNOWN_FAMILY = "unknown";

export interface CoverageCell {
  readonly family: string;
  readonly timeframe: string;
  readonly turnover: TurnoverBucket;
  tries: number;
  /** Lowest gate distance seen in the cell (lower is closer to passing); null when none was measured. */
  bestDistance: number | null;
  /** The iteration that reached `bestDistance` (the first one, on a tie). */
  bestIteration: number | null;
}

export interface CoverageMap {
  /** Cells in the order first tried. */
  readonly cells: readonly CoverageCell[];
}

export function turnoverBucket(turnover: number | undefined): TurnoverBucket {
  if (turnover === undefined || !Number.isFinite(turnover)) return "n/a";
  if (turnover < TURNOVER_LOW_MAX) return "low";
  if (turnover <= TURNOVER_HIGH_MIN) return "mid";
  return "high";
}

const UNITS: readonly [string, number][] = [
  ["w", 604_800_000],
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
];

/** The shortest way to write a duration as a timeframe (`240m` and `4h` are the same cell: `4h`). */
export function timeframeLabel(ms: number): string {
  for (const [unit, size] of UNITS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 60_000}m`;
}

function canonicalTimeframe(tf: string): string | null {
  return isTimeframe(tf) ? timeframeLabel(timeframeMs(tf)) : null;
}

/** The `timeframe:` of a strategy config, canonical; null when it is missing or unreadable. */
export function configTimeframe(configYaml: string | null): string | null {
  if (!configYaml) return null;
  try {
    const doc: unknown = parseYaml(configYaml);
    if (doc && typeof doc === "object" && "timeframe" in doc) {
      const tf = (doc as { timeframe: unknown }).timeframe;
      if (typeof tf === "string") return canonicalTimeframe(tf.trim());
    }
  } catch {
    // A config the model broke still counts as a try; it just has no timeframe to file it under.
  }
  return null;
}

/**
 * The coverage map of a history. Iterations without a config (the model never backtested) are left
 * out: they looked nowhere. A config without a timeframe is filed under `baseTimeframe`.
 */
export function coverageOf(
  history: readonly IterationSummary[],
  opts: { readonly baseTimeframe: string },
): CoverageMap {
  const base = canonicalTimeframe(opts.baseTimeframe) ?? opts.baseTimeframe;
  const cells = new Map<string, CoverageCell>();
  for (const h of history) {
    if (h.configYaml === null) continue;
    const family = h.family?.trim() || UNKNOWN_FAMILY;
    const timeframe = configTimeframe(h.configYaml) ?? base;
    const turnover = turnoverBucket(h.metrics?.["turnover"]);
    const key = `${family}\u0000${timeframe}\u0000${turnover}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = { family, timeframe, turnover, tries: 0, bestDistance: null, bestIteration: null };
      cells.set(key, cell);
    }
    cell.tries++;
    const d = h.distance;
    if (d !== null && Number.isFinite(d) && (cell.bestDistance === null || d < cell.bestDistance)) {
      cell.bestDistance = d;
      cell.bestIteration = h.n;
    }
  }
  return { cells: [...cells.values()] };
}

/** The timeframes worth showing for a dataset: the base, four times the base, and daily (deduplicated). */
export function coverageTimeframes(baseTimeframe: string): string[] {
  const baseMs = timeframeMs(baseTimeframe);
  const out: string[] = [];
  for (const ms of [baseMs, 4 * baseMs, 86_400_000]) {
    if (ms < baseMs) continue;
    const label = timeframeLabel(ms);
    if (!out.includes(label)) out.push(label);
  }
  return out;
}

/** The `family:` each library module declares, in first-seen order, deduplicated. */
export function libraryFamilies(sources: Iterable<string>): string[] {
  const out: string[] = [];
  for (const source of sources) {
    const family = /\bfamily:\s*["'`]([^"'`]+)["'`]/.exec(source)?.[1]?.trim();
    if (family && !out.includes(family)) out.push(family);
  }
  return out;
}

function rank(list: readonly string[], value: string): number {
  const i = list.indexOf(value);
  return i === -1 ? list.length : i;
}

/**
 * A compact table for the prompt: every tried cell (tries and best gate distance), then the
 * family × timeframe pairs of the library's families and the given timeframes that nothing has tried.
 */
export function formatCoverage(
  map: CoverageMap,
  opts: { readonly families: readonly string[]; readonly timeframes: readonly string[] },
): string {
  const timeframes = opts.timeframes.map((tf) => canonicalTimeframe(tf) ?? tf);
  const tried = [...map.cells].sort(
    (a, b) =>
      rank(opts.families, a.family) - rank(opts.families, b.family) ||
      a.family.localeCompare(b.family) ||
      rank(timeframes, a.timeframe) - rank(timeframes, b.timeframe) ||
      a.timeframe.localeCompare(b.timeframe) ||
      TURNOVER_BUCKETS.indexOf(a.turnover) - TURNOVER_BUCKETS.indexOf(b.turnover),
  );
  const lines: string[] = [];
  if (tried.length === 0) {
    lines.push("Nothing tried yet.");
  } else {
    lines.push(
      `family · timeframe · turnover/yr (low < ${TURNOVER_LOW_MAX}, mid, high > ${TURNOVER_HIGH_MIN}) | tries | best gate distance (lower is closer to passing)`,
    );
    for (const c of tried) {
      const best =
        c.bestDistance === null ? "-" : `${c.bestDistance.toFixed(2)} (iteration ${c.bestIteration})`;
      lines.push(`${c.family} · ${c.timeframe} · ${c.turnover} | ${c.tries} | ${best}`);
    }
  }
  const seen = new Set(map.cells.map((c) => `${c.family}\u0000${c.timeframe}`));
  const untried: string[] = [];
  for (const family of opts.families) {
    for (const tf of timeframes) if (!seen.has(`${family}\u0000${tf}`)) untried.push(`${family}·${tf}`);
  }
  lines.push(
    untried.length === 0
      ? "untried: none of the library's family × timeframe pairs is left untried."
      : `untried: ${untried.join(", ")}`,
  );
  return lines.join("\n");
}
