/**
 * The thread post for one iteration (pure): title `#7 ema-atr · momentum · DISCARD` (with
 * `· island 2 ·` before the verdict in a run with islands), one field per gate (value, threshold,
 * ✓/✗), the DISCARD reasons, the migrants the island was shown, the decision and next hypothesis,
 * the nudges it applied, tokens and time; always within Discord's limits (fitEmbed).
 *
 * Islands are numbered from 0, as in `alphaloop run`'s `isl` column and in the hypotheses the
 * drivers write ("island 1's best (#5)"), so a reader can match a post to either.
 */
import { COLORS, formatCount, formatMs, gateValue, quoteUntrusted, STATUS_LABEL } from "./format.ts";
import { EMBED_LIMITS, type Embed, type EmbedField, embedLength, fitEmbed, truncate } from "./limits.ts";
import { NO_MENTIONS, type OutgoingMessage } from "./message.ts";
import type { GateLine, IterationPayload } from "./payloads.ts";
import { runControls } from "./run-controls.ts";

// The name and family come from the model: bounded, so the island and verdict stay in the title.
const TITLE_NAME = 100;
const TITLE_FAMILY = 60;

export function iterationTitle(p: IterationPayload): string {
  const status = truncate(STATUS_LABEL[p.status] ?? p.status.toUpperCase(), 40);
  const island = p.island === null ? "" : ` · island ${p.island}`;
  return `#${p.n} ${truncate(p.name ?? "unnamed", TITLE_NAME)} · ${truncate(p.family ?? "unknown", TITLE_FAMILY)}${island} · ${status}`;
}

const MIGRANT_NAME = 32;
// Up to 15 migrants with model-chosen names: bounded so they never crowd out the reasons.
const MIGRANTS = 300;

/** `island 0: #4 ema-cross · island 2: #6 rsi-revert`: what the other islands offered this one. */
export function migrantsLine(migrants: IterationPayload["migrants"]): string {
  const all = migrants.map(
    (m) => `island ${m.island}: #${m.n} ${truncate(quoteUntrusted(m.name ?? "unnamed"), MIGRANT_NAME)}`,
  );
  // Whole entries while they fit, then a count, rather than a name cut in half.
  const kept: string[] = [];
  let used = 0;
  for (const entry of all) {
    if (used + entry.length + 3 > MIGRANTS - 12) break;
    kept.push(entry);
    used += entry.length + 3;
  }
  if (kept.length < all.length) kept.push(`+${all.length - kept.length} more`);
  return kept.join(" · ");
}

const MAX_REASON = 400;

function description(p: IterationPayload, room: number): string {
  const parts: string[] = [];
  if (p.hypothesis) parts.push(`**Hypothesis** ${truncate(quoteUntrusted(p.hypothesis), 600)}`);
  room -= (parts[0]?.length ?? 0) + 120;
  if (p.reasons.length > 0 && p.status !== "passed") {
    const head = p.status === "discarded" ? "**Discarded because**" : "**What went wrong**";
    const lines = p.reasons.map((r) => `• ${truncate(quoteUntrusted(r), MAX_REASON)}`);
    // Keep whole lines while they fit; count what is left out instead of cutting mid-reason.
    const kept: string[] = [];
    let used = 0;
    for (const line of lines) {
      if (used + line.length + 1 > room) break;
      kept.push(line);
      used += line.length + 1;
    }
    if (kept.length < lines.length) kept.push(`…and ${lines.length - kept.length} more`);
    parts.push(`${head}\n${kept.join("\n")}`);
  }
  if (p.status === "passed")
    parts.push("Passed every gate: **eligible**, not proven alpha — the sealed holdout follows.");
  return parts.join("\n\n");
}

// Gate names are identifiers; a long one must not crowd out the reasons.
const GATE_NAME = 48;
const TEXT = 400;

function gateFields(gates: readonly GateLine[], slots: number): EmbedField[] {
  const own = (g: GateLine) => ({ name: truncate(g.gate, GATE_NAME), value: gateValue(g), inline: true });
  if (gates.length <= slots) return gates.map(own);
  // Too many gates for their own fields: failing ones first (they explain the verdict), the rest summed up.
  const ordered = [...gates.filter((g) => !g.pass), ...gates.filter((g) => g.pass)];
  const shown = ordered.slice(0, Math.max(0, slots - 1));
  const rest = ordered.slice(shown.length);
  return [
    ...shown.map(own),
    {
      name: `+${rest.length} gates`,
      value: rest.map((g) => `${truncate(g.gate, GATE_NAME)} ${gateValue(g)}`).join("\n"),
      inline: false,
    },
  ];
}

export function iterationEmbed(p: IterationPayload, runId: string): Embed {
  const tail: EmbedField[] = [];
  if (p.migrants.length > 0) tail.push({ name: "Migrants in", value: migrantsLine(p.migrants) });
  if (p.decision) {
    const rationale = p.decision.rationale
      ? ` — ${truncate(quoteUntrusted(p.decision.rationale), TEXT)}`
      : "";
    tail.push({ name: "Decision", value: `**${p.decision.decision}**${rationale}` });
    if (p.decision.nextHypothesis)
      tail.push({
        name: "Next hypothesis",
        value: truncate(quoteUntrusted(p.decision.nextHypothesis), TEXT),
      });
  }
  if (p.forced) tail.push({ name: "Forced by loop policy", value: truncate(quoteUntrusted(p.forced), TEXT) });
  if (p.nudges.length > 0) {
    tail.push({
      name: p.nudges.length === 1 ? "Nudge applied" : `Nudges applied (${p.nudges.length})`,
      value: p.nudges
        .map(
          (x) => `> ${truncate(quoteUntrusted(x.text).replace(/\n/g, " "), 200)} — ${truncate(x.author, 40)}`,
        )
        .join("\n"),
    });
  }
  if (p.tokens) {
    const t = p.tokens;
    tail.push({
      name: "Tokens",
      value: `${formatCount(t.promptTokens)} in (${formatCount(t.cachedTokens)} cached) · ${formatCount(t.completionTokens)} out · ${t.calls} calls`,
      inline: true,
    });
  }
  if (p.timings) {
    const total = Object.values(p.timings).reduce((a, b) => a + b, 0);
    const stages = ["proposeMs", "backtestMs", "decideMs"]
      .filter((k) => p.timings?.[k] !== undefined)
      .map((k) => `${k.replace(/Ms$/, "")} ${formatMs(p.timings?.[k] ?? 0)}`);
    tail.push({
      name: "Time",
      value: `${formatMs(total)}${stages.length ? ` (${stages.join(", ")})` : ""}`,
      inline: true,
    });
  }
  const color =
    p.status === "passed" ? COLORS.pass : p.status === "discarded" ? COLORS.discard : COLORS.crash;
  const body = fitEmbed({
    title: iterationTitle(p),
    color,
    fields: [...gateFields(p.gates, EMBED_LIMITS.fields - tail.length), ...tail],
    footer: { text: truncate(`run ${runId}`, 120) },
  });
  // The reasons get whatever the fields leave of the 6000 total.
  const room = Math.min(EMBED_LIMITS.description, EMBED_LIMITS.total - embedLength(body));
  const desc = description(p, room);
  return fitEmbed({ ...body, ...(desc ? { description: desc } : {}) });
}

export function chartFileName(n: number): string {
  return `equity-${n}.png`;
}

/**
 * The whole iteration post. `chart` is the rendered PNG, or undefined when there is no curve or
 * the chart server failed — the post goes out either way.
 */
export function iterationMessage(
  p: IterationPayload,
  runId: string,
  state: "running" | "paused" | "finished",
  chart?: Uint8Array,
): OutgoingMessage {
  const embed = iterationEmbed(p, runId);
  const msg: OutgoingMessage = {
    embeds: [embed],
    components: runControls(runId, state),
    allowed_mentions: NO_MENTIONS,
  };
  if (chart) {
    const name = chartFileName(p.n);
    embed.image = { url: `attachment://${name}` };
    msg.files = [{ name, data: chart, contentType: "image/png" }];
  }
  return msg;
}
