/**
 * Islands: one run split into N sub-searches that share the run's trial ledger, gates and holdout
 * rules but otherwise search on their own, with the best of each island shown to the others every
 * M iterations (the island model of parallel evolutionary search, as a diversity device: islands
 * that only see their own history do not all converge on the first decent EMA cross).
 *
 * A run keeps its single iteration sequence — that is what makes it durable and resumable — and
 * the islands take turns: iteration n belongs to island (n − 1) mod N. Everything an island needs
 * is a pure function of the run's stored history and n: its own history (its iterations only), its
 * seed (run seed + island), and its migrants (the other islands' best as of the last migration).
 * So a run resumed in another process rebuilds every island exactly, with no island state stored.
 */
import type { IterationSummary } from "../domain/run.ts";
import { compareFitness, fitnessOf } from "./drivers/verdict.ts";

export interface IslandSettings {
  /** Sub-searches in the run (1 = no islands). */
  readonly islands: number;
  /** Migration interval, in iterations of the run. */
  readonly migrateEvery: number;
}

export const MAX_ISLANDS = 16;
export const DEFAULT_MIGRATE_EVERY = 10;

/**
 * The run config's island keys. Runs stored before islands existed have neither key: one island.
 */
export function islandSettings(loop: {
  readonly islands?: number;
  readonly migrate_every?: number;
}): IslandSettings {
  return { islands: loop.islands ?? 1, migrateEvery: loop.migrate_every ?? DEFAULT_MIGRATE_EVERY };
}

/** The island iteration `n` (1-based) belongs to: the islands take turns. */
export function islandOf(n: number, islands: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`iteration numbers start at 1, got ${n}`);
  return islands <= 1 ? 0 : (n - 1) % islands;
}

/** Each island searches from its own seed; island 0 keeps the run's, so one island is a plain run. */
export function islandSeed(runSeed: number, island: number): number {
  return runSeed + island;
}

/** The run's seed back from an island's (what `islandSeed` added). */
export function runSeedOf(islandSeedValue: number, island: number): number {
  return islandSeedValue - island;
}

/** The island's own iterations, oldest first: the only history its driver sees. */
export function islandHistory<T extends Pick<IterationSummary, "n">>(
  history: readonly T[],
  island: number,
  islands: number,
): T[] {
  if (islands <= 1) return [...history];
  return history.filter((h) => islandOf(h.n, islands) === island);
}

/**
 * The last migration before iteration `n`: iterations numbered up to it are what the migrants are
 * chosen from (0 = no migration yet). Migration happens after iterations M, 2M, 3M, …, so the
 * migrants an island sees stay the same between two migrations.
 */
export function lastMigration(n: number, migrateEvery: number): number {
  return Math.floor((n - 1) / migrateEvery) * migrateEvery;
}

/** Another island's best iteration, offered to this one. */
export interface Migrant {
  readonly island: number;
  readonly iteration: IterationSummary;
}

/** Configs the other islands evaluated (empty with one island). */
export function triedElsewhere(
  history: readonly IterationSummary[],
  island: number,
  islands: number,
): string[] {
  if (islands <= 1) return [];
  return [
    ...new Set(
      history.flatMap((h) => (islandOf(h.n, islands) !== island && h.configYaml ? [h.configYaml] : [])),
    ),
  ];
}

/**
 * The best evaluated iteration among `history` (passed beats discarded, then higher Sharpe among
 * passes, smaller gate distance among discards; the earlier wins a tie). Crashes and model errors
 * never migrate: there is nothing in them to build on.
 */
export function bestOf(history: readonly IterationSummary[]): IterationSummary | undefined {
  let best: IterationSummary | undefined;
  for (const h of history) {
    if (fitnessOf(h)[0] === 0 || !h.configYaml) continue;
    if (!best || compareFitness(fitnessOf(h), fitnessOf(best)) > 0) best = h;
  }
  return best;
}

/**
 * What island `islandOf(n)` receives at iteration `n`: the best of every other island among the
 * iterations up to the last migration, in island order. Empty with one island or before the first
 * migration.
 */
export function migrantsFor(history: readonly IterationSummary[], n: number, s: IslandSettings): Migrant[] {
  if (s.islands <= 1) return [];
  const upTo = lastMigration(n, s.migrateEvery);
  if (upTo === 0) return [];
  const self = islandOf(n, s.islands);
  const before = history.filter((h) => h.n <= upTo);
  const out: Migrant[] = [];
  for (let island = 0; island < s.islands; island++) {
    if (island === self) continue;
    const best = bestOf(islandHistory(before, island, s.islands));
    if (best) out.push({ island, iteration: best });
  }
  return out;
}

/**
 * The best migrant, if it beats everything the island found itself: what a model-free driver tunes
 * from when it adopts one.
 */
export function betterMigrant(
  own: readonly IterationSummary[],
  migrants: readonly Migrant[],
): Migrant | undefined {
  let pick: Migrant | undefined;
  for (const m of migrants) {
    if (!pick || compareFitness(fitnessOf(m.iteration), fitnessOf(pick.iteration)) > 0) pick = m;
  }
  if (!pick) return undefined;
  const mine = bestOf(own);
  return !mine || compareFitness(fitnessOf(pick.iteration), fitnessOf(mine)) > 0 ? pick : undefined;
}

/** How drivers name a migrant in hypotheses: also the marker that it was adopted already. */
export function migrantTag(m: Migrant): string {
  return `island ${m.island}'s best (#${m.iteration.n})`;
}
