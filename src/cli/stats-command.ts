/**
 * `alphaloop stats …`: deflate your own results without running the loop.
 *   stats dsr     Deflated Sharpe Ratio from a Sharpe ratio, the number of trials and their spread
 *   stats mintrl  Minimum Track Record Length for a Sharpe ratio to beat a benchmark
 *   stats pbo     Probability of Backtest Overfitting (CSCV) from a CSV of trials' returns
 * All Sharpe ratios are per period (not annualised) unless --periods-per-year says otherwise.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type CscvResult, probabilityOfBacktestOverfitting } from "../loop/stats/backtest-overfitting.ts";
import { type DeflatedSharpeResult, deflatedSharpeRatio } from "../loop/stats/deflated-sharpe.ts";
import { effectiveTrials } from "../loop/stats/effective-trials.ts";
import { perPeriodSharpe, perPeriodSharpeVariance } from "../loop/stats/moments.ts";
import { minTrackRecordLength, probabilisticSharpeRatio } from "../loop/stats/probabilistic-sharpe.ts";
import { parseReturnsCsv } from "../loop/stats/returns-csv.ts";
import { StatsError } from "../loop/stats/stats-error.ts";
import { CliError } from "./cli-error.ts";
import { formatTable, printJson } from "./output.ts";

export function register(program: Command): void {
  const stats = program
    .command("stats")
    .description("deflate backtest results: Deflated Sharpe Ratio, Minimum Track Record Length, PBO (CSCV)");
  registerDsr(stats);
  registerMinTrl(stats);
  registerPbo(stats);
}

/** Commander hands options over as strings; a typo must not become NaN downstream. */
function numberOption(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed)) {
      throw new CliError(`${flag} expects a number, got "${value}"`);
    }
    return parsed;
  };
}

function integerOption(flag: string) {
  return (value: string): number => {
    const parsed = numberOption(flag)(value);
    if (!Number.isInteger(parsed)) throw new CliError(`${flag} expects a whole number, got "${value}"`);
    return parsed;
  };
}

/** Runs a statistic, turning a domain error into a message for the terminal. */
function explained<T>(compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    if (err instanceof StatsError) throw new CliError(err.message);
    throw err;
  }
}

function fmt(value: number, digits = 6): string {
  if (Number.isNaN(value)) return "n/a";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (Number.isInteger(value)) return String(value);
  const fixed = value.toFixed(digits);
  return Math.abs(value) < 10 ** -digits && value !== 0 ? value.toExponential(3) : fixed;
}

function printRows(
  title: string,
  rows: readonly (readonly [string, string])[],
  notes: readonly string[] = [],
): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  const body = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
  const footer = notes.length > 0 ? `\n\n${notes.join("\n")}` : "";
  process.stdout.write(`${title}\n${body}${footer}\n`);
}

interface DsrFlags {
  sharpe: number;
  trials: number;
  sharpeVariance: number;
  observations: number;
  skew: number;
  kurtosis: number;
  averageCorrelation?: number;
  periodsPerYear?: number;
  json?: boolean;
}

export interface DsrReport extends DeflatedSharpeResult {
  readonly inputs: {
    readonly sharpe: number;
    readonly trials: number;
    readonly sharpeVariance: number;
    readonly observations: number;
    readonly skew: number;
    readonly kurtosis: number;
    readonly averageCorrelation: number | null;
    readonly periodsPerYear: number | null;
  };
  /** Per-period Sharpe ratio and variance the statistic used (after de-annualising, if asked). */
  readonly perPeriodSharpe: number;
  readonly perPeriodSharpeVariance: number;
  readonly effectiveTrials: number;
}

/** The computation behind `stats dsr`, separate from printing. */
export function dsrReport(flags: DsrFlags): DsrReport {
  return explained(() => {
    const ppy = flags.periodsPerYear;
    const sharpe = ppy === undefined ? flags.sharpe : perPeriodSharpe(flags.sharpe, ppy);
    const variance =
      ppy === undefined ? flags.sharpeVariance : perPeriodSharpeVariance(flags.sharpeVariance, ppy);
    const nEff =
      flags.averageCorrelation === undefined
        ? flags.trials
        : effectiveTrials(flags.trials, flags.averageCorrelation);
    const result = deflatedSharpeRatio({
      sharpe,
      trials: nEff,
      sharpeVariance: variance,
      observations: flags.observations,
      skew: flags.skew,
      kurtosis: flags.kurtosis,
    });
    return {
      inputs: {
        sharpe: flags.sharpe,
        trials: flags.trials,
        sharpeVariance: flags.sharpeVariance,
        observations: flags.observations,
        skew: flags.skew,
        kurtosis: flags.kurtosis,
        averageCorrelation: flags.averageCorrelation ?? null,
        periodsPerYear: ppy ?? null,
      },
      perPeriodSharpe: sharpe,
      perPeriodSharpeVariance: variance,
      effectiveTrials: nEff,
      ...result,
    };
  });
}

function registerDsr(stats: Command): void {
  stats
    .command("dsr")
    .description(
      "Deflated Sharpe Ratio (Bailey & López de Prado 2014): is the best of N trials better than luck?",
    )
    .requiredOption(
      "--sharpe <S>",
      "observed Sharpe ratio of the selected trial, per period",
      numberOption("--sharpe"),
    )
    .requiredOption("--trials <N>", "number of trials the selection was made from", numberOption("--trials"))
    .requiredOption(
      "--sharpe-variance <V>",
      "variance of the trials' Sharpe ratios, per period",
      numberOption("--sharpe-variance"),
    )
    .requiredOption("--observations <T>", "number of return observations", numberOption("--observations"))
    .option("--skew <g3>", "skewness of the selected trial's returns", numberOption("--skew"), 0)
    .option(
      "--kurtosis <g4>",
      "PEARSON kurtosis of the returns (normal = 3; excess + 3)",
      numberOption("--kurtosis"),
      3,
    )
    .option(
      "--average-correlation <rho>",
      "average pairwise correlation of the trials: N becomes rho + (1 - rho)·N",
      numberOption("--average-correlation"),
    )
    .option(
      "--periods-per-year <P>",
      "--sharpe and --sharpe-variance are annualised with P periods a year; convert them",
      numberOption("--periods-per-year"),
    )
    .option("--json", "print the result as JSON")
    .action((flags: DsrFlags) => {
      const r = dsrReport(flags);
      if (flags.json) {
        printJson(r);
        return;
      }
      const rows: [string, string][] = [
        ["Sharpe ratio (per period)", fmt(r.perPeriodSharpe)],
        ["observations T", fmt(flags.observations)],
        ["skew / Pearson kurtosis", `${fmt(flags.skew, 4)} / ${fmt(flags.kurtosis, 4)}`],
        ["trials N", fmt(flags.trials, 2)],
      ];
      if (flags.averageCorrelation !== undefined)
        rows.push(["effective trials N_eff", fmt(r.effectiveTrials, 2)]);
      rows.push(
        ["variance of trials' Sharpe", fmt(r.perPeriodSharpeVariance, 8)],
        ["E[max] of N standard normals", fmt(r.expectedMax)],
        ["SR₀ (best of N by luck)", fmt(r.sr0)],
        ["PSR against 0", fmt(r.psr)],
        ["PSR against SR₀ = DSR", fmt(r.dsr)],
      );
      printRows("Deflated Sharpe Ratio", rows, [
        r.dsr >= 0.95
          ? "DSR ≥ 0.95: the Sharpe ratio is unlikely to be the luck of picking the best of N trials."
          : "DSR < 0.95: the Sharpe ratio is not significant once the number of trials is accounted for.",
      ]);
    });
}

interface MinTrlFlags {
  sharpe: number;
  benchmarkSharpe: number;
  skew: number;
  kurtosis: number;
  confidence: number;
  observations?: number;
  json?: boolean;
}

export interface MinTrlReport {
  readonly inputs: Omit<MinTrlFlags, "json" | "observations"> & { readonly observations: number | null };
  /** Observations needed; null when the Sharpe ratio does not beat the benchmark (never enough). */
  readonly minTrl: number | null;
  /** Whole observations needed (⌈MinTRL⌉). */
  readonly minTrlObservations: number | null;
  /** With --observations: PSR against the benchmark for the track record at hand, and whether it suffices. */
  readonly psr: number | null;
  readonly sufficient: boolean | null;
}

/** The computation behind `stats mintrl`, separate from printing. */
export function minTrlReport(flags: MinTrlFlags): MinTrlReport {
  return explained(() => {
    const value = minTrackRecordLength({
      sharpe: flags.sharpe,
      benchmarkSharpe: flags.benchmarkSharpe,
      skew: flags.skew,
      kurtosis: flags.kurtosis,
      confidence: flags.confidence,
    });
    const finite = Number.isFinite(value);
    const psr =
      flags.observations === undefined
        ? null
        : probabilisticSharpeRatio(
            {
              sharpe: flags.sharpe,
              observations: flags.observations,
              skew: flags.skew,
              kurtosis: flags.kurtosis,
            },
            flags.benchmarkSharpe,
          );
    return {
      inputs: {
        sharpe: flags.sharpe,
        benchmarkSharpe: flags.benchmarkSharpe,
        skew: flags.skew,
        kurtosis: flags.kurtosis,
        confidence: flags.confidence,
        observations: flags.observations ?? null,
      },
      minTrl: finite ? value : null,
      minTrlObservations: finite ? Math.ceil(value) : null,
      psr,
      sufficient: psr === null ? null : psr >= flags.confidence,
    };
  });
}

function registerMinTrl(stats: Command): void {
  stats
    .command("mintrl")
    .description(
      "Minimum Track Record Length (Bailey & López de Prado 2012): how many observations until SR > SR*?",
    )
    .requiredOption("--sharpe <S>", "observed Sharpe ratio, per period", numberOption("--sharpe"))
    .option(
      "--benchmark-sharpe <S*>",
      "benchmark Sharpe ratio, per period",
      numberOption("--benchmark-sharpe"),
      0,
    )
    .option("--skew <g3>", "skewness of the returns", numberOption("--skew"), 0)
    .option(
      "--kurtosis <g4>",
      "PEARSON kurtosis of the returns (normal = 3; excess + 3)",
      numberOption("--kurtosis"),
      3,
    )
    .option("--confidence <alpha>", "confidence level", numberOption("--confidence"), 0.95)
    .option(
      "--observations <T>",
      "length of the track record you have, to compare",
      numberOption("--observations"),
    )
    .option("--json", "print the result as JSON")
    .action((flags: MinTrlFlags) => {
      const r = minTrlReport(flags);
      if (flags.json) {
        printJson(r);
        return;
      }
      const rows: [string, string][] = [
        ["Sharpe ratio (per period)", fmt(flags.sharpe)],
        ["benchmark Sharpe SR*", fmt(flags.benchmarkSharpe)],
        ["skew / Pearson kurtosis", `${fmt(flags.skew, 4)} / ${fmt(flags.kurtosis, 4)}`],
        ["confidence", fmt(flags.confidence, 4)],
        [
          "MinTRL (observations)",
          r.minTrl === null ? "∞ (SR ≤ SR*)" : `${fmt(r.minTrl, 2)} → ${r.minTrlObservations}`,
        ],
      ];
      if (r.psr !== null && flags.observations !== undefined) {
        rows.push(["observations you have", fmt(flags.observations)], ["PSR against SR*", fmt(r.psr)]);
      }
      const notes =
        r.sufficient === null
          ? []
          : [r.sufficient ? "The track record is long enough." : "The track record is too short."];
      printRows("Minimum Track Record Length", rows, notes);
    });
}

interface PboFlags {
  blocks: number;
  maxSplits: number;
  seed: number;
  json?: boolean;
}

export interface PboReport extends CscvResult {
  readonly file: string;
  readonly names: readonly string[];
  /** How often each trial was the in-sample winner, most often first. */
  readonly selectionCounts: readonly { readonly trial: string; readonly splits: number }[];
}

/** The computation behind `stats pbo`, from the CSV text, separate from reading and printing. */
export function pboReport(file: string, csv: string, flags: Omit<PboFlags, "json">): PboReport {
  return explained(() => {
    const table = parseReturnsCsv(csv);
    const result = probabilityOfBacktestOverfitting(table.columns, {
      blocks: flags.blocks,
      maxSplits: flags.maxSplits,
      seed: flags.seed,
    });
    const counts = new Map<number, number>();
    for (const j of result.selectedTrials) counts.set(j, (counts.get(j) ?? 0) + 1);
    const selectionCounts = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([j, splits]) => ({ trial: table.names[j] ?? String(j), splits }));
    return { file, names: table.names, selectionCounts, ...result };
  });
}

function registerPbo(stats: Command): void {
  stats
    .command("pbo")
    .description("Probability of Backtest Overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu)")
    .argument("<file>", "CSV: header row = trial names, each row = one period's return for every trial")
    .option("--blocks <S>", "number of blocks S (even)", integerOption("--blocks"), 16)
    .option(
      "--max-splits <n>",
      "evaluate all C(S, S/2) splits up to this many, else a seeded sample",
      integerOption("--max-splits"),
      5000,
    )
    .option("--seed <n>", "seed for the split sample", integerOption("--seed"), 1)
    .option("--json", "print the result as JSON (λ for every split included)")
    .action(async (file: string, flags: PboFlags) => {
      let csv: string;
      try {
        csv = await readFile(file, "utf8");
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const r = pboReport(file, csv, flags);
      if (flags.json) {
        printJson(r);
        return;
      }
      const splits = r.sampled
        ? `${r.splits} sampled of ${r.possibleSplits} (seed ${r.seed})`
        : `${r.splits} (all C(${r.blocks}, ${r.blocks / 2}))`;
      printRows(
        "Probability of Backtest Overfitting (CSCV)",
        [
          ["trials × observations", `${r.trials} × ${r.observations}`],
          ["blocks S", String(r.blocks)],
          ["splits", splits],
          ["PBO", fmt(r.pbo, 4)],
          ["P(OOS loss)", fmt(r.probabilityOfLoss, 4)],
          ["degradation slope", fmt(r.degradation.slope, 4)],
          ["degradation intercept", fmt(r.degradation.intercept, 6)],
          ["degradation R²", fmt(r.degradation.rSquared, 4)],
        ],
        [
          "PBO: share of splits where the in-sample best trial ranks at or below the median out of sample.",
          "Degradation: least-squares slope of OOS on IS Sharpe ratio (per period) of the selected trial.",
          "",
          formatTable(
            ["in-sample winner", "splits"],
            r.selectionCounts.slice(0, 5).map((c) => [c.trial, String(c.splits)]),
          ),
        ],
      );
    });
}
