/**
 * What the /research reading commands answer (pure): a run's status, a guild's runs, a
 * leaderboard of iterations and a run's frozen config. Every embed goes through fitEmbed.
 */
import { islandSettings } from "../../loop/islands.ts";
import type { RunRecord } from "../../loop/run-repository.ts";
import type { LeaderboardRow } from "../bot-store.ts";
import { COLORS, formatMetric, formatNumber, isSnowflake, quoteUntrusted, STATUS_LABEL } from "./format.ts";
import { type Embed, fitEmbed, truncate } from "./limits.ts";
import { runCardEmbed } from "./run-card.ts";

const islandsOf = (run: RunRecord) => islandSettings(run.config.loop).islands;

const who = (owner: string | null) => (owner ? (isSnowflake(owner) ? `<@${owner}>` : owner) : "—");

export function runStatusEmbed(run: RunRecord): Embed {
  const c = run.config;
  return fitEmbed({
    title: truncate(`Run ${run.id} · ${run.status}`, 256),
    description: quoteUntrusted(run.brief || "(no brief)"),
    color: run.status === "failed" ? COLORS.crash : run.passes > 0 ? COLORS.pass : COLORS.info,
    fields: [
      {
        name: "Iterations",
        value: `${run.iterationsDone} / ${c.budgets.max_iterations}`,
        inline: true,
      },
      { name: "Passed every gate", value: String(run.passes), inline: true },
      {
        name: "Best",
        value:
          run.bestIteration !== null
            ? `#${run.bestIteration} (distance ${formatNumber(run.bestDistance ?? Number.NaN, 3)})`
            : "—",
        inline: true,
      },
      { name: "Driver", value: run.driver, inline: true },
      ...(islandsOf(run) > 1 ? [{ name: "Islands", value: String(islandsOf(run)), inline: true }] : []),
      { name: "Data", value: `${c.dataset.symbol} ${c.dataset.timeframe}`, inline: true },
      { name: "Owner", value: who(run.owner), inline: true },
      ...(run.statusReason ? [{ name: "Reason", value: quoteUntrusted(run.statusReason) }] : []),
      ...(run.threadId ? [{ name: "Thread", value: `<#${run.threadId}>`, inline: true }] : []),
      ...(run.stuck ? [{ name: "Stuck", value: "no progress lately: a nudge in the thread helps" }] : []),
    ],
    footer: {
      text: `config ${run.configHash.slice(0, 12)} · created ${run.createdAt.toISOString().slice(0, 16)}Z`,
    },
  });
}

export function runListEmbed(runs: readonly RunRecord[]): Embed {
  const lines = runs.map(
    (r) =>
      `\`${r.id}\` **${r.status}** · ${r.iterationsDone}/${r.config.budgets.max_iterations} · ${r.passes} passed · ${r.driver}${islandsOf(r) > 1 ? ` · ${islandsOf(r)} islands` : ""} · ${quoteUntrusted(truncate(r.brief.replace(/\s+/g, " ") || "(no brief)", 60))}`,
  );
  return fitEmbed({
    title: "Research runs",
    description: lines.length ? lines.join("\n") : "No runs in this server yet: `/research start brief:…`",
    color: COLORS.info,
  });
}

export function leaderboardEmbed(rows: readonly LeaderboardRow[], scope: string): Embed {
  const m = (r: LeaderboardRow, k: string, name = k) =>
    r.metrics?.[k] === undefined ? "—" : formatMetric(name, r.metrics[k] as number);
  const lines = rows.map(
    (r, i) =>
      `${i + 1}. \`${r.runId}\` #${r.n} ${r.name ?? "?"} (${r.family ?? "?"}) **${STATUS_LABEL[r.status] ?? r.status}** · sharpe ${m(r, "sharpe")} · DD ${m(r, "maxDrawdown", "drawdown")} · PF ${m(r, "profitFactor")} · trades ${r.metrics?.["tradeCount"] ?? "—"} · DSR ${m(r, "dsr")}`,
  );
  return fitEmbed({
    title: truncate(`Leaderboard · ${scope}`, 256),
    description: lines.length ? lines.join("\n") : "No evaluated iterations yet.",
    color: COLORS.info,
    footer: { text: "Search-window metrics; passing the gates means eligible, not proven alpha." },
  });
}

/** The frozen config: windows, costs, gates, budgets and the full hash. */
export function runConfigEmbed(run: RunRecord): Embed {
  const card = runCardEmbed(run);
  const c = run.config;
  return fitEmbed({
    ...card,
    title: truncate(`Config of run ${run.id}`, 256),
    fields: [
      ...(card.fields ?? []).filter((f) => f.name !== "Config" && f.name !== "Owner"),
      {
        name: "Walk-forward",
        value: `${c.walk_forward.folds} ${c.walk_forward.scheme} folds · warm-up ${c.walk_forward.warmup_bars} bars`,
        inline: true,
      },
      { name: "Config hash", value: `\`${run.configHash}\`` },
    ],
  });
}
