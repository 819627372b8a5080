/**
 * The `llm` driver: one agent session per iteration. The model reads the library and notes, writes
 * a strategy and config into the run's workspace, backtests it (each backtest is a trial in the
 * ledger, search window only) and calls `decide`. The iteration's candidate is the last thing it
 * backtested. The prompt is built from the run's search-side state: it has no holdout field at all.
 */
import type { Decision, IterationSummary } from "../../domain/run.ts";
import { type ChatCompleter, runAgentSession } from "../../llm/agent.ts";
import type { BacktestOutput } from "../../llm/agent-tools.ts";
import type { LlmClient } from "../../llm/client.ts";
import { briefVariant, buildPrompt, formatMigrants, promptRunStateOf } from "../../llm/prompt.ts";
import type { StructuredMode } from "../../llm/structured.ts";
import { loadLibrary, loadNotes, Workspace } from "../../llm/workspace.ts";
import type { WorkspaceFileStore } from "../../store/workspace-files.ts";
import { coverageOf, coverageTimeframes, formatCoverage, libraryFamilies } from "../coverage.ts";
import type { CandidateOutcome, Driver, DriverContext, Proposal, ProposedCandidate } from "../driver.ts";
import { runSeedOf } from "../islands.ts";

const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));

/** What the model sees after `run_backtest`: numbers, each gate ✓/✗, and why it was discarded. */
export function outcomeSummary(o: CandidateOutcome): string {
  if (o.status === "crashed") {
    const e = o.error;
    return `CRASHED${e?.line ? ` at line ${e.line}` : ""}: ${e?.kind ?? "error"}: ${e?.message ?? o.reasons.join("; ")}\nFix the error and run_backtest again, or decide.`;
  }
  const m = o.metrics ?? {};
  const lines = [
    `${o.status === "passed" ? "PASS: every gate cleared on the search window." : "DISCARD"}`,
    `sharpe ${f2(m["sharpe"])} · max_drawdown ${f2(m["maxDrawdown"])} · profit_factor ${f2(m["profitFactor"])} · trades ${m["tradeCount"] ?? "-"} · dsr ${f2(m["dsr"])} · folds_positive ${m["foldsPositive"] ?? "-"} · total_return ${f2(m["totalReturn"])} · exposure ${f2(m["exposure"])}`,
    `gates: ${o.gates.map((g) => `${g.gate} ${f2(g.value)} ${g.op} ${f2(g.threshold)} ${g.pass ? "✓" : "✗"}`).join(", ")}`,
  ];
  if (o.reasons.length > 0) lines.push(`DISCARD reasons: ${o.reasons.join("; ")}`);
  return lines.join("\n");
}

/** One line per past iteration, oldest first: the model's memory of the run. */
export function historyTable(history: readonly IterationSummary[]): string {
  if (history.length === 0) return "";
  return [
    "#  | strategy | family | status | sharpe | maxDD | PF | trades | dsr | decision | reasons",
    ...history.map((h) => {
      const m = h.metrics ?? {};
      return `${h.n} | ${h.name ?? "-"} | ${h.family ?? "-"} | ${h.status} | ${f2(m["sharpe"])} | ${f2(m["maxDrawdown"])} | ${f2(m["profitFactor"])} | ${m["tradeCount"] ?? "-"} | ${f2(m["dsr"])} | ${h.decision ?? "-"} | ${h.reasons.join("; ").slice(0, 160)}`;
    }),
  ].join("\n");
}

export interface LlmDriverOptions {
  readonly client: ChatCompleter & Pick<LlmClient, "listModels">;
  readonly files: WorkspaceFileStore;
  /** Every nudge given to the run so far, for `read_notes` (the iteration's own are in the prompt). */
  readonly allNudges: (runId: string) => Promise<string[]>;
  readonly structured?: StructuredMode;
  readonly maxRepairs?: number;
  readonly maxToolCalls?: number;
}

export function llmDriver(o: LlmDriverOptions): Driver {
  const library = loadLibrary();
  const notes = loadNotes();
  const families = libraryFamilies(
    [...library].filter(([path]) => path.endsWith(".ts")).map(([, src]) => src),
  );
  return {
    name: "llm",
    async available(signal) {
      try {
        await o.client.listModels({ signal });
        return true;
      } catch {
        return false;
      }
    },
    async propose(ctx: DriverContext): Promise<Proposal> {
      const config = ctx.config;
      const island = ctx.island ?? 0;
      const islands = ctx.islands ?? 1;
      const prompt = buildPrompt({
        state: promptRunStateOf(config, {
          runId: ctx.runId,
          iteration: ctx.iteration,
          // The run's seeded angle on the brief: parallel runs with one brief start in different
          // places, and so do the islands of one run (angles offset by island from the run's).
          brief: briefVariant(ctx.brief, runSeedOf(ctx.seed, island), island),
          ...(ctx.history.at(-1)?.nextHypothesis
            ? { nextHypothesis: ctx.history.at(-1)?.nextHypothesis as string }
            : {}),
        }),
        history: historyTable(ctx.history),
        coverage: formatCoverage(coverageOf(ctx.history, { baseTimeframe: config.dataset.timeframe }), {
          families,
          timeframes: coverageTimeframes(config.dataset.timeframe),
        }),
        nudges: ctx.nudges.map((n) => `${n.author}: ${n.text}`),
        ...(islands > 1
          ? {
              island: {
                index: island,
                of: islands,
                migrants: formatMigrants(
                  (ctx.migrants ?? []).map((m) => ({ island: m.island, ...m.iteration })),
                ),
              },
            }
          : {}),
        // The island's seed (not seed + iteration): the system prompt's jitter holds for the whole
        // run on one island, so the server's prefix cache does too, and differs between islands.
        seed: ctx.seed,
      });
      const workspace = new Workspace({ runId: ctx.runId, store: o.files, library, notes });
      const runBacktest = async (
        code: string,
        configYaml: string,
        paths: { strategyPath: string; configPath: string },
      ): Promise<BacktestOutput<CandidateOutcome>> => {
        const outcome = await ctx.evaluate({ code, configYaml, name: paths.strategyPath });
        return { summary: outcomeSummary(outcome), result: outcome };
      };
      const session = await runAgentSession<CandidateOutcome>({
        client: o.client,
        prompt,
        workspace,
        runBacktest,
        history: async (limit) => historyTable(ctx.history.slice(-limit)),
        nudges: () => o.allNudges(ctx.runId),
        maxSessionTokens: config.budgets.max_tokens_per_iteration,
        temperature: config.loop.temperature,
        seed: ctx.seed + ctx.iteration,
        signal: ctx.signal,
        ...(o.structured ? { structured: o.structured } : {}),
        ...(o.maxRepairs ? { maxRepairs: o.maxRepairs } : {}),
        ...(o.maxToolCalls ? { maxToolCalls: o.maxToolCalls } : {}),
      });
      const usage = {
        promptTokens: session.usage.promptTokens,
        completionTokens: session.usage.completionTokens,
        cachedTokens: session.usage.cachedTokens,
        calls: session.usage.calls,
      };
      const trialIds = session.backtests.map((b) => b.result.trialId);
      const last = session.lastBacktest;
      const decision: Decision | undefined = session.decision
        ? {
            decision: session.decision.decision,
            rationale: session.decision.rationale,
            nextHypothesis: session.decision.next_hypothesis,
          }
        : undefined;
      if (!last) {
        return {
          usage,
          trialIds,
          backtests: 0,
          modelError: {
            message:
              session.outcome === "decided"
                ? "the model decided without backtesting anything"
                : `${session.outcome}: ${session.problems.slice(-3).join("; ") || "no backtest"}`,
            raw: session.rawOutputs.join("\n\n---\n\n"),
          },
          ...(decision ? { decision } : {}),
        };
      }
      const candidate: ProposedCandidate = {
        code: last.code,
        configYaml: last.configYaml,
        name: last.result.strategyName ?? last.strategyPath,
        ...(last.result.family ? { family: last.result.family } : {}),
        ...(decision?.rationale ? { hypothesis: decision.rationale } : {}),
      };
      return {
        candidate,
        outcome: last.result,
        usage,
        trialIds,
        backtests: session.backtests.length,
        ...(decision ? { decision } : {}),
        ...(session.outcome === "model_error"
          ? {
              modelError: {
                message: session.problems.slice(-1)[0] ?? "model_error",
                raw: session.rawOutputs.join("\n\n---\n\n"),
              },
            }
          : {}),
      };
    },
    async decide(_ctx, _candidate, outcome): Promise<Decision> {
      // Reached only when the session ended without a decide call: fall back on the gate result.
      return outcome.status === "crashed"
        ? { decision: "fix", rationale: "the last backtest crashed", nextHypothesis: "fix the error" }
        : {
            decision: "tune",
            rationale: "no decision from the model",
            nextHypothesis: "tune the last candidate",
          };
    },
  };
}
