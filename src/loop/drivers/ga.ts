/**
 * The `ga` driver: a genetic algorithm over library genomes (strategy, params inside the declared
 * ranges, timeframe, risk and sizing). One iteration evaluates one individual; iterations form
 * generations in blocks of `populationSize` (generation g = iterations g·P … g·P+P−1 of the run).
 *
 * Nothing lives in memory between iterations: the parents of generation g are rebuilt from the
 * history each time — the individuals of generation g−1 plus the `elite` best genomes ever
 * evaluated (elitism without re-running them: their fitness is already known, and re-running an
 * identical config would only be flagged as a duplicate). Every random draw is seeded by
 * (run seed, generation, slot), so a resumed run breeds exactly the same individuals.
 *
 * Fitness is gate-aware: passed beats discarded beats crashed; among passes the higher Sharpe wins,
 * among discards the smaller gate distance. Generation 0 is the shipped config of P different
 * library strategies (in a seeded order); later individuals come from tournament selection,
 * uniform crossover of params between two parents of the same strategy, and gaussian mutation
 * clipped to the declared ranges, with an occasional switch to another strategy.
 */
import type { ParamSpec } from "../../backtest/strategy.ts";
import type { ParamValue } from "../../backtest/strategy-config.ts";
import type { Decision, IterationSummary } from "../../domain/run.ts";
import { createRandom, type Random } from "../../market/prng.ts";
import type { CandidateOutcome, Driver, DriverContext, Proposal, ProposedCandidate } from "../driver.ts";
import type { Migrant } from "../islands.ts";
import type { Library, LibraryEntry } from "../library.ts";
import {
  describeParamChanges,
  findEntry,
  type Genome,
  genomeCandidate,
  genomeFromYaml,
  genomeYaml,
  mutateParam,
  randomGenome,
  randomRisk,
  randomSizing,
  shippedGenome,
  shuffled,
  timeframeChoices,
} from "./genome.ts";
import { compareFitness, type Fitness, fitnessOf, historyWith } from "./verdict.ts";

export { compareFitness, type Fitness, fitnessOf } from "./verdict.ts";

export interface GaOptions {
  /** Individuals per generation. Default 8. */
  readonly populationSize?: number;
  /** Best genomes ever seen that stay in the parent pool. Default 2. */
  readonly elite?: number;
  /** Contestants per tournament. Default 3. */
  readonly tournament?: number;
  /** Probability a child is bred from two parents (when a second parent of the same strategy exists). Default 0.7. */
  readonly crossoverRate?: number;
  /** Gaussian step as a share of a param's declared range. Default 0.1. */
  readonly mutationSigma?: number;
  /** Probability a child switches to another library strategy with random params. Default 0.08. */
  readonly switchRate?: number;
}

type Settings = Required<GaOptions>;

const DEFAULTS: Settings = {
  populationSize: 8,
  elite: 2,
  tournament: 3,
  crossoverRate: 0.7,
  mutationSigma: 0.1,
  switchRate: 0.08,
};

export interface Individual {
  /** Position in the history (0-based) and the iteration number it was evaluated in. */
  readonly index: number;
  readonly n: number;
  readonly genome: Genome;
  readonly fitness: Fitness;
}

function individuals(history: readonly IterationSummary[], library: Library, upTo: number): Individual[] {
  const out: Individual[] = [];
  for (let i = 0; i < Math.min(upTo, history.length); i++) {
    const s = history[i] as IterationSummary;
    const genome = genomeFromYaml(library, s.configYaml);
    if (genome) out.push({ index: i, n: s.n, genome, fitness: fitnessOf(s) });
  }
  return out;
}

// On a tie the earlier individual wins; migrants (negative index) after the island's own.
const order = (i: number) => (i < 0 ? Number.MAX_SAFE_INTEGER + i : i);
const byFitness = (a: Individual, b: Individual) =>
  compareFitness(b.fitness, a.fitness) || order(a.index) - order(b.index);

/**
 * The parent pool of generation `g` (≥ 1): generation g−1's individuals plus the `elite` best of
 * everything evaluated before generation g, plus the migrants from other islands, best first.
 * Crashed configs that cannot be read back (unknown strategy, invalid YAML) never become parents.
 */
export function parentPool(
  history: readonly IterationSummary[],
  library: Library,
  generation: number,
  options: GaOptions = {},
  migrants: readonly Migrant[] = [],
): Individual[] {
  const s = { ...DEFAULTS, ...options };
  const P = s.populationSize;
  const before = individuals(history, library, generation * P);
  const previous = before.filter((x) => x.index >= (generation - 1) * P);
  const elites = [...before].sort(byFitness).slice(0, s.elite);
  const pool = [...previous];
  for (const e of elites) if (!pool.some((x) => x.index === e.index)) pool.push(e);
  // Migrants join as parents with the fitness their island measured (negative indices: they are
  // not in this island's history, and rank after its own individuals on a tie).
  migrants.forEach((m, k) => {
    const genome = genomeFromYaml(library, m.iteration.configYaml);
    if (genome) pool.push({ index: -1 - k, n: m.iteration.n, genome, fitness: fitnessOf(m.iteration) });
  });
  return pool.sort(byFitness);
}

function tournament(pool: readonly Individual[], k: number, rng: Random): Individual {
  let best: Individual | undefined;
  for (let i = 0; i < k; i++) {
    const c = pool[rng.int(pool.length)] as Individual;
    if (!best || byFitness(c, best) < 0) best = c;
  }
  return best as Individual;
}

/** Uniform crossover: each param, and the timeframe, risk and sizing, from one parent or the other. */
export function crossover(a: Genome, b: Genome, rng: Random): Genome {
  if (a.strategy !== b.strategy) throw new Error("crossover mixes params of one strategy only");
  const params: Record<string, ParamValue> = {};
  for (const k of Object.keys(a.params).sort()) {
    params[k] = (rng.next() < 0.5 ? a.params[k] : (b.params[k] ?? a.params[k])) as ParamValue;
  }
  return {
    strategy: a.strategy,
    params,
    direction: a.direction,
    timeframe: rng.next() < 0.5 ? a.timeframe : b.timeframe,
    risk: structuredClone(rng.next() < 0.5 ? a.risk : b.risk),
    sizing: structuredClone(rng.next() < 0.5 ? a.sizing : b.sizing),
  };
}

/** Gaussian steps on params (at least one gene changes), occasionally a new timeframe, risk or sizing. */
export function mutate(entry: LibraryEntry, g: Genome, base: string, sigma: number, rng: Random): Genome {
  const names = Object.keys(entry.params).sort();
  const params: Record<string, ParamValue> = { ...g.params };
  const rate = names.length > 0 ? Math.max(0.2, 1 / names.length) : 0;
  let changed = false;
  for (const name of names) {
    if (rng.next() < rate) {
      const spec = entry.params[name] as ParamSpec;
      params[name] = mutateParam(spec, params[name] ?? spec.default, sigma, rng);
      changed = true;
    }
  }
  let out: Genome = { ...g, params };
  if (rng.next() < 0.1) {
    out = { ...out, timeframe: timeframeChoices(base)[rng.int(3)] as string };
    changed = true;
  }
  if (rng.next() < 0.15) {
    out = { ...out, risk: randomRisk(rng) };
    changed = true;
  }
  if (rng.next() < 0.1) {
    out = { ...out, sizing: randomSizing(rng) };
    changed = true;
  }
  if (!changed) {
    if (names.length > 0) {
      const name = names[rng.int(names.length)] as string;
      const spec = entry.params[name] as ParamSpec;
      params[name] = mutateParam(spec, params[name] ?? spec.default, sigma, rng);
      out = { ...out, params };
    } else out = { ...out, risk: randomRisk(rng) };
  }
  return out;
}

export interface Offspring {
  readonly generation: number;
  readonly slot: number;
  readonly entry: LibraryEntry;
  readonly genome: Genome;
  readonly hypothesis: string;
  /** Iteration numbers of the parents (none in generation 0 or after a strategy switch). */
  readonly parents: readonly number[];
}

/** What an island's ga takes from the rest of the run. */
export interface IslandInputs {
  /** Other islands' best: they join the parent pool. */
  readonly migrants?: readonly Migrant[];
  /** Configs other islands evaluated: never bred again (they would be duplicates). */
  readonly elsewhere?: ReadonlySet<string>;
}

/** The individual that history position `k` evaluates. */
export function breed(
  history: readonly IterationSummary[],
  library: Library,
  seed: number,
  base: string,
  options: GaOptions = {},
  island: IslandInputs = {},
): Offspring {
  const migrants = island.migrants ?? [];
  const elsewhere = island.elsewhere ?? new Set<string>();
  const s = { ...DEFAULTS, ...options };
  const k = history.length;
  const generation = Math.floor(k / s.populationSize);
  const slot = k % s.populationSize;
  const order = shuffled(library, createRandom(`${seed}:ga:order`));
  const rng = createRandom(`${seed}:ga:${generation}:${slot}`);
  const tag = `GA generation ${generation}, individual ${slot + 1}/${s.populationSize}`;

  const pool = generation === 0 ? [] : parentPool(history, library, generation, s, migrants);
  if (pool.length === 0) {
    const entry = order[slot % order.length] as LibraryEntry;
    // Another island's population may already hold the shipped config: then random params.
    const shipped = slot < order.length && !elsewhere.has(genomeYaml(shippedGenome(entry, base)));
    const genome = shipped ? shippedGenome(entry, base) : randomGenome(entry, base, rng);
    return {
      generation,
      slot,
      entry,
      genome,
      parents: [],
      hypothesis: `${tag}: ${entry.name} (${entry.family}) ${shipped ? "as shipped" : "with random params"}, to seed the population`,
    };
  }

  const tried = new Set([
    ...elsewhere,
    ...[...history, ...migrants.map((m) => m.iteration)].flatMap((h) => (h.configYaml ? [h.configYaml] : [])),
  ]);
  let result: Offspring | undefined;
  for (let attempt = 0; attempt < 10 && (!result || tried.has(genomeYaml(result.genome))); attempt++) {
    if (rng.next() < s.switchRate) {
      const others = library.filter((e) => e.name !== pool[0]?.genome.strategy);
      const choices = others.length > 0 ? others : library;
      const e = choices[rng.int(choices.length)] as LibraryEntry;
      result = {
        generation,
        slot,
        entry: e,
        genome: randomGenome(e, base, rng),
        parents: [],
        hypothesis: `${tag}: mutation switches to ${e.name} (${e.family}) with random params`,
      };
      continue;
    }
    const a = tournament(pool, s.tournament, rng);
    const entry = findEntry(library, a.genome.strategy) as LibraryEntry;
    const mates = pool.filter((x) => x.genome.strategy === a.genome.strategy && x.index !== a.index);
    const name = (x: Individual) => (x.index < 0 ? `#${x.n} (migrant)` : `#${x.n}`);
    let child = a.genome;
    const parents = [a.n];
    const names = [name(a)];
    if (mates.length > 0 && rng.next() < s.crossoverRate) {
      const b = tournament(mates, s.tournament, rng);
      child = crossover(a.genome, b.genome, rng);
      parents.push(b.n);
      names.push(name(b));
    }
    // Later attempts take bigger steps so a crowded neighbourhood still yields something new.
    const mutated = mutate(entry, child, base, s.mutationSigma * (1 + attempt), rng);
    const changes = describeParamChanges(a.genome.params, mutated.params);
    result = {
      generation,
      slot,
      entry,
      genome: mutated,
      parents,
      hypothesis: `${tag}: ${entry.name} bred from ${names.join(" × ")}${changes ? ` (${changes})` : ""}`,
    };
  }
  return result as Offspring;
}

function islandInputs(ctx: DriverContext): IslandInputs {
  return { migrants: ctx.migrants ?? [], elsewhere: new Set(ctx.triedElsewhere ?? []) };
}

export class GaDriver implements Driver {
  readonly name = "ga";
  private readonly options: Settings;

  constructor(
    private readonly library: Library,
    options: GaOptions = {},
  ) {
    if (library.length === 0) throw new Error("the ga driver needs a non-empty strategy library");
    this.options = { ...DEFAULTS, ...options };
    if (!(Number.isInteger(this.options.populationSize) && this.options.populationSize >= 2))
      throw new Error(`ga populationSize must be a whole number ≥ 2, got ${this.options.populationSize}`);
  }

  async propose(ctx: DriverContext): Promise<Proposal> {
    const o = breed(
      ctx.history,
      this.library,
      ctx.seed,
      ctx.config.dataset.timeframe,
      this.options,
      islandInputs(ctx),
    );
    return { candidate: genomeCandidate(o.entry, o.genome, o.hypothesis), hypothesis: o.hypothesis };
  }

  async decide(
    ctx: DriverContext,
    candidate: ProposedCandidate,
    outcome: CandidateOutcome,
  ): Promise<Decision> {
    const history = historyWith(ctx, candidate, outcome);
    const next = breed(
      history,
      this.library,
      ctx.seed,
      ctx.config.dataset.timeframe,
      this.options,
      islandInputs(ctx),
    );
    const ranked = individuals(history, this.library, history.length).sort(byFitness);
    const best = ranked[0];
    const verdict =
      outcome.status === "passed" ? "passed every gate" : (outcome.reasons[0] ?? outcome.status);
    const bestText = best
      ? ` Best so far: #${best.n} (${best.genome.strategy}${best.fitness[0] === 2 ? ", passed" : ""}).`
      : "";
    return {
      decision: next.entry.name !== candidate.name ? "new_approach" : "tune",
      rationale: `GA generation ${Math.floor((history.length - 1) / this.options.populationSize)}: #${ctx.iteration} ${verdict}.${bestText}`,
      nextHypothesis: next.hypothesis,
    };
  }
}
