/**
 * The first post in a run's thread (pure): brief, driver, the search window, the holdout as sealed
 * dates only, the gates, the config hash, the owner, and the islands when there is more than one.
 */
import { islandSettings } from "../../loop/islands.ts";
import type { RunRecord } from "../../loop/run-repository.ts";
import { COLORS, dateOnly, formatMetric, isSnowflake, quoteUntrusted } from "./format.ts";
import { type Embed, type EmbedField, fitEmbed, truncate } from "./limits.ts";
import { NO_MENTIONS, type OutgoingMessage } from "./message.ts";
import { runControls } from "./run-controls.ts";

export type RunCardInput = Pick<
  RunRecord,
  "id" | "brief" | "driver" | "config" | "configHash" | "owner" | "status"
>;

function gateLines(c: RunCardInput["config"]): string {
  const g = c.gates;
  const lines = [
    `sharpe ≥ ${g.sharpe_min}`,
    `max drawdown ≤ ${formatMetric("drawdown", g.max_drawdown_max)}`,
    `profit factor ≥ ${g.profit_factor_min}`,
    `trades ≥ ${g.trades_min}`,
    `deflated sharpe ≥ ${g.dsr_min}`,
    `positive folds ≥ ${g.folds_positive_min}/${c.walk_forward.folds}`,
  ];
  for (const [name, b] of Object.entries(g.metrics ?? {})) {
    if (b.min !== undefined) lines.push(`${name} ≥ ${b.min}`);
    if (b.max !== undefined) lines.push(`${name} ≤ ${b.max}`);
  }
  return lines.join("\n");
}

/** Only for a run with islands: a plain run's card stays as it was. */
function islandsField(c: RunCardInput["config"]): EmbedField[] {
  const s = islandSettings(c.loop);
  if (s.islands <= 1) return [];
  const seeds = `seeds ${c.loop.seed}…${c.loop.seed + s.islands - 1}`;
  return [
    {
      name: "Islands",
      value: `${s.islands} (${seeds}) · best of each shown to the others every ${s.migrateEvery === 1 ? "iteration" : `${s.migrateEvery} iterations`}`,
    },
  ];
}

export function runCardEmbed(run: RunCardInput): Embed {
  const c = run.config;
  const owner = run.owner ? (isSnowflake(run.owner) ? `<@${run.owner}>` : run.owner) : "—";
  return fitEmbed({
    title: truncate(`Research run ${run.id}`, 256),
    description: quoteUntrusted(run.brief),
    color: COLORS.info,
    fields: [
      { name: "Driver", value: run.driver, inline: true },
      { name: "Data", value: `${c.dataset.symbol} ${c.dataset.timeframe}`, inline: true },
      { name: "Owner", value: owner, inline: true },
      {
        name: "Search window",
        value: `${dateOnly(c.windows.search.start)} → ${dateOnly(c.windows.search.end)} · ${c.walk_forward.folds} ${c.walk_forward.scheme} folds`,
      },
      // Dates only: the holdout's bars and results stay out of the search, and out of this card.
      {
        name: "Holdout (sealed)",
        value: `${dateOnly(c.windows.holdout.start)} → ${dateOnly(c.windows.holdout.end)}`,
      },
      { name: "Gates", value: gateLines(c) },
      {
        name: "Costs",
        value: `fee ${c.costs.fee_bps} bps · slippage ${c.costs.slippage_bps} bps`,
        inline: true,
      },
      {
        name: "Budget",
        value: `${c.budgets.max_iterations} iterations · ${c.budgets.max_wall_clock}`,
        inline: true,
      },
      { name: "Config", value: `\`${run.configHash.slice(0, 12)}\``, inline: true },
      ...islandsField(c),
    ],
    footer: { text: "Passing the gates means eligible, not proven alpha." },
  });
}

export function runCardMessage(run: RunCardInput): OutgoingMessage {
  const state =
    run.status === "paused"
      ? "paused"
      : ["completed", "stopped", "failed"].includes(run.status)
        ? "finished"
        : "running";
  return {
    embeds: [runCardEmbed(run)],
    components: runControls(run.id, state),
    allowed_mentions: NO_MENTIONS,
  };
}
