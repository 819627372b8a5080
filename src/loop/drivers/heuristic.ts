/**
 * The `heuristic` driver: no model. It walks the strategy library and tunes the config of the
 * strategy in hand according to which gate failed last time:
 *
 *  - too few trades        → tune: shorter lookbacks, or a lower timeframe (never below the data's);
 *  - drawdown too deep     → tune: a tighter stop (add one, or ATR 3 → 2, not below 2×ATR / 2 %),
 *                            then smaller positions (half size, then volatility targeting) —
 *                            also when Sharpe is short of its gate but at least half of it;
 *  - Sharpe / PF too low   → new_approach: the next library strategy of a family not yet tried;
 *  - crashed / policy      → fix: back to the library's shipped config (it cannot fix code);
 *  - duplicate             → new_approach;  look-ahead → abandon;
 *  - passed                → tune: a small param perturbation, to explore around it (after
 *                            `maxTunes` passes in a row, new_approach, for diversity);
 *  - other gates (DSR, folds) → tune: a small perturbation.
 *
 * A strategy gets at most `maxTunes` tune steps in a row before the driver moves on. On an island
 * (src/loop/islands.ts), moving on first looks at the migrants: another island's best that beats
 * everything this island found is adopted once, perturbed, and tuned from.
 *
 * Everything is a pure function of the run's history and seed: `decide` plans the next step on the
 * history plus the outcome in hand; `propose` re-plans the same step from the stored history and
 * follows the decision recorded there (which the loop may have overridden, e.g. a forced abandon).
 */
import type { ParamSpec } from "../../backtest/strategy.ts";
import type { ParamValue } from "../../backtest/strategy-config.ts";
import type { Decision, DecisionKind, IterationSummary } from "../../domain/run.ts";
import type { RiskConfig, SizingConfig } from "../../domain/strategy-config.ts";
import { timeframeMs } from "../../domain/timeframe.ts";
import { createRandom } from "../../market/prng.ts";
import type { CandidateOutcome, Driver, DriverContext, Proposal, ProposedCandidate } from "../driver.ts";
import { betterMigrant, type Migrant, migrantTag } from "../islands.ts";
import type { Library, LibraryEntry } from "../library.ts";
import {
  clampParam,
  describeParamChanges,
  findEntry,
  formatTimeframe,
  type Genome,
  genomeCandidate,
  genomeFromYaml,
  genomeYaml,
  mutateParam,
  shippedGenome,
  shuffled,
} from "./genome.ts";
import { type NudgeIntent, readNudges, understood } from "./nudge-intent.ts";
import { failedChecks, historyWith } from "./verdict.ts";

export interface HeuristicOptions {
  /** Tune steps in a row on one strategy before moving to another. Default 4. */
  readonly maxTunes?: number;
}

/** The next step: what to run and why. */
export interface HeuristicStep {
  readonly decision: DecisionKind;
  readonly rationale: string;
  readonly entry: LibraryEntry;
  readonly genome: Genome;
  readonly hypothesis: string;
}

interface Env {
  readonly library: Library;
  readonly order: readonly LibraryEntry[];
  readonly seed: number;
  readonly base: string;
  readonly maxTunes: number;
  readonly sharpeMin: number;
  /** Other islands' best, as of the last migration. */
  readonly migrants: readonly Migrant[];
  /** Configs other islands of the run already evaluated (a rerun would only be a duplicate). */
  readonly elsewhere: ReadonlySet<string>;
}

const SHORTEN = 0.6;
const LENGTHEN = 1.5;

/**
 * Int params that set a lookback (periods, channel lengths, EMA spans), by name; an int whose whole
 * range sits inside [20, 100] is read as an oscillator level (an RSI exit), not a lookback.
 */
export function isLookback(name: string, spec: ParamSpec): boolean {
  if (spec.type !== "int") return false;
  if (/min|max|oversold|overbought|level|threshold/i.test(name)) return false;
  if (
    !/period|fast|slow|entry|exit|regime|trend|channel|lookback|window|length|len|ema|sma|signal|span|bars/i.test(
      name,
    )
  )
    return false;
  return !(spec.min >= 20 && spec.max <= 100);
}

function scaleLookbacks(entry: LibraryEntry, g: Genome, factor: number): Genome | undefined {
  const params: Record<string, ParamValue> = { ...g.params };
  let changed = false;
  for (const [name, spec] of Object.entries(entry.params)) {
    if (!isLookback(name, spec)) continue;
    const v = params[name];
    if (typeof v !== "number") continue;
    const next = clampParam(spec, Math.round(v * factor));
    if (next !== v) {
      params[name] = next;
      changed = true;
    }
  }
  return changed ? { ...g, params } : undefined;
}

/** 4h → 1h, 2h → 1h: a quarter (or half) of the timeframe, never below the data's own bars. */
function lowerTimeframe(tf: string, base: string): string | undefined {
  const t = timeframeMs(tf);
  const b = timeframeMs(base);
  if (t <= b) return undefined;
  for (const k of [4, 2]) if (t % k === 0 && t / k >= b && (t / k) % b === 0) return formatTimeframe(t / k);
  return base;
}

function tighterRisk(risk: RiskConfig): { risk: RiskConfig; what: string } | undefined {
  const stop = risk.stop_loss;
  if (!stop) return { risk: { ...risk, stop_loss: { atr: 2, atr_period: 14 } }, what: "a 2×ATR stop" };
  // Below 2×ATR (or 2 %) a stop mostly sells noise; past that point sizing is the lever.
  if ("atr" in stop && stop.atr > 2) {
    const atr = Math.max(2, stop.atr - 1);
    return {
      risk: { ...risk, stop_loss: { ...stop, atr } },
      what: `a tighter stop (ATR ${stop.atr}→${atr})`,
    };
  }
  if ("percent" in stop && stop.percent > 2) {
    const percent = Math.max(2, Math.round(stop.percent * 0.6 * 2) / 2);
    return {
      risk: { ...risk, stop_loss: { percent } },
      what: `a tighter stop (${stop.percent}%→${percent}%)`,
    };
  }
  return undefined;
}

function widerRisk(risk: RiskConfig): { risk: RiskConfig; what: string } | undefined {
  const stop = risk.stop_loss;
  if (!stop) return undefined;
  if ("atr" in stop) {
    const atr = stop.atr + 1;
    return { risk: { ...risk, stop_loss: { ...stop, atr } }, what: `a wider stop (ATR ${stop.atr}→${atr})` };
  }
  const percent = Math.min(50, Math.round(stop.percent * 1.5 * 2) / 2);
  return { risk: { ...risk, stop_loss: { percent } }, what: `a wider stop (${stop.percent}%→${percent}%)` };
}

/** A volatility filter in sizing: half-size positions, then volatility targeting. */
function smallerSizing(s: SizingConfig): { sizing: SizingConfig; what: string } | undefined {
  if (s.mode === "fixed_fraction" && s.fraction > 0.5)
    return { sizing: { ...s, fraction: 0.5 }, what: `half-size positions (fraction ${s.fraction}→0.5)` };
  if (s.mode === "fixed_fraction")
    return {
      sizing: { ...s, mode: "volatility_target", fraction: 1, target_volatility: 0.3 },
      what: "volatility-targeted sizing (30% a year)",
    };
  if ((s.target_volatility ?? 1) > 0.15) {
    const tv = Math.round((s.target_volatility ?? 0.3) * 0.6 * 100) / 100;
    return { sizing: { ...s, target_volatility: tv }, what: `a lower volatility target (${tv})` };
  }
  return undefined;
}

/** One or two params nudged by a small gaussian step, avoiding configs already tried. */
function perturb(entry: LibraryEntry, g: Genome, env: Env, salt: string, tried: ReadonlySet<string>): Genome {
  const rng = createRandom(`${env.seed}:heuristic:${salt}`);
  const names = Object.keys(entry.params).sort();
  let best: Genome = g;
  for (let attempt = 0; attempt < 20; attempt++) {
    const params: Record<string, ParamValue> = { ...g.params };
    const k = Math.min(names.length, 1 + rng.int(2));
    for (const name of shuffled(names, rng).slice(0, k)) {
      const spec = entry.params[name] as ParamSpec;
      params[name] = mutateParam(spec, params[name] ?? spec.default, 0.08 + 0.04 * attempt, rng);
    }
    best = { ...g, params };
    if (!tried.has(genomeYaml(best))) return best;
  }
  return best;
}

/** Configs this island ran, and those other islands of the run ran. */
function triedConfigs(h: readonly IterationSummary[], env: Env): Set<string> {
  return new Set([...env.elsewhere, ...h.flatMap((s) => (s.configYaml ? [s.configYaml] : []))]);
}

/**
 * A strategy's shipped config, or, when another island already ran it, a small perturbation of it
 * (the same config again would only be flagged as a duplicate).
 */
function shippedOrNear(
  entry: LibraryEntry,
  h: readonly IterationSummary[],
  env: Env,
): { genome: Genome; as: string } {
  const shipped = shippedGenome(entry, env.base);
  if (!env.elsewhere.has(genomeYaml(shipped))) return { genome: shipped, as: "as shipped" };
  const genome = perturb(entry, shipped, env, `shipped:${h.length}`, triedConfigs(h, env));
  const changes = describeParamChanges(shipped.params, genome.params) || "same params";
  return { genome, as: `near its shipped config (${changes}; another island ran it as shipped)` };
}

function firstReason(s: IterationSummary): string {
  return s.reasons[0] ?? s.status;
}

/** Tune steps in a row on the last iteration's strategy. */
function tunesInARow(h: readonly IterationSummary[]): number {
  const name = h.at(-1)?.name;
  let k = 0;
  for (let i = h.length - 1; i > 0; i--) {
    const cur = h[i] as IterationSummary;
    const prev = h[i - 1] as IterationSummary;
    if (cur.name !== name || prev.name !== name) break;
    k++;
  }
  return k;
}

/** Passes in a row on the last iteration's strategy. */
function passesInARow(h: readonly IterationSummary[]): number {
  const name = h.at(-1)?.name;
  let k = 0;
  for (let i = h.length - 1; i >= 0; i--) {
    const s = h[i] as IterationSummary;
    if (s.name !== name || s.status !== "passed") break;
    k++;
  }
  return k;
}

function start(
  h: readonly IterationSummary[],
  env: Env,
  why: string,
  decision: DecisionKind,
  rationale: string,
): HeuristicStep {
  const entry = env.order[0] as LibraryEntry;
  const { genome, as } = shippedOrNear(entry, h, env);
  return {
    decision,
    rationale,
    entry,
    genome,
    hypothesis: `${entry.name} (${entry.family}) ${as}${why}: ${entry.description}`,
  };
}

/**
 * Another island's best, when it beats everything this island found and was not adopted yet: a
 * small perturbation of it, to tune from there.
 */
function adoptMigrant(
  h: readonly IterationSummary[],
  env: Env,
  decision: "new_approach" | "abandon",
  rationale: string,
  why: string,
): HeuristicStep | undefined {
  const m = betterMigrant(h, env.migrants);
  if (!m) return undefined;
  const tag = migrantTag(m);
  if (h.some((s) => s.hypothesis?.includes(tag))) return undefined;
  const entry = findEntry(env.library, m.iteration.name);
  const g = genomeFromYaml(env.library, m.iteration.configYaml);
  if (!entry || !g) return undefined;
  const tried = triedConfigs([...h, m.iteration], env);
  const genome = perturb(entry, g, env, `migrant:${h.length}`, tried);
  const changes = describeParamChanges(g.params, genome.params) || "same params";
  return {
    decision,
    rationale: `${rationale} ${tag} beats this island's best: tune from it.`,
    entry,
    genome,
    hypothesis: `${entry.name} tuned from ${tag} (${changes})${why}`,
  };
}

/**
 * A better migrant first; else the next library strategy not tried yet, preferring another
 * family; else revisit the best one.
 */
function moveOn(
  h: readonly IterationSummary[],
  env: Env,
  decision: "new_approach" | "abandon",
  rationale: string,
): HeuristicStep {
  const last = h.at(-1);
  const tried = new Set(h.map((s) => s.name));
  // Strategies no island has tried come before those another island is already working on.
  const busy = new Set([...env.elsewhere].map((y) => /^strategy: (\S+)/m.exec(y)?.[1]));
  const untried = env.order
    .filter((e) => !tried.has(e.name))
    .sort((a, b) => Number(busy.has(a.name)) - Number(busy.has(b.name)));
  const other = untried.find((e) => e.family !== last?.family);
  const next = (decision === "new_approach" ? other : undefined) ?? untried[0];
  const why = last ? ` after #${last.n} (${last.name ?? "?"}: ${firstReason(last)})` : "";
  const adopted = adoptMigrant(h, env, decision, rationale, why);
  if (adopted) return adopted;
  if (next) {
    const { genome, as } = shippedOrNear(next, h, env);
    return {
      decision,
      rationale,
      entry: next,
      genome,
      hypothesis: `${next.name} (${next.family}) ${as}${why}: ${next.description}`,
    };
  }
  // Every strategy has had its turn: go back to the best config seen on another strategy.
  const ranked = h
    .map((s, i) => ({ s, i, g: genomeFromYaml(env.library, s.configYaml) }))
    .filter((x) => x.g !== undefined && x.s.status !== "crashed" && x.s.distance !== null)
    .sort(
      (a, b) =>
        Number(b.s.status === "passed") - Number(a.s.status === "passed") ||
        (a.s.distance as number) - (b.s.distance as number) ||
        a.i - b.i,
    );
  const pick = ranked.find((x) => x.s.name !== last?.name) ?? ranked[0];
  const entry = findEntry(env.library, pick?.s.name);
  if (!pick || !entry) return start(h, env, why, decision, rationale);
  const genome = perturb(entry, pick.g as Genome, env, `revisit:${h.length}`, triedConfigs(h, env));
  const changes = describeParamChanges((pick.g as Genome).params, genome.params);
  return {
    decision,
    rationale,
    entry,
    genome,
    hypothesis: `${entry.name} near its best result so far (#${pick.s.n}, ${changes || "same params"})${why}`,
  };
}

function fix(
  h: readonly IterationSummary[],
  last: IterationSummary,
  entry: LibraryEntry,
  env: Env,
): HeuristicStep {
  const shipped = shippedGenome(entry, env.base);
  const tried = triedConfigs(h, env);
  // The shipped config already ran in this run: a rerun would only be flagged as a duplicate.
  const genome = tried.has(genomeYaml(shipped))
    ? perturb(entry, shipped, env, `fix:${h.length}`, tried)
    : shipped;
  const near = genome === shipped ? "on its shipped config" : "near its shipped config";
  return {
    decision: "fix",
    rationale: `#${last.n} failed (${firstReason(last)}); the heuristic cannot edit code, so it goes back to ${entry.name}'s shipped config.`,
    entry,
    genome,
    hypothesis: `${entry.name} ${near} runs cleanly where #${last.n} failed (${firstReason(last)})`,
  };
}

function shorter(
  last: IterationSummary,
  entry: LibraryEntry,
  g: Genome,
  env: Env,
): HeuristicStep | undefined {
  const tf = lowerTimeframe(g.timeframe, env.base);
  const trades = last.metrics?.["tradeCount"];
  const seen = trades === undefined ? "too few trades" : `${trades} trades`;
  if (tf) {
    return {
      decision: "tune",
      rationale: `#${last.n} had too few trades (${firstReason(last)}); a lower timeframe gives more signals.`,
      entry,
      genome: { ...g, timeframe: tf },
      hypothesis: `${entry.name} on ${tf} bars instead of ${g.timeframe} trades more often than #${last.n}'s ${seen}`,
    };
  }
  const scaled = scaleLookbacks(entry, g, SHORTEN);
  if (!scaled) return undefined;
  return {
    decision: "tune",
    rationale: `#${last.n} had too few trades (${firstReason(last)}); shorter lookbacks react sooner and trade more.`,
    entry,
    genome: scaled,
    hypothesis: `${entry.name} with shorter lookbacks (${describeParamChanges(g.params, scaled.params)}) trades more often than #${last.n}'s ${seen}`,
  };
}

function tighter(last: IterationSummary, entry: LibraryEntry, g: Genome): HeuristicStep | undefined {
  const dd = last.metrics?.["maxDrawdown"];
  const ddText = dd === undefined ? "" : ` (${(dd * 100).toFixed(0)}% in #${last.n})`;
  const risk = tighterRisk(g.risk);
  if (risk) {
    return {
      decision: "tune",
      rationale: `#${last.n}'s drawdown was too deep (${firstReason(last)}); cut losers sooner with ${risk.what}.`,
      entry,
      genome: { ...g, risk: risk.risk },
      hypothesis: `${entry.name} with ${risk.what} keeps the drawdown shallower${ddText}`,
    };
  }
  const sizing = smallerSizing(g.sizing);
  if (!sizing) return undefined;
  return {
    decision: "tune",
    rationale: `#${last.n}'s drawdown was too deep (${firstReason(last)}) even with a tight stop; trade smaller with ${sizing.what}.`,
    entry,
    genome: { ...g, sizing: sizing.sizing },
    hypothesis: `${entry.name} with ${sizing.what} keeps the drawdown shallower${ddText}`,
  };
}

function explore(
  h: readonly IterationSummary[],
  last: IterationSummary,
  entry: LibraryEntry,
  g: Genome,
  env: Env,
): HeuristicStep {
  const genome = perturb(entry, g, env, `tune:${h.length}`, triedConfigs(h, env));
  const changes = describeParamChanges(g.params, genome.params) || "same params";
  const passed = last.status === "passed";
  return {
    decision: "tune",
    rationale: passed
      ? `#${last.n} passed every gate; explore nearby params to see whether the result is robust.`
      : `#${last.n} is close (${last.reasons.join(", ")}); try nearby params.`,
    entry,
    genome,
    hypothesis: `${entry.name} around #${last.n}'s config (${changes}) ${passed ? "still passes" : "clears the remaining gates"}`,
  };
}

/** The step after the last iteration of `h`; `forced` is a decision already recorded for it. */
export function planNext(
  h: readonly IterationSummary[],
  env: Env,
  forced?: DecisionKind | null,
): HeuristicStep {
  const last = h.at(-1);
  if (!last) return start(h, env, "", "new_approach", "Start with the first library strategy.");
  const entry = findEntry(env.library, last.name);
  const genome = genomeFromYaml(env.library, last.configYaml);
  const f = failedChecks(last);
  const reason = firstReason(last);
  const onward = (d: "new_approach" | "abandon", why: string) => moveOn(h, env, d, why);

  if (!entry)
    return onward(
      "new_approach",
      `#${last.n} is not a library strategy the heuristic can tune; take the next one.`,
    );
  if (forced === "abandon") return onward("abandon", `#${last.n} (${entry.name}) was abandoned: ${reason}.`);
  if (forced === "new_approach")
    return onward(
      "new_approach",
      `#${last.n} (${entry.name}) ran its course (${reason}); try another family.`,
    );

  const atShipped = genome !== undefined && genomeYaml(genome) === genomeYaml(shippedGenome(entry, env.base));
  if (forced === undefined || forced === null) {
    if (f.lookahead)
      return onward("abandon", `#${last.n} (${entry.name}) peeks at future bars (${reason}); drop it.`);
    if (f.duplicate)
      return onward(
        "new_approach",
        `#${last.n} duplicates an earlier candidate (${reason}); try something different.`,
      );
    if (f.crashed || f.policy || !genome) {
      if (atShipped || !genome)
        return onward("abandon", `${entry.name} fails even on its shipped config (${reason}); move on.`);
      return fix(h, last, entry, env);
    }
  }
  if (forced === "fix" || !genome) return fix(h, last, entry, env);

  // tune (recorded or chosen): which one depends on the failed gate.
  const tuned = (): HeuristicStep | undefined => {
    if (last.status === "passed") return explore(h, last, entry, genome, env);
    if (f.trades) return shorter(last, entry, genome, env);
    // A Sharpe short of the gate together with a deep drawdown is a risk problem worth one more
    // try; a Sharpe nowhere near it is not.
    const sharpe = last.metrics?.["sharpe"] ?? Number.NEGATIVE_INFINITY;
    const riskProblem = f.drawdown && !f.profitFactor && sharpe >= 0.5 * env.sharpeMin && sharpe > 0;
    if ((f.sharpe || f.profitFactor) && !riskProblem) return undefined;
    if (f.drawdown) return tighter(last, entry, genome);
    return explore(h, last, entry, genome, env);
  };
  if (forced === "tune") return tuned() ?? explore(h, last, entry, genome, env);
  if (last.status === "passed" && passesInARow(h) >= env.maxTunes)
    return onward(
      "new_approach",
      `${entry.name} passed ${env.maxTunes} times in a row; look for something different too.`,
    );
  if (last.status !== "passed" && tunesInARow(h) >= env.maxTunes)
    return onward(
      "new_approach",
      `${entry.name} had ${env.maxTunes} tuning rounds without passing (${reason}); try another family.`,
    );
  const step = tuned();
  if (step) return step;
  if (f.sharpe || f.profitFactor)
    return onward(
      "new_approach",
      `#${last.n} (${entry.name}) has no edge worth tuning (${reason}); try another family.`,
    );
  return onward("new_approach", `${entry.name} has nothing left to tune for ${reason}; try another family.`);
}

function applyNudge(
  intent: NudgeIntent,
  h: readonly IterationSummary[],
  env: Env,
): HeuristicStep | undefined {
  if (!understood(intent)) return undefined;
  const last = h.at(-1);
  const lastEntry = findEntry(env.library, last?.name);
  const lastGenome = genomeFromYaml(env.library, last?.configYaml);
  const tried = new Set(h.map((s) => s.name));
  let entry: LibraryEntry | undefined;
  let genome: Genome | undefined;
  if (intent.strategy) entry = intent.strategy;
  else if (intent.family && lastEntry?.family !== intent.family) {
    const ofFamily = env.order.filter((e) => e.family === intent.family);
    entry = ofFamily.find((e) => !tried.has(e.name)) ?? ofFamily[0];
  } else entry = lastEntry;
  if (!entry) entry = env.order[0] as LibraryEntry;
  genome = lastGenome && lastGenome.strategy === entry.name ? lastGenome : shippedGenome(entry, env.base);

  const did: string[] = [];
  if (entry.name !== last?.name) did.push(`switch to ${entry.name} (${entry.family})`);
  if (intent.timeframe && intent.timeframe !== genome.timeframe) {
    did.push(`${intent.timeframe} bars instead of ${genome.timeframe}`);
    genome = { ...genome, timeframe: intent.timeframe };
  }
  if (intent.lookbacks) {
    const scaled = scaleLookbacks(entry, genome, intent.lookbacks === "shorter" ? SHORTEN : LENGTHEN);
    if (scaled) {
      did.push(`${intent.lookbacks} lookbacks (${describeParamChanges(genome.params, scaled.params)})`);
      genome = scaled;
    }
  }
  if (intent.stop) {
    const r = intent.stop === "tighter" ? tighterRisk(genome.risk) : widerRisk(genome.risk);
    if (r) {
      did.push(r.what);
      genome = { ...genome, risk: r.risk };
    }
  }
  if (intent.smallerSize) {
    const s = smallerSizing(genome.sizing);
    if (s) {
      did.push(s.what);
      genome = { ...genome, sizing: s.sizing };
    }
  }
  if (intent.direction && intent.direction !== genome.direction) {
    did.push(intent.direction.replace("_", "-"));
    genome = { ...genome, direction: intent.direction };
  }
  if (did.length === 0) did.push(`${entry.name} as it stands`);
  return {
    decision: "tune",
    rationale: `Following the nudge "${intent.text}".`,
    entry,
    genome,
    hypothesis: `Nudge "${intent.text}": ${did.join(", ")}`,
  };
}

export class HeuristicDriver implements Driver {
  readonly name = "heuristic";
  private readonly maxTunes: number;

  constructor(
    private readonly library: Library,
    options: HeuristicOptions = {},
  ) {
    if (library.length === 0) throw new Error("the heuristic driver needs a non-empty strategy library");
    this.maxTunes = options.maxTunes ?? 4;
  }

  private env(ctx: DriverContext): Env {
    return {
      library: this.library,
      order: shuffled(this.library, createRandom(`${ctx.seed}:heuristic:order`)),
      seed: ctx.seed,
      base: ctx.config.dataset.timeframe,
      maxTunes: this.maxTunes,
      sharpeMin: ctx.config.gates.sharpe_min,
      migrants: ctx.migrants ?? [],
      elsewhere: new Set(ctx.triedElsewhere ?? []),
    };
  }

  async propose(ctx: DriverContext): Promise<Proposal> {
    const env = this.env(ctx);
    let step: HeuristicStep | undefined;
    let note = "";
    if (ctx.nudges.length > 0) {
      const intent = readNudges(ctx.nudges, this.library, env.base);
      step = applyNudge(intent, ctx.history, env);
      if (!step) note = ` (the heuristic driver did not understand the nudge "${intent.text}")`;
    }
    step ??= planNext(ctx.history, env, ctx.history.at(-1)?.decision);
    const hypothesis = step.hypothesis + note;
    return { candidate: genomeCandidate(step.entry, step.genome, hypothesis), hypothesis };
  }

  async decide(
    ctx: DriverContext,
    candidate: ProposedCandidate,
    outcome: CandidateOutcome,
  ): Promise<Decision> {
    const step = planNext(historyWith(ctx, candidate, outcome), this.env(ctx));
    return { decision: step.decision, rationale: step.rationale, nextHypothesis: step.hypothesis };
  }
}
