/**
 * `alphaloop backtest FILE.ts`: one backtest of a strategy by hand, on stored bars, with the
 * look-ahead check. By default it runs on the default run config's search window — the holdout
 * stays sealed unless you ask for its dates yourself.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { defaultSandbox } from "../backtest/sandbox/index.ts";
import type { Trade } from "../backtest/simulate.ts";
import { utcMs, windowMs } from "../domain/run-config.ts";
import { timeframeMs } from "../domain/timeframe.ts";
import { loadRunConfigFiles } from "../loop/config-files.ts";
import { backtestOnce, type SingleBacktest } from "../loop/evaluate.ts";
import { formatBarTime } from "../loop/gates.ts";
import { ensureBundledData } from "../market/bundled.ts";
import { loadBars } from "../market/load.ts";
import { type Db, openDb } from "../store/db.ts";
import { CliError } from "./cli-error.ts";
import { formatTable, printJson } from "./output.ts";

export interface BacktestCommandDeps {
  openDb?: () => Promise<Db>;
  write?: (text: string) => void;
}

interface BacktestFlags {
  config?: string;
  runConfig?: string;
  symbol?: string;
  timeframe?: string;
  from?: string;
  to?: string;
  json?: boolean;
}

function parseDate(flag: string, value: string): number {
  // A month (2024-03) means its first day.
  const ms = utcMs(/^\d{4}-\d{2}$/.test(value) ? `${value}-01` : value);
  if (Number.isNaN(ms)) throw new CliError(`${flag}: "${value}" is not a date (use 2023-01-01)`, 2);
  return ms;
}

function tradesByReason(trades: readonly Trade[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of trades) out[t.reason] = (out[t.reason] ?? 0) + 1;
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const num = (x: number) => x.toFixed(2);

function renderText(r: Extract<SingleBacktest, { ok: true }>, symbol: string): string {
  const m = r.metrics;
  const lines = [
    `${r.strategy.name} · ${r.strategy.family} · ${symbol} ${r.config.timeframe} · ${formatBarTime(r.from)} → ${formatBarTime(r.to)}`,
    "",
    formatTable(
      ["metric", "value"],
      [
        ["total return", pct(m.totalReturn)],
        ["CAGR", pct(m.cagr)],
        ["Sharpe", num(m.sharpe)],
        ["Sortino", num(m.sortino)],
        ["Calmar", num(m.calmar)],
        ["max drawdown", pct(m.maxDrawdown)],
        ["profit factor", num(m.profitFactor)],
        ["trades", String(m.tradeCount)],
        ["win rate", pct(m.winRate)],
        ["avg trade", pct(m.avgTrade)],
        ["exposure", pct(m.exposure)],
        ["turnover / yr", num(m.turnover)],
      ],
    ),
    "",
    formatTable(
      ["exit reason", "trades"],
      Object.entries(tradesByReason(r.trades)).map(([k, v]) => [k, String(v)]),
    ),
    "",
  ];
  const la = r.lookahead;
  if (la) {
    lines.push(
      la.ok
        ? `look-ahead: none found (${la.cutsChecked} cuts); warm-up ${la.warmupBars} bars`
        : `look-ahead: FOUND at ${formatBarTime(la.firstBadBar?.time ?? 0)} (bar ${la.firstBadBar?.index}, ${la.firstBadBar?.signal}) — signals before a cut changed when later bars were added`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, deps: BacktestCommandDeps = {}): void {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  program
    .command("backtest")
    .description("backtest one strategy on stored bars and check it for look-ahead")
    .argument("<strategy>", "strategy module, e.g. strategies/ema-cross.ts")
    .option("--config <file>", "strategy config YAML (default: the .yaml beside the module)")
    .option("--run-config <file>", "run config overrides for costs and the default window")
    .option("--symbol <symbol>", "symbol (default: the run config's dataset)")
    .option("--timeframe <tf>", "override the strategy config's timeframe")
    .option("--from <date>", "first bar (default: the run config's search window start)")
    .option("--to <date>", "end, exclusive (default: the run config's search window end)")
    .option("--json", "print one JSON object")
    .action(async (file: string, o: BacktestFlags) => {
      if (!existsSync(file)) throw new CliError(`${file}: no such strategy file`, 2);
      const configPath = o.config ?? file.replace(/\.ts$/, ".yaml");
      if (!existsSync(configPath)) throw new CliError(`${configPath}: no strategy config (pass --config)`, 2);
      let configYaml = readFileSync(configPath, "utf8");
      if (o.timeframe) {
        const doc = parseYaml(configYaml) as Record<string, unknown>;
        configYaml = stringifyYaml({ ...doc, timeframe: o.timeframe });
      }
      const run = loadRunConfigFiles(o.runConfig ? [o.runConfig] : []);
      const search = windowMs(run.windows.search);
      const from = o.from ? parseDate("--from", o.from) : search.start;
      const to = o.to ? parseDate("--to", o.to) : search.end;
      if (to <= from) throw new CliError("--to must be after --from", 2);
      const symbol = (o.symbol ?? run.dataset.symbol).toUpperCase();
      const tf = String(
        (parseYaml(configYaml) as { timeframe?: unknown } | null)?.timeframe ?? run.dataset.timeframe,
      );
      const warmupMs =
        run.walk_forward.warmup_bars *
        (/^\d+[mhdw]$/.test(tf) ? timeframeMs(tf) : timeframeMs(run.dataset.timeframe));

      const db = await open();
      let result: SingleBacktest;
      try {
        await ensureBundledData(db);
        const { bars } = await loadBars(db, {
          symbol,
          timeframe: run.dataset.timeframe,
          from: from - warmupMs,
          to,
        });
        result = await backtestOnce(
          { code: readFileSync(file, "utf8"), configYaml },
          {
            bars,
            baseTimeframe: run.dataset.timeframe,
            startTime: from,
            feeBps: run.costs.fee_bps,
            slippageBps: run.costs.slippage_bps,
            sandbox: defaultSandbox(),
            lookaheadCuts: 3,
            seed: run.loop.seed,
          },
        );
      } finally {
        await db.close();
      }
      if (!result.ok) {
        const e = result.error;
        if (o.json)
          printJson({ error: { kind: e.kind, message: e.message, ...(e.line ? { line: e.line } : {}) } });
        const where = e.line ? `${file}:${e.line}${e.column ? `:${e.column}` : ""}: ` : "";
        throw new CliError(o.json ? "" : `${where}${e.kind}: ${e.message}`, 1);
      }
      if (o.json) {
        const la = result.lookahead;
        printJson({
          strategy: result.strategy,
          config: result.config,
          symbol,
          window: { from: new Date(result.from).toISOString(), to: new Date(result.to).toISOString() },
          metrics: result.metrics,
          trades_by_reason: tradesByReason(result.trades),
          trades: result.trades,
          lookahead: la
            ? {
                ok: la.ok,
                ...(la.firstBadBar
                  ? {
                      first_bad_bar: {
                        index: la.firstBadBar.index,
                        time: new Date(la.firstBadBar.time).toISOString(),
                        signal: la.firstBadBar.signal,
                      },
                    }
                  : {}),
                warmup_bars: la.warmupBars,
              }
            : null,
        });
        return;
      }
      write(renderText(result, symbol));
    });
}
