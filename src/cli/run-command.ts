/**
 * `alphaloop run`: a research run in the terminal. A live table row per iteration, a line typed on
 * stdin is a nudge for the next iteration, Ctrl-C pauses (resume with `--resume ID`), and at the
 * end a summary and results.tsv. `alphaloop runs list|show` read past runs.
 */
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { stringify as stringifyYaml } from "yaml";
import { mergeConfig, parseRunConfig, type RunConfig, windowMs } from "../domain/run-config.ts";
import { loadRunConfigFiles, presetPath } from "../loop/config-files.ts";
import { islandOf, islandSettings } from "../loop/islands.ts";
import type { CompletedIteration } from "../loop/research-loop.ts";
import type { IterationRecord, RunRecord } from "../loop/run-repository.ts";
import { buildLoop, createRun } from "../loop/runner.ts";
import { ensureBundledData } from "../market/bundled.ts";
import { type Db, openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { CliError } from "./cli-error.ts";
import { makeDriver, resolveDriverName } from "./driver-choice.ts";
import { formatTable, printJson } from "./output.ts";

export interface RunCommandDeps {
  openDb?: () => Promise<Db>;
  write?: (text: string) => void;
  /** Lines typed by the user (default: stdin when it is a terminal or a pipe). */
  input?: NodeJS.ReadableStream | null;
}

interface RunFlags {
  brief?: string;
  config?: string[];
  preset?: string;
  driver?: string;
  maxIterations?: string;
  seed?: string;
  islands?: string;
  resume?: string;
  results?: string;
}

const GATE_ORDER = ["sharpe", "max_drawdown", "profit_factor", "trades", "dsr", "folds_positive"];
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));

function gateMarks(it: Pick<CompletedIteration, "gates">): string {
  if (it.gates.length === 0) return "-";
  return GATE_ORDER.map((g) => {
    const r = it.gates.find((x) => x.gate === g);
    return r ? (r.pass ? "✓" : "✗") : "·";
  }).join("");
}

export const TABLE_HEADER = [
  "#",
  "name",
  "family",
  "sharpe",
  "maxDD",
  "PF",
  "trades",
  "DSR",
  "S D P T R F",
  "decision",
  "reasons",
];

/** The table's columns; a run with islands gets an `isl` column after the iteration number. */
export function tableHeader(islands = 1): string[] {
  return islands > 1 ? [TABLE_HEADER[0] as string, "isl", ...TABLE_HEADER.slice(1)] : [...TABLE_HEADER];
}

export function iterationRow(it: CompletedIteration, islands = 1): string[] {
  const m = it.metrics ?? {};
  const status =
    it.status === "passed"
      ? "PASS"
      : it.status === "crashed"
        ? "crash"
        : it.status === "model_error"
          ? "model error"
          : "";
  return [
    String(it.n),
    ...(islands > 1 ? [String(it.island)] : []),
    it.name ?? "-",
    it.family ?? "-",
    f2(m["sharpe"]),
    m["maxDrawdown"] === undefined ? "-" : `${((m["maxDrawdown"] as number) * 100).toFixed(0)}%`,
    f2(m["profitFactor"]),
    m["tradeCount"] === undefined ? "-" : String(m["tradeCount"]),
    f2(m["dsr"]),
    gateMarks(it).split("").join(" "),
    `${it.decision?.decision ?? "-"}${it.forced ? " (forced)" : ""}`,
    [status, ...it.reasons].filter(Boolean).join("; ").slice(0, 90),
  ];
}

/** Fixed-width row so a live table lines up without knowing later rows. */
const WIDTHS = [4, 22, 15, 7, 6, 6, 7, 5, 12, 14, 0];
const ISLAND_WIDTHS = [4, 4, ...WIDTHS.slice(1)];
export function formatRow(cells: readonly string[]): string {
  const widths = cells.length > WIDTHS.length ? ISLAND_WIDTHS : WIDTHS;
  return cells
    .map((c, i) => {
      const w = widths[i] ?? 0;
      return w === 0 ? c : c.length > w - 1 ? `${c.slice(0, w - 2)}… ` : c.padEnd(w);
    })
    .join("")
    .trimEnd();
}

function resultsStatus(it: IterationRecord, bestSoFar: number | null): "pass" | "keep" | "discard" | "crash" {
  if (it.status === "passed") return "pass";
  if (it.status === "crashed" || it.status === "model_error") return "crash";
  return it.distance !== null && (bestSoFar === null || it.distance < bestSoFar) ? "keep" : "discard";
}

/** results.tsv: one line per iteration, autoresearch style (keep = a new best that did not pass yet). */
export function resultsTsv(iterations: readonly IterationRecord[]): string {
  const lines = ["iteration\tname\tfamily\tsharpe\tmax_dd\tprofit_factor\ttrades\tdsr\tstatus\tdescription"];
  let best: number | null = null;
  for (const it of iterations) {
    const m = it.metrics ?? {};
    const status = resultsStatus(it, best);
    if (it.distance !== null && (best === null || it.distance < best)) best = it.distance;
    const clean = (s: string | null | undefined) => (s ?? "").replace(/[\t\n\r]+/g, " ").trim();
    lines.push(
      [
        it.n,
        clean(it.name),
        clean(it.family),
        f2(m["sharpe"]),
        f2(m["maxDrawdown"]),
        f2(m["profitFactor"]),
        m["tradeCount"] ?? "",
        f2(m["dsr"]),
        status,
        clean(it.hypothesis ?? it.reasons.join("; ")),
      ].join("\t"),
    );
  }
  return `${lines.join("\n")}\n`;
}

interface HoldoutView {
  ok: boolean;
  metrics?: Record<string, number>;
  error?: string;
  peeks: number;
}

export function summaryText(run: RunRecord, iterations: readonly IterationRecord[]): string {
  const out: string[] = [];
  out.push(
    `run ${run.id} ${run.status}${run.statusReason ? ` (${run.statusReason})` : ""}: ${run.iterationsDone} iterations, ${run.passes} passed every gate`,
  );
  const best = run.bestIteration ? iterations.find((i) => i.n === run.bestIteration) : undefined;
  if (best) {
    const m = best.metrics ?? {};
    out.push(
      `best: #${best.n} ${best.name ?? "?"} (${best.family ?? "?"}) sharpe ${f2(m["sharpe"])}, max DD ${f2(m["maxDrawdown"])}, PF ${f2(m["profitFactor"])}, trades ${m["tradeCount"] ?? "-"}, DSR ${f2(m["dsr"])}${best.status === "passed" ? " — PASSED" : ` — ${best.reasons.join("; ")}`}`,
    );
  }
  for (const it of iterations.filter((i) => i.status === "passed")) {
    const h = it.holdout as HoldoutView | null;
    if (!h) continue;
    out.push(
      h.ok
        ? `holdout #${it.n} ${it.name}: sharpe ${f2(h.metrics?.["sharpe"])}, return ${f2((h.metrics?.["totalReturn"] ?? 0) * 100)}%, max DD ${f2(h.metrics?.["maxDrawdown"])} (holdout peeks on this window: ${h.peeks})`
        : `holdout #${it.n} ${it.name}: failed: ${h.error} (holdout peeks on this window: ${h.peeks})`,
    );
  }
  out.push('"Passes the gates" is eligibility, not proof of alpha: check the holdout and the DSR.');
  return `${out.join("\n")}\n`;
}

function overrides(o: RunFlags): Record<string, unknown> {
  const loop: Record<string, unknown> = {};
  const budgets: Record<string, unknown> = {};
  if (o.seed !== undefined) loop["seed"] = Number(o.seed);
  if (o.islands !== undefined) loop["islands"] = Number(o.islands);
  if (o.driver !== undefined) loop["driver"] = o.driver;
  if (o.maxIterations !== undefined) budgets["max_iterations"] = Number(o.maxIterations);
  return {
    ...(Object.keys(loop).length ? { loop } : {}),
    ...(Object.keys(budgets).length ? { budgets } : {}),
  };
}

export function runConfigFor(o: RunFlags): RunConfig {
  const files = [...(o.preset ? [presetPath(o.preset)] : []), ...(o.config ?? [])];
  const base = loadRunConfigFiles(files);
  return parseRunConfig(mergeConfig(base, overrides(o)), "command-line flags");
}

export function register(program: Command, deps: RunCommandDeps = {}): void {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));

  program
    .command("run")
    .description("run a research loop in the terminal (type a line to nudge the next iteration)")
    .option("--brief <text>", "what to look for", "")
    .option("--config <file...>", "run config overrides, deep-merged over configs/default.yaml")
    .option("--preset <name>", "a preset from configs/presets (e.g. lenient)")
    .option("--driver <name>", "llm | heuristic | ga | random | auto")
    .option("--max-iterations <n>", "iteration budget")
    .option("--seed <n>", "seed for the driver and the look-ahead cuts")
    .option("--islands <n>", "sub-searches sharing the run's ledger (1..16; loop.islands)")
    .option("--resume <id>", "resume a paused or interrupted run")
    .option("--results <file>", "where to write results.tsv", "results.tsv")
    .action(async (o: RunFlags) => {
      // Flags and config files are checked before anything is opened or imported.
      const newConfig = o.resume ? undefined : runConfigFor(o);
      const db = await open();
      const runs = new PgRunRepository(db);
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts++;
        if (interrupts > 1) process.exit(130);
        write("\ninterrupted: finishing nothing half-way; the run is paused (resume with --resume)\n");
        controller.abort();
      };
      process.on("SIGINT", onSigint);
      let rl: ReturnType<typeof createInterface> | undefined;
      try {
        const seeded = await ensureBundledData(db);
        if (seeded) write(`imported the bundled market data (${seeded.files.length} files)\n`);
        let run: RunRecord;
        if (o.resume) {
          const found = await runs.getRun(o.resume);
          if (!found) throw new CliError(`no run ${o.resume}; see alphaloop runs list`, 2);
          if (["completed", "failed"].includes(found.status))
            throw new CliError(`run ${found.id} is ${found.status}`, 2);
          run = found;
        } else {
          const config = newConfig as RunConfig;
          const choice = await resolveDriverName(config.loop.driver);
          write(`driver: ${choice.name} (${choice.why})\n`);
          run = await createRun(runs, {
            brief: o.brief ?? "",
            config: {
              ...config,
              loop: { ...config.loop, driver: choice.name as RunConfig["loop"]["driver"] },
            },
            driver: choice.name,
            owner: userInfo().username,
            source: "cli",
          });
        }
        const driver = await makeDriver(run.driver, { db, runs });
        const s = windowMs(run.config.windows.search);
        write(
          `run ${run.id} · ${run.config.dataset.symbol} ${run.config.dataset.timeframe} · search ${new Date(s.start).toISOString().slice(0, 10)} → ${new Date(s.end).toISOString().slice(0, 10)} · holdout sealed · config ${run.configHash.slice(0, 12)}\n`,
        );
        const islands = islandSettings(run.config.loop).islands;
        if (islands > 1) {
          write(
            `${islands} islands (seeds ${run.config.loop.seed}…${run.config.loop.seed + islands - 1}), migrating each island's best every ${islandSettings(run.config.loop).migrateEvery} iterations\n`,
          );
        }
        write(`${formatRow(tableHeader(islands))}\n`);
        const input = deps.input === undefined ? process.stdin : deps.input;
        if (input) {
          rl = createInterface({ input, terminal: false });
          rl.on("line", (line) => {
            const text = line.trim();
            if (!text) return;
            void runs
              .addNudge({ runId: run.id, author: userInfo().username, source: "cli", text })
              .then(() => write(`📥 nudge stored; the next iteration will use it\n`));
          });
        }
        const loop = buildLoop(run, {
          db,
          driver,
          onIteration: (it) => write(`${formatRow(iterationRow(it, islands))}\n`),
        });
        let end = await loop.run(controller.signal);
        if (controller.signal.aborted && end.status === "running") {
          await runs.setStatus(end.id, "paused", "interrupted from the terminal", [], ["running"]);
          end = (await runs.getRun(end.id)) as RunRecord;
        }
        const iterations = await runs.iterations(end.id);
        write(`\n${summaryText(end, iterations)}`);
        writeFileSync(o.results ?? "results.tsv", resultsTsv(iterations));
        write(`results: ${o.results ?? "results.tsv"}\n`);
      } finally {
        rl?.close();
        process.off("SIGINT", onSigint);
        await db.close();
      }
    });

  const runsCmd = program.command("runs").description("list and inspect research runs");
  runsCmd
    .command("list")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const db = await open();
      try {
        const list = await new PgRunRepository(db).listRuns(50);
        if (o.json) return printJson({ runs: list.map(({ config: _c, ...r }) => r) });
        write(
          `${formatTable(
            ["run", "status", "driver", "iterations", "passes", "created", "brief"],
            list.map((r) => [
              r.id,
              r.status,
              r.driver,
              String(r.iterationsDone),
              String(r.passes),
              r.createdAt.toISOString().slice(0, 16).replace("T", " "),
              r.brief.slice(0, 50),
            ]),
          )}\n`,
        );
      } finally {
        await db.close();
      }
    });
  runsCmd
    .command("show")
    .argument("<id>", "run id")
    .option("--json", "print JSON")
    .action(async (id: string, o: { json?: boolean }) => {
      const db = await open();
      try {
        const repo = new PgRunRepository(db);
        const run = await repo.getRun(id);
        if (!run) throw new CliError(`no run ${id}; see alphaloop runs list`, 2);
        const iterations = await repo.iterations(id);
        const islands = islandSettings(run.config.loop).islands;
        if (o.json) {
          // The island is a function of n and the run's config; spelled out for readers of the JSON.
          const withIsland =
            islands > 1 ? iterations.map((it) => ({ ...it, island: islandOf(it.n, islands) })) : iterations;
          return printJson({ run, iterations: withIsland });
        }
        write(
          `${run.brief ? `brief: ${run.brief}\n` : ""}config ${run.configHash}\n${stringifyYaml({ gates: run.config.gates })}\n`,
        );
        write(`${formatRow(tableHeader(islands))}\n`);
        for (const it of iterations) {
          const row = iterationRow(
            {
              ...it,
              island: islandOf(it.n, islands),
              gates: (it.gates as CompletedIteration["gates"] | null) ?? [],
              nudges: [],
              holdout: null,
            },
            islands,
          );
          write(`${formatRow(row)}\n`);
        }
        write(`\n${summaryText(run, iterations)}`);
        for (const it of iterations.filter((i) => i.status === "passed")) {
          write(
            `\n--- #${it.n} ${it.name}: strategy ---\n${it.code ?? ""}\n--- #${it.n} ${it.name}: config ---\n${it.configYaml ?? ""}\n`,
          );
        }
      } finally {
        await db.close();
      }
    });
}
