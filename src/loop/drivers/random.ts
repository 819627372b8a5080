/**
 * The `random` driver, the search baseline: each iteration is an independent draw of a library
 * strategy, params uniform inside their declared ranges, a timeframe from {base, 2×, 4×} and random
 * risk and sizing options. The draw depends only on the run's seed and the iteration number, so a
 * resumed run proposes exactly what the original would have. A nudge naming a library strategy
 * restricts the draw to it. On an island with migrants, a quarter of the draws are a mutation of a
 * migrant (another island's best) instead: random search with a little exploitation.
 */
import type { Decision, IterationSummary } from "../../domain/run.ts";
import { createRandom } from "../../market/prng.ts";
import type { CandidateOutcome, Driver, DriverContext, Proposal, ProposedCandidate } from "../driver.ts";
import { type Migrant, migrantTag } from "../islands.ts";
import type { Library, LibraryEntry } from "../library.ts";
import { mutate } from "./ga.ts";
import {
  findEntry,
  type Genome,
  genomeCandidate,
  genomeFromYaml,
  genomeYaml,
  randomGenome,
} from "./genome.ts";
import { readNudges } from "./nudge-intent.ts";
import { historyWith } from "./verdict.ts";

export interface RandomDraw {
  readonly entry: LibraryEntry;
  readonly genome: Genome;
  /** The migrant this draw mutates, if any. */
  readonly from?: Migrant;
}

/** Share of draws that mutate a migrant when an island has some. */
export const MIGRANT_DRAW_RATE = 0.25;

/** The draw for one iteration; a config already in `tried` is redrawn (up to a few times). */
export function randomDraw(
  library: Library,
  seed: number,
  iteration: number,
  baseTimeframe: string,
  tried: ReadonlySet<string> = new Set(),
  only?: LibraryEntry,
  migrants: readonly Migrant[] = [],
): RandomDraw {
  const rng = createRandom(`${seed}:random:${iteration}`);
  let draw: RandomDraw | undefined;
  if (!only && migrants.length > 0) {
    // A separate stream, so the plain draws of a run with migrants are the ones it would make without.
    const pick = createRandom(`${seed}:random:${iteration}:migrant`);
    if (pick.next() < MIGRANT_DRAW_RATE) {
      const from = migrants[pick.int(migrants.length)] as Migrant;
      const entry = findEntry(library, from.iteration.name);
      const g = genomeFromYaml(library, from.iteration.configYaml);
      if (entry && g) {
        for (let attempt = 0; attempt < 8; attempt++) {
          draw = { entry, genome: mutate(entry, g, baseTimeframe, 0.1 * (1 + attempt), pick), from };
          const y = genomeYaml(draw.genome);
          if (!tried.has(y) && y !== from.iteration.configYaml) return draw;
        }
      }
    }
  }
  for (let attempt = 0; attempt < 8; attempt++) {
    const entry = only ?? (library[rng.int(library.length)] as LibraryEntry);
    draw = { entry, genome: randomGenome(entry, baseTimeframe, rng) };
    if (!tried.has(genomeYaml(draw.genome))) break;
  }
  return draw as RandomDraw;
}

function describe(d: RandomDraw): string {
  if (d.from) {
    return `random mutation of ${migrantTag(d.from)}: ${d.entry.name} (${d.entry.family}) on ${d.genome.timeframe}`;
  }
  const params = Object.entries(d.genome.params)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `random draw: ${d.entry.name} (${d.entry.family}) on ${d.genome.timeframe} with ${params || "no params"}`;
}

export class RandomDriver implements Driver {
  readonly name = "random";

  constructor(private readonly library: Library) {
    if (library.length === 0) throw new Error("the random driver needs a non-empty strategy library");
  }

  private draw(ctx: DriverContext, iteration: number, history: readonly IterationSummary[]): RandomDraw {
    const seen = [...history, ...(ctx.migrants ?? []).map((m) => m.iteration)];
    const tried = new Set([
      ...(ctx.triedElsewhere ?? []),
      ...seen.flatMap((s) => (s.configYaml ? [s.configYaml] : [])),
    ]);
    const only =
      iteration === ctx.iteration && ctx.nudges.length > 0
        ? readNudges(ctx.nudges, this.library, ctx.config.dataset.timeframe).strategy
        : undefined;
    return randomDraw(
      this.library,
      ctx.seed,
      iteration,
      ctx.config.dataset.timeframe,
      tried,
      only,
      ctx.migrants,
    );
  }

  async propose(ctx: DriverContext): Promise<Proposal> {
    const d = this.draw(ctx, ctx.iteration, ctx.history);
    const hypothesis = describe(d);
    return { candidate: genomeCandidate(d.entry, d.genome, hypothesis), hypothesis };
  }

  async decide(
    ctx: DriverContext,
    candidate: ProposedCandidate,
    outcome: CandidateOutcome,
  ): Promise<Decision> {
    const verdict =
      outcome.status === "passed" ? "passed every gate" : (outcome.reasons[0] ?? outcome.status);
    return {
      decision: "new_approach",
      rationale: `Random search: #${ctx.iteration} ${verdict}; the next draw is independent of it.`,
      nextHypothesis: describe(this.draw(ctx, ctx.iteration + 1, historyWith(ctx, candidate, outcome))),
    };
  }
}
