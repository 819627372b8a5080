import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { taReference } from "../backtest/ta/reference.ts";
import { type Gates, GatesSchema, type RunConfig } from "../domain/run-config.ts";
import { StrategyConfigSchema } from "../domain/strategy-config.ts";
import { PROJECT_ROOT } from "../loop/config-files.ts";
import { createRandom, type Random } from "../market/prng.ts";
import { DECISIONS, expectedShape } from "./agent-tools.ts";
import { TOOL_DEFINITIONS } from "./tools-schema.ts";

/**
 * The agent's prompt. The system message is the same for every iteration of a run — the rules and
 * an API reference generated from the code's own schemas and data (strategy API source, StrategyConfig
 * JSON Schema, `taReference`, the library README) so it cannot drift — and it comes first, so a server
 * with prefix caching reuses it. The run seed jitters it (wording variants of the instructions, order of
 * the library index) so parallel runs diverge; it never changes within a run. The user message carries
 * what changes, least volatile first: run settings, history, the coverage map, the iteration line, and
 * the nudges last.
 *
 * The holdout never reaches the model: the builder only accepts a `PromptRunState`, which has no
 * holdout field, and checks it at run time with a strict schema so a RunConfig (or anything with
 * extra keys) passed through a cast is refused too.
 */

const DateText = z.string().min(1);

export const PromptRunStateSchema = z.strictObject({
  runId: z.string().min(1),
  /** 1-based number of the iteration this prompt is for. */
  iteration: z.number().int().min(1),
  maxIterations: z.number().int().min(1),
  /** What the person asked the run to look for. */
  brief: z.string(),
  dataset: z.strictObject({ symbol: z.string(), timeframe: z.string() }),
  /** The search window, start inclusive, end exclusive (as in the run config). */
  search: z.strictObject({ start: DateText, end: DateText }),
  walkForward: z.strictObject({ folds: z.number().int(), scheme: z.string(), warmupBars: z.number().int() }),
  costs: z.strictObject({ feeBps: z.number(), slippageBps: z.number() }),
  gates: GatesSchema,
  /** The hypothesis the previous iteration said it would try next. */
  nextHypothesis: z.string().optional(),
});

/** Everything about the run the model may know. There is deliberately no holdout field. */
export type PromptRunState = z.infer<typeof PromptRunStateSchema>;

export interface PromptInput {
  state: PromptRunState;
  /** The compact history table of this run's iterations (one line each, oldest first). */
  history: string;
  /** Nudges claimed for this iteration and before, oldest first. */
  nudges: readonly string[];
  /** The coverage map (`formatCoverage`): where this run has looked and what it has left untried. */
  coverage?: string;
  /**
   * On a run with islands: which island this iteration works for, and the other islands' best
   * candidates (`formatMigrants`), shown so the model may build on them.
   */
  island?: { readonly index: number; readonly of: number; readonly migrants: string };
  /**
   * The run's seed: picks the wording of the instructions and the order of the library index in the
   * system message. Stable within a run (the prefix cache), different across runs (diversity).
   */
  seed?: number;
}

export interface RenderedPrompt {
  system: string;
  user: string;
}

/** The parts of a run config the model may see: no holdout window (drivers get exactly this shape). */
export type SearchSideConfig = Omit<RunConfig, "windows"> & {
  readonly windows: Pick<RunConfig["windows"], "search">;
};

/** The model's view of a run config: the search side only. */
export function promptRunStateOf(
  config: SearchSideConfig,
  run: { runId: string; iteration: number; brief: string; nextHypothesis?: string },
): PromptRunState {
  return {
    runId: run.runId,
    iteration: run.iteration,
    maxIterations: config.budgets.max_iterations,
    brief: run.brief,
    dataset: { symbol: config.dataset.symbol, timeframe: config.dataset.timeframe },
    search: { start: config.windows.search.start, end: config.windows.search.end },
    walkForward: {
      folds: config.walk_forward.folds,
      scheme: config.walk_forward.scheme,
      warmupBars: config.walk_forward.warmup_bars,
    },
    costs: { feeBps: config.costs.fee_bps, slippageBps: config.costs.slippage_bps },
    gates: config.gates,
    ...(run.nextHypothesis ? { nextHypothesis: run.nextHypothesis } : {}),
  };
}

const MINUTE = 60_000;

function utc(s: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
}

/**
 * The last moment inside the window. The end bound is exclusive and usually equals the holdout's start,
 * so printing it would print a holdout date; the inclusive last day (or minute) is printed instead.
 */
function inclusiveEnd(end: string): string {
  const last = new Date(utc(end) - MINUTE).toISOString();
  return last.endsWith("T23:59:00.000Z") ? last.slice(0, 10) : `${last.slice(0, 16).replace("T", " ")} UTC`;
}

function inclusiveStart(start: string): string {
  const iso = new Date(utc(start)).toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : `${iso.slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * Phrasing variants of the instruction paragraphs: same rules, different words. A run picks one of
 * each from its seed, so parallel runs with the same brief do not read the identical prompt (and do
 * not all fall into the same first idea), while every iteration of one run reads the same text.
 * Variant 0 is the canonical wording. Each variant must keep its rule: holdout unseen, windows and
 * costs frozen, trials counted (a test checks the key phrases in every combination).
 */
const INTRO = [
  `You are a quantitative researcher mining crypto trading strategies inside a research harness.
Each iteration you test ONE idea: write or adapt a strategy (a TypeScript module plus a YAML config) in your
workspace, backtest it with run_backtest, read the metrics, gate results and DISCARD reasons, and end the
iteration with decide.`,
  `You are a quantitative researcher working inside a research harness that searches for crypto trading
strategies. One iteration tests ONE idea: in your workspace you write a strategy (a TypeScript module and a
YAML config) or adapt an existing one, backtest it with run_backtest, study the metrics, the gate results and
the DISCARD reasons, and close the iteration with decide.`,
  `You are a quantitative researcher, and a research harness runs your experiments on crypto markets.
In each iteration, test exactly ONE idea: adapt or write a strategy (a TypeScript module with a YAML config)
in your workspace, run it with run_backtest, read what comes back (metrics, gate results, DISCARD reasons),
then finish the iteration with decide.`,
] as const;

const FROZEN = [
  `- The harness owns the data windows, the walk-forward folds, the costs (fees, slippage) and the gates. They
  are frozen for the whole run. A strategy config that sets a date, window, fee, slippage or gate is a policy
  violation: it is reported and never applied.`,
  `- Data windows, walk-forward folds, costs (fees, slippage) and gates belong to the harness and stay frozen
  for the whole run. Setting a date, window, fee, slippage or gate in a strategy config is a policy
  violation: it is reported and never applied.`,
  `- The gates, the costs (fees, slippage), the data windows and the walk-forward folds are fixed by the
  harness and frozen for the whole run. If a strategy config sets a date, window, fee, slippage or gate, that
  is a policy violation: it is reported and never applied.`,
] as const;

const HOLDOUT = [
  `- You only ever see the search window. A separate holdout period exists; it is never shown to you, and it is
  evaluated by the harness only for a candidate that passes every gate. Do not try to guess or target it.`,
  `- The holdout period is separate from your data and never shown to you; the harness evaluates it only for
  a candidate that passes every gate. You only ever see the search window. Do not try to guess or target it.`,
  `- A holdout period exists beyond what you see: it is never shown to you, and the harness evaluates it only
  for a candidate that passes every gate. You only ever see the search window. Do not try to guess or target it.`,
] as const;

const LEDGER = [
  `- Every backtest you run is counted in a trial ledger: the Deflated Sharpe gate gets stricter the more
  variants are tried. Prefer a few well-motivated tests to many blind parameter sweeps.`,
  `- A trial ledger counts every backtest you run, and the Deflated Sharpe gate tightens with each variant
  tried. A few well-motivated tests beat many blind parameter sweeps.`,
  `- Each backtest is recorded in a trial ledger and counted: the more variants are tried, the stricter the
  Deflated Sharpe gate becomes. Test a few well-motivated ideas rather than sweeping parameters blindly.`,
] as const;

const DECIDE_INTRO = [
  "End every iteration with decide. The decision is about the line of research you just tested:",
  "Close every iteration with decide. The decision describes the line of research you just tested:",
  "Every iteration ends with decide, a verdict on the line of research you just tested:",
] as const;

const DECIDE_OUTRO = [
  "The rationale cites the metrics or the error; next_hypothesis is what the next iteration will try.",
  "In the rationale, cite the metrics or the error; in next_hypothesis, say what the next iteration will try.",
] as const;

interface RulesVariant {
  intro: number;
  frozen: number;
  holdout: number;
  ledger: number;
  decideIntro: number;
  decideOutro: number;
}

const CANONICAL: RulesVariant = {
  intro: 0,
  frozen: 0,
  holdout: 0,
  ledger: 0,
  decideIntro: 0,
  decideOutro: 0,
};

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

function rules(v: RulesVariant): string {
  return `${pick(INTRO, v.intro)}

# Rules of the harness

${pick(FROZEN, v.frozen)}
${pick(HOLDOUT, v.holdout)}
${pick(LEDGER, v.ledger)}
- Strategies run in a sandbox: no imports besides "alphaloop/strategy", no network, clock or files.
  Signals at bar i may use only bars 0..i; fills happen at the next bar's open; a strategy whose past
  signals change when future bars are cut off is discarded as look-ahead.
- Your workspace has strategies/ (the library, read-only, plus the files you write) and notes/ (the user's
  notes, read-only). Write new strategies under strategies/ with a new file name; copy a library file to a
  new name to change it. Paths are relative (strategies/my-idea.ts); nothing outside the workspace exists.
- Every reply must be a tool call. Keep code compact: no long comments.
- Prefer ta's batch functions to per-bar loops; in a loop, read series into locals first
  (const c = bars.close), as a property read per bar costs more than the arithmetic.

# Tools

${TOOL_DEFINITIONS.map((d) => `- ${expectedShape(d.function.name)}: ${d.function.description}`).join("\n")}

# Decisions

${pick(DECIDE_INTRO, v.decideIntro)}
- ${DECISIONS[0]}: drop this idea; it does not work (say why in the rationale).
- ${DECISIONS[1]}: the code or the config errored (compile error, runtime error, invalid config, look-ahead);
  the next iteration repairs it.
- ${DECISIONS[2]}: same idea, new parameters or risk settings (say which and why).
- ${DECISIONS[3]}: a different family or idea altogether (name it in next_hypothesis).
${pick(DECIDE_OUTRO, v.decideOutro)}`;
}

/** `Bars` as declared in src/domain/bars.ts (the strategy module re-exports it under an alias). */
function barsInterface(): string {
  const source = readFileSync(join(PROJECT_ROOT, "src", "domain", "bars.ts"), "utf8");
  return (
    /export interface Bars \{[^}]*\}/.exec(source)?.[0] ?? "export type Bars = columnar Float64Array fields"
  );
}

/** The strategy API module as the sandbox sees it, minus its imports and its notes for maintainers. */
function strategyApiSource(): string {
  const source = readFileSync(join(PROJECT_ROOT, "src", "backtest", "strategy.ts"), "utf8");
  const example = /```ts\n([\s\S]*?)```/.exec(source)?.[1]?.replace(/^ \* ?/gm, "") ?? "";
  const body = source
    .slice(source.indexOf("*/") + 2)
    .split("\n")
    .filter((line) => !line.startsWith("import "))
    .join("\n")
    .trim()
    // The aliased imports were dropped above; say what they are.
    .replace("export type Bars = DomainBars;", barsInterface())
    .replace(
      "export type Ta = typeof taLibrary;",
      "export type Ta = typeof ta; // the indicators listed below",
    );
  return `Example:\n\n\`\`\`ts\n${example.trim()}\n\`\`\`\n\nThe module "alphaloop/strategy" (TypeScript source):\n\n\`\`\`ts\n${body}\n\`\`\``;
}

function taSection(): string {
  const lines = taReference.map(
    (e) => `- ta.${e.signature} → ${e.returns}. ${e.description} Warm-up (leading NaN): ${e.warmup}.`,
  );
  return lines.join("\n");
}

/** Drops JSON Schema noise that only costs tokens (zod's safe-integer bounds, the $schema URL). */
function tidySchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidySchema);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "$schema") continue;
    if ((k === "maximum" || k === "minimum") && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = tidySchema(v);
  }
  return out;
}

function configSchemaSection(): string {
  const schema = tidySchema(z.toJSONSchema(StrategyConfigSchema, { io: "input" }));
  return `\`\`\`json\n${JSON.stringify(schema, null, 1)}\n\`\`\``;
}

function libraryReadme(): string {
  return readFileSync(join(PROJECT_ROOT, "strategies", "README.md"), "utf8").trim();
}

/** Fisher–Yates with the run's generator: the same seed gives the same order on every machine. */
function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * The library README with its index rows (the `| \`name\` | …` lines) in a seeded order: a model
 * leans on whatever example it reads first, so each run meets the library in a different order.
 */
export function shuffleLibraryIndex(readme: string, random: Random): string {
  const lines = readme.split("\n");
  const rows = lines.flatMap((l, i) => (/^\|\s*`[^`]+`/.test(l) ? [i] : []));
  const order = shuffled(
    rows.map((i) => lines[i] as string),
    random,
  );
  rows.forEach((at, k) => {
    lines[at] = order[k] as string;
  });
  return lines.join("\n");
}

/** How a run seed jitters the system prompt: which wording of each paragraph, and the library order. */
interface Jitter {
  rules: RulesVariant;
  random?: Random;
}

function jitterOf(seed: number | undefined): Jitter {
  if (seed === undefined) return { rules: CANONICAL };
  const random = createRandom(`prompt:${seed}`);
  const rules: RulesVariant = {
    intro: random.int(INTRO.length),
    frozen: random.int(FROZEN.length),
    holdout: random.int(HOLDOUT.length),
    ledger: random.int(LEDGER.length),
    decideIntro: random.int(DECIDE_INTRO.length),
    decideOutro: random.int(DECIDE_OUTRO.length),
  };
  return { rules, random };
}

/**
 * The generated API reference: strategy module, indicators, config schema, library. With a seed the
 * library index is in that seed's order; without one it is in the README's order.
 */
export function apiReference(seed?: number): string {
  const readme = libraryReadme();
  const random = jitterOf(seed).random;
  return [
    "# Strategy API",
    strategyApiSource(),
    "# Indicators: the `ta` argument of signals (all take and return Float64Array series of the bars' length)",
    taSection(),
    "# Strategy config (YAML), as JSON Schema",
    configSchemaSection(),
    "# The strategy library (read the files under strategies/ for complete examples)",
    random ? shuffleLibraryIndex(readme, random) : readme,
  ].join("\n\n");
}

/** A worker serves a few runs at a time; keep the last few seeds' prompts rather than all of them. */
const SYSTEM_CACHE_SIZE = 16;
const systemCache = new Map<number | undefined, string>();

function renderSystem(seed: number | undefined): string {
  return `${rules(jitterOf(seed).rules)}\n\n${apiReference(seed)}\n`;
}

/**
 * The system message. It depends on the run seed only — identical for every iteration of a run, so
 * the server's prefix cache holds across the run. Without a seed: the canonical wording and order.
 */
export function systemPrompt(seed?: number): string {
  let text = systemCache.get(seed);
  if (text === undefined) {
    text = renderSystem(seed);
    if (systemCache.size >= SYSTEM_CACHE_SIZE) systemCache.delete(systemCache.keys().next().value);
    systemCache.set(seed, text);
  }
  return text;
}

export const DEFAULT_BRIEF = "find a strategy that clears every gate";

/**
 * Angles a run may take on its brief. Parallel runs given the same brief each draw one from their
 * seed, so they start in different places instead of all opening with the same EMA cross.
 */
export const BRIEF_ANGLES = [
  "follow the brief as written, no particular slant.",
  "prefer a family the coverage map shows as untried before refining one that was.",
  "favour fewer, longer trades (low turnover) that survive the costs.",
  "look for volatility regimes: trade only when volatility is unusually high or unusually low.",
  "try a higher timeframe than the base before going down to the base.",
  "combine two simple signals, one as a filter for the other, rather than tuning one signal hard.",
  "consider long/short strategies, not only long-only ones.",
  "start from the simplest library strategy and change one thing at a time.",
] as const;

/**
 * The brief plus this run's seeded angle line (stable for the run, different across seeds). On a
 * run with islands, `seed` is the run's seed and island i takes the angle i places after island
 * 0's, so islands never share an angle (up to the number of angles).
 */
export function briefVariant(brief: string, seed: number, island = 0): string {
  const first = createRandom(`angle:${seed}`).int(BRIEF_ANGLES.length);
  const angle = BRIEF_ANGLES[(first + island) % BRIEF_ANGLES.length] as string;
  return `${brief.trim() === "" ? DEFAULT_BRIEF : brief.trim()}\nAngle for this run: ${angle}`;
}

function gatesText(g: Gates): string {
  const lines = [
    `annualised Sharpe ≥ ${g.sharpe_min}`,
    `max drawdown ≤ ${g.max_drawdown_max * 100} %`,
    `profit factor ≥ ${g.profit_factor_min}`,
    `trades ≥ ${g.trades_min}`,
    `Deflated Sharpe probability ≥ ${g.dsr_min}`,
    `positive folds ≥ ${g.folds_positive_min}`,
  ];
  for (const [name, b] of Object.entries(g.metrics)) {
    if (b.min !== undefined) lines.push(`${name} ≥ ${b.min}`);
    if (b.max !== undefined) lines.push(`${name} ≤ ${b.max}`);
  }
  return lines.map((l) => `- ${l}`).join("\n");
}

export const COVERAGE_HEADING = "# Where this run has looked (coverage map)";

export const MIGRANTS_HEADING = "# Best from the other islands (migrants)";

/** One migrant as the model sees it: where it comes from, how it did, and its config to start from. */
export interface MigrantView {
  readonly island: number;
  readonly n: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly status: string;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly reasons: readonly string[];
  readonly configYaml: string | null;
}

const fmt2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));

export function formatMigrants(migrants: readonly MigrantView[]): string {
  return migrants
    .map((m) => {
      const x = m.metrics ?? {};
      const head = `best from island ${m.island}: #${m.n} ${m.name ?? "?"} (${m.family ?? "?"}), ${m.status === "passed" ? "PASSED every gate" : `discarded: ${m.reasons.join("; ").slice(0, 160)}`}; sharpe ${fmt2(x["sharpe"])}, max_drawdown ${fmt2(x["maxDrawdown"])}, profit_factor ${fmt2(x["profitFactor"])}, trades ${x["tradeCount"] ?? "-"}`;
      return m.configYaml ? `${head}\n\`\`\`yaml\n${m.configYaml.trim()}\n\`\`\`` : head;
    })
    .join("\n\n");
}

export const NUDGES_HEADING = "# Nudges from the people steering this run (they take priority)";

function nudgesSection(nudges: readonly string[]): string {
  if (nudges.length === 0) return `${NUDGES_HEADING}\n\nNone so far.`;
  return `${NUDGES_HEADING}\n\nThese come from the humans running the research. Follow them over your own plan and over the notes (but never over the harness rules above):\n\n${nudges.map((n, i) => `${i + 1}. ${n.trim()}`).join("\n")}`;
}

function islandSection(i: NonNullable<PromptInput["island"]>): string {
  const intro = `This run searches as ${i.of} islands that share one trial ledger; you work for island ${i.index}, and the history above is this island's own. Every few iterations the other islands' best candidates arrive here: you may start from one (tune it, combine its idea with yours) or keep your own line if it is more promising.`;
  return `${MIGRANTS_HEADING}\n\n${intro}\n\n${i.migrants.trim() === "" ? "None yet." : i.migrants.trim()}`;
}

export function buildPrompt(input: PromptInput): RenderedPrompt {
  const state = PromptRunStateSchema.parse(input.state);
  const s = state;
  const history = input.history.trim() === "" ? "No iterations yet." : input.history.trim();
  const user = [
    `# This run\n\nBrief: ${s.brief.trim() === "" ? DEFAULT_BRIEF : s.brief.trim()}`,
    `Data: ${s.dataset.symbol} ${s.dataset.timeframe} bars (strategies may use a multiple of ${s.dataset.timeframe}), search window ${inclusiveStart(s.search.start)} to ${inclusiveEnd(s.search.end)} inclusive, UTC; ${s.walkForward.folds} ${s.walkForward.scheme} walk-forward folds with ${s.walkForward.warmupBars} warm-up bars each.`,
    `Costs per side: fee ${s.costs.feeBps} bps, slippage ${s.costs.slippageBps} bps.`,
    `Gates (all must pass):\n${gatesText(s.gates)}`,
    `# History of this run (oldest first)\n\n${history}`,
    ...(input.coverage?.trim() ? [`${COVERAGE_HEADING}\n\n${input.coverage.trim()}`] : []),
    ...(input.island ? [islandSection(input.island)] : []),
    `# Iteration ${s.iteration} of ${s.maxIterations}\n\n${s.nextHypothesis ? `The previous iteration planned: ${s.nextHypothesis.trim()}\n\n` : ""}Work on one idea, backtest it, then call decide.`,
    nudgesSection(input.nudges),
  ].join("\n\n");
  return { system: systemPrompt(input.seed), user: `${user}\n` };
}
