/**
 * Notification posts (pure): the gate-pass mention (content mentions the owner, allowedMentions
 * lets exactly that user ping, so the phone rings), the owner's DM with code and YAML attached,
 * the stuck ping, the holdout result, and the short status posts. `mode` is the guild's setting
 * for the event (see notify-settings.ts): `on` pings, `silent` posts without a ping, `off` posts
 * nothing (the renderer returns undefined).
 */
import type { NotifyMode } from "../notify-settings.ts";
import {
  COLORS,
  dateOnly,
  formatMetric,
  formatNumber,
  gateValue,
  isSnowflake,
  quoteUntrusted,
} from "./format.ts";
import { type Embed, fitContent, fitEmbed, truncate } from "./limits.ts";
import {
  type AllowedMentions,
  NO_MENTIONS,
  type OutgoingMessage,
  SUPPRESS_NOTIFICATIONS,
} from "./message.ts";
import type { GatePassedPayload, HoldoutPayload } from "./payloads.ts";

export interface RunRef {
  readonly id: string;
  readonly owner: string | null;
  readonly guildId: string | null;
  readonly threadId: string | null;
}

function mention(
  owner: string | null,
  mode: NotifyMode,
): { who: string; allowed: AllowedMentions; flags?: number } {
  if (!isSnowflake(owner)) return { who: owner ? `${owner}:` : "", allowed: NO_MENTIONS };
  if (mode === "on") return { who: `<@${owner}>`, allowed: { parse: [], users: [owner] } };
  return { who: `<@${owner}>`, allowed: NO_MENTIONS, flags: SUPPRESS_NOTIFICATIONS };
}

function withFlags(m: OutgoingMessage, flags: number | undefined): OutgoingMessage {
  return flags === undefined ? m : { ...m, flags };
}

const HEADLINE = ["sharpe", "maxDrawdown", "profitFactor", "tradeCount", "dsr", "totalReturn"] as const;

function metricLine(metrics: Readonly<Record<string, number>>): string {
  return HEADLINE.filter((k) => metrics[k] !== undefined)
    .map((k) => `${k} ${k === "tradeCount" ? String(metrics[k]) : formatMetric(k, metrics[k] as number)}`)
    .join(" · ");
}

function label(p: {
  n: number;
  name: string | null;
  family?: string | null;
  island?: number | null;
}): string {
  // 0-based, as in the iteration post's title and the terminal's isl column.
  const island = p.island === null || p.island === undefined ? "" : ` · island ${p.island}`;
  return `#${p.n} ${p.name ?? "unnamed"}${p.family ? ` · ${p.family}` : ""}${island}`;
}

export function threadUrl(run: RunRef): string | undefined {
  return run.guildId && run.threadId
    ? `https://discord.com/channels/${run.guildId}/${run.threadId}`
    : undefined;
}

export function gatePassMention(
  run: RunRef,
  p: GatePassedPayload,
  mode: NotifyMode,
): OutgoingMessage | undefined {
  if (mode === "off") return undefined;
  const m = mention(run.owner, mode);
  const content = fitContent(
    `${m.who} ${label(p)} passed every gate. ${metricLine(p.metrics)}\nEligible, not proven alpha: the sealed holdout result follows.`.trim(),
  );
  return withFlags({ content, allowed_mentions: m.allowed }, m.flags);
}

function safeFileStem(name: string | null, n: number): string {
  const stem = (name ?? "candidate")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);
  return `${stem || "candidate"}-${n}`;
}

const encoder = new TextEncoder();

/** The owner's DM: summary, every gate, a link to the thread, the code and YAML as files. */
export function gatePassDm(run: RunRef, p: GatePassedPayload): OutgoingMessage {
  const url = threadUrl(run);
  const embed: Embed = fitEmbed({
    title: `${label(p)} passed every gate`,
    description: [
      `Run \`${run.id}\`${url ? ` — ${url}` : ""}`,
      metricLine(p.metrics),
      "Eligible, not proven alpha: the sealed holdout result follows in the thread.",
    ]
      .filter(Boolean)
      .join("\n"),
    color: COLORS.pass,
    fields: p.gates.map((g) => ({ name: g.gate, value: gateValue(g), inline: true })),
  });
  const stem = safeFileStem(p.name, p.n);
  const files = [];
  if (p.code) files.push({ name: `${stem}.ts`, data: encoder.encode(p.code), contentType: "text/plain" });
  if (p.configYaml)
    files.push({ name: `${stem}.yaml`, data: encoder.encode(p.configYaml), contentType: "text/plain" });
  return {
    content: fitContent(`${label(p)} from run ${run.id} cleared the gates.`),
    embeds: [embed],
    allowed_mentions: NO_MENTIONS,
    ...(files.length ? { files } : {}),
  };
}

export function holdoutMessage(run: RunRef, p: HoldoutPayload, mode: NotifyMode): OutgoingMessage {
  const window =
    p.from !== null && p.to !== null ? `${dateOnly(p.from)} → ${dateOnly(p.to)}` : "sealed window";
  const embed: Embed = fitEmbed({
    title: `Holdout for ${label(p)}: ${p.ok ? metricLine(p.metrics) || "evaluated" : "failed to evaluate"}`,
    description: [
      `Evaluated once on the ${window}; holdout peeks on this dataset so far: ${p.peeks}.`,
      p.ok ? "" : `Error: ${quoteUntrusted(p.error ?? "unknown")}`,
    ]
      .filter(Boolean)
      .join("\n"),
    color: p.ok && (p.metrics["sharpe"] ?? 0) > 0 ? COLORS.pass : COLORS.warn,
    fields: p.ok
      ? Object.entries(p.metrics)
          .filter(([k]) => (HEADLINE as readonly string[]).includes(k))
          .map(([k, v]) => ({
            name: k,
            value: k === "tradeCount" ? String(v) : formatMetric(k, v),
            inline: true,
          }))
      : [],
  });
  // The holdout is news to the owner only when the setting is `on`; otherwise it is a plain post.
  const m = mode === "on" ? mention(run.owner, "on") : { who: "", allowed: NO_MENTIONS };
  return { ...(m.who ? { content: m.who } : {}), embeds: [embed], allowed_mentions: m.allowed };
}

export function stuckPing(
  run: RunRef,
  p: { n: number; reason: string },
  mode: NotifyMode,
): OutgoingMessage | undefined {
  if (mode === "off") return undefined;
  const m = mention(run.owner, mode);
  const content = fitContent(
    `${m.who} the run looks stuck after #${p.n}: ${quoteUntrusted(p.reason)}. Reply in this thread or press Nudge to steer the next iteration.`.trim(),
  );
  return withFlags({ content, allowed_mentions: m.allowed }, m.flags);
}

export function nudgeAppliedMessage(p: { n: number; author: string; text: string }): OutgoingMessage {
  const who = isSnowflake(p.author) ? `<@${p.author}>` : p.author;
  return {
    content: fitContent(
      `Nudge from ${who} applied in #${p.n}: > ${truncate(quoteUntrusted(p.text).replace(/\n/g, " "), 1500)}`,
    ),
    allowed_mentions: NO_MENTIONS,
  };
}

export function statusMessage(
  type: "run.paused" | "run.resumed" | "run.finished",
  p: Readonly<Record<string, unknown>>,
): OutgoingMessage {
  const reason = typeof p["reason"] === "string" ? quoteUntrusted(p["reason"]) : "";
  if (type === "run.paused")
    return {
      content: fitContent(`⏸ Run paused${reason ? `: ${reason}` : ""}.`),
      allowed_mentions: NO_MENTIONS,
    };
  if (type === "run.resumed") return { content: "▶ Run resumed.", allowed_mentions: NO_MENTIONS };
  const num = (k: string) => (typeof p[k] === "number" ? (p[k] as number) : undefined);
  const status = typeof p["status"] === "string" ? p["status"] : "finished";
  const best = num("bestIteration");
  const parts = [
    `■ Run ${status}${reason ? `: ${reason}` : ""}.`,
    `${num("iterations") ?? 0} iterations, ${num("passes") ?? 0} passed the gates.`,
    best !== undefined
      ? `Closest to the gates: #${best} (distance ${formatNumber(num("bestDistance") ?? Number.NaN)}).`
      : "",
  ];
  return { content: fitContent(parts.filter(Boolean).join(" ")), allowed_mentions: NO_MENTIONS };
}

/** The push text for NOTIFY_WEBHOOK_URL: plain, no Discord markup. */
export function gatePassPush(
  run: RunRef,
  p: GatePassedPayload,
): { title: string; message: string; url?: string } {
  const url = threadUrl(run);
  return {
    title: `alphaloop: ${label(p)} passed every gate`,
    message: `Run ${run.id}. ${metricLine(p.metrics)}. Eligible, not proven alpha; the holdout result follows in the thread.`,
    ...(url ? { url } : {}),
  };
}
