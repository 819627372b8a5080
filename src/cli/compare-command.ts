/**
 * `alphaloop compare`: a budget-matched comparison of drivers on one frozen config. Writes a
 * markdown report, the chart's QuickChart config beside it (and the PNG when QUICKCHART_URL is
 * set), progress on stderr.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import quickchartModule from "quickchart-js";
import { compareDrivers } from "../loop/compare.ts";
import { chartConfig, renderReport } from "../loop/compare-report.ts";
import { ensureBundledData } from "../market/bundled.ts";
import { type Db, openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { CliError } from "./cli-error.ts";
import { DRIVER_NAMES, makeDriver } from "./driver-choice.ts";
import { printJson } from "./output.ts";
import { runConfigFor } from "./run-command.ts";

export interface CompareCommandDeps {
  openDb?: () => Promise<Db>;
  write?: (text: string) => void;
  progress?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** What we use of quickchart-js. */
interface QuickChartLike {
  setScheme(s: string): QuickChartLike;
  setHost(h: string): QuickChartLike;
  setWidth(w: number): QuickChartLike;
  setHeight(h: number): QuickChartLike;
  setConfig(c: string): QuickChartLike;
  toBinary(): Promise<Buffer>;
}
// The package is CommonJS whose module.exports is the class, but its types declare an ES default
// export, so under NodeNext TypeScript sees the namespace where Node hands over the class.
const QuickChart = quickchartModule as unknown as new () => QuickChartLike;

interface CompareFlags {
  drivers: string;
  budget: string;
  seeds: string;
  config?: string[];
  preset?: string;
  out: string;
  json?: boolean;
  brief?: string;
  parallel: string;
  islands?: string;
}

/**
 * Runs are independent (each has its own sandbox isolate, and the figures do not depend on the
 * order), so by default one per core, at most 4.
 */
const DEFAULT_PARALLEL = Math.max(1, Math.min(4, availableParallelism()));

function positiveInt(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`${flag} must be a positive integer, got "${raw}"`, 2);
  return n;
}

export function parseDrivers(raw: string): string[] {
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new CliError("--drivers needs at least one driver", 2);
  for (const n of names) {
    if (!(DRIVER_NAMES as readonly string[]).includes(n)) {
      throw new CliError(`unknown driver "${n}": use ${DRIVER_NAMES.join(", ")}`, 2);
    }
  }
  if (new Set(names).size !== names.length) throw new CliError("--drivers lists a driver twice", 2);
  return names;
}

/** `report.md` → `report.chart.json` / `report.chart.png`. */
export function chartPath(out: string, ext: "json" | "png"): string {
  const stem = out.endsWith(".md") ? out.slice(0, -3) : out;
  return `${stem}.chart.${ext}`;
}

function commandLine(o: CompareFlags): string {
  return [
    "alphaloop compare",
    `--drivers ${o.drivers}`,
    `--budget ${o.budget}`,
    `--seeds ${o.seeds}`,
    ...(o.preset ? [`--preset ${o.preset}`] : []),
    ...(o.islands ? [`--islands ${o.islands}`] : []),
    ...(o.config ?? []).map((c) => `--config ${c}`),
  ].join(" ");
}

export function register(program: Command, deps: CompareCommandDeps = {}): void {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const progress = deps.progress ?? ((t: string) => process.stderr.write(t));
  const env = deps.env ?? process.env;

  program
    .command("compare")
    .description("compare drivers on the same frozen config and backtest budget, over several seeds")
    .option("--drivers <list>", "comma-separated: heuristic, ga, random, llm", "heuristic,ga,random")
    .option("--budget <n>", "backtests per driver and seed", "200")
    .option("--seeds <n>", "seeds 1..n for every driver", "5")
    .option("--config <file...>", "run config overrides, deep-merged over configs/default.yaml")
    .option("--preset <name>", "a preset from configs/presets (e.g. lenient)")
    .option("--brief <text>", "brief given to every run (the llm driver reads it)")
    .option(
      "--parallel <n>",
      "runs side by side (each with its own sandbox); default: one per CPU core, at most 4",
      String(DEFAULT_PARALLEL),
    )
    .option("--islands <n>", "run every driver with N islands (loop.islands, 1..16)")
    .option("--out <file>", "markdown report", "compare-report.md")
    .option("--json", "print the comparison as JSON instead of the report")
    .action(async (o: CompareFlags) => {
      const drivers = parseDrivers(o.drivers);
      const budget = positiveInt(o.budget, "--budget");
      const seedCount = positiveInt(o.seeds, "--seeds");
      const parallel = positiveInt(o.parallel, "--parallel");
      const config = runConfigFor({
        ...(o.config ? { config: o.config } : {}),
        ...(o.preset ? { preset: o.preset } : {}),
        ...(o.islands ? { islands: String(positiveInt(o.islands, "--islands")) } : {}),
      });
      if (drivers.includes("llm") && !env["LLM_BASE_URL"]) {
        throw new CliError("--drivers includes llm but LLM_BASE_URL is not set", 2);
      }
      const db = await open();
      const controller = new AbortController();
      const onSigint = () => {
        progress("\ninterrupted: stopping after the current iteration\n");
        controller.abort();
      };
      process.on("SIGINT", onSigint);
      try {
        const seeded = await ensureBundledData(db);
        if (seeded) progress(`imported the bundled market data (${seeded.files.length} files)\n`);
        const runs = new PgRunRepository(db);
        const comparison = await compareDrivers({
          db,
          drivers,
          seeds: Array.from({ length: seedCount }, (_, i) => i + 1),
          budget,
          config,
          makeDriver: (name) => makeDriver(name, { db, runs }),
          signal: controller.signal,
          parallel,
          command: commandLine(o),
          ...(o.brief ? { brief: o.brief } : {}),
          onProgress: (p) => {
            if (p.finished) {
              progress(
                `[${p.done}/${p.total}] ${p.driver} seed ${p.seed} (${p.runId}): ${p.backtests} backtests, ${p.passes} passed, best distance ${p.bestDistance === null ? "-" : p.bestDistance.toFixed(3)}\n`,
              );
            } else if (p.backtests % 10 === 0) {
              progress(
                `  ${p.driver} seed ${p.seed}: ${p.backtests}/${p.budget} backtests, ${p.passes} passed\n`,
              );
            }
          },
        });
        const report = renderReport({
          ...comparison,
          meta: { ...comparison.meta, date: new Date().toISOString().slice(0, 10) },
        });
        writeFileSync(o.out, report);
        const chart = chartConfig(comparison);
        const chartJson = chartPath(o.out, "json");
        writeFileSync(chartJson, `${JSON.stringify(chart, null, 2)}\n`);
        let png: string | undefined;
        const qc = env["QUICKCHART_URL"]?.trim();
        if (qc) {
          try {
            const url = new URL(qc);
            const q = new QuickChart()
              .setScheme(url.protocol.replace(":", ""))
              .setHost(url.host)
              .setWidth(900)
              .setHeight(450)
              .setConfig(JSON.stringify(chart));
            png = chartPath(o.out, "png");
            writeFileSync(png, await q.toBinary());
          } catch (err) {
            progress(`chart PNG not rendered (${(err as Error).message}); the config is in ${chartJson}\n`);
            png = undefined;
          }
        }
        if (o.json) {
          printJson({
            ...comparison,
            runs: comparison.runs.map((r) => ({
              ...r,
              final: r.final
                ? {
                    ...r.final,
                    daily: r.final.daily
                      ? { firstDay: r.final.daily.firstDay, days: r.final.daily.returns.length }
                      : null,
                  }
                : null,
            })),
            files: { report: o.out, chart: chartJson, ...(png ? { png } : {}) },
          });
        } else {
          write(report);
          write(`\nreport: ${o.out}\nchart config: ${chartJson}${png ? `\nchart: ${png}` : ""}\n`);
        }
      } finally {
        process.off("SIGINT", onSigint);
        await db.close();
      }
    });
}
