/**
 * Nudges arriving from Discord. A message in a run's thread from someone allowed to steer the run is
 * a nudge: stored with the message id as its external id (a message delivered twice is one
 * nudge) and reacted 📥; the outbox reacts ✅ when an iteration applies it. Without the
 * MessageContent intent Discord only sends the text of messages that mention the bot, so
 * "@alphaloop use a slower EMA" works either way. Bots, webhooks and people not allowed are
 * ignored; someone not allowed hears so once per run (per bot process), never twice.
 */
import type { GatewayMessageCreateDispatchData, GatewayMessageUpdateDispatchData } from "discord.js";
import { log } from "../log/logger.ts";
import type { RunRecord, RunRepository } from "../loop/run-repository.ts";
import { type AccessPolicy, canControl } from "./access.ts";
import type { PgBotStore } from "./bot-store.ts";
import type { DiscordRest } from "./discord-rest.ts";
import { fitContent } from "./render/limits.ts";
import { NO_MENTIONS, SUPPRESS_NOTIFICATIONS } from "./render/message.ts";

export const INBOX = "📥";
export const NUDGE_MAX = 1500;
const TERMINAL = new Set(["completed", "stopped", "failed"]);

/** The nudge a message carries: its text without mentions of the bot, or undefined when empty. */
export function nudgeText(content: string, botId: string): string | undefined {
  const text = content.replace(new RegExp(`<@!?${botId}>`, "g"), " ").trim();
  return text ? text.slice(0, NUDGE_MAX) : undefined;
}

export type NudgeOutcome = "stored" | "duplicate" | "finished";

/** Stores a nudge for a run that can still use it. */
export async function storeNudge(
  runs: Pick<RunRepository, "addNudge">,
  run: RunRecord,
  n: { author: string; source: string; text: string; externalId: string },
): Promise<NudgeOutcome> {
  if (TERMINAL.has(run.status)) return "finished";
  const stored = await runs.addNudge({ runId: run.id, ...n });
  return stored ? "stored" : "duplicate";
}

export interface ThreadMessageDeps {
  readonly runs: Pick<RunRepository, "addNudge">;
  readonly store: Pick<PgBotStore, "runByThread">;
  readonly access: AccessPolicy;
  readonly discord: Pick<DiscordRest, "react" | "postMessage">;
  readonly botId: () => string | undefined;
}

export class ThreadNudges {
  /** `${run}:${user}` already told they may not nudge. */
  private readonly told = new Set<string>();

  constructor(private readonly d: ThreadMessageDeps) {}

  onMessage(m: GatewayMessageCreateDispatchData): Promise<NudgeOutcome | "ignored" | "refused"> {
    return this.take(m, m.id, (text) => text);
  }

  /**
   * An edited reply is a nudge of its own, keyed by the edit's time: the original may already be
   * in an iteration's hands, and rewriting it there would record text the iteration never saw.
   * Updates that are no edit (link previews, embeds resolving) carry no new edit time: none.
   */
  onEdit(m: GatewayMessageUpdateDispatchData): Promise<NudgeOutcome | "ignored" | "refused"> {
    if (!m.edited_timestamp || typeof m.content !== "string") return Promise.resolve("ignored");
    return this.take(m, `${m.id}@${m.edited_timestamp}`, (text) => `(edited) ${text}`);
  }

  private async take(
    m: GatewayMessageCreateDispatchData | GatewayMessageUpdateDispatchData,
    externalId: string,
    label: (text: string) => string,
  ): Promise<NudgeOutcome | "ignored" | "refused"> {
    const botId = this.d.botId();
    if (m.author.bot || m.webhook_id || !m.guild_id || !botId) return "ignored";
    const run = await this.d.store.runByThread(m.channel_id);
    if (!run) return "ignored";
    const text = nudgeText(m.content, botId);
    if (!text) return "ignored";
    const allowed = canControl(
      this.d.access,
      {
        userId: m.author.id,
        roles: m.member?.roles ?? [],
        guildId: m.guild_id,
        channelId: m.channel_id,
        parentId: run.channelId,
      },
      run,
    );
    if (!allowed.ok) {
      const key = `${run.id}:${m.author.id}`;
      if (!this.told.has(key)) {
        // Bounded: after many strangers the oldest may hear it a second time, never unboundedly often.
        if (this.told.size >= 10_000) this.told.delete(this.told.values().next().value as string);
        this.told.add(key);
        await this.d.discord
          .postMessage(m.channel_id, {
            content: fitContent(`Not used as a nudge: ${allowed.reason}`),
            allowed_mentions: NO_MENTIONS,
            // Ephemeral in spirit: a silent reply to that message, once.
            flags: SUPPRESS_NOTIFICATIONS,
            message_reference: { message_id: m.id, fail_if_not_exists: false },
          })
          .catch((err: unknown) =>
            log().warn({ run: run.id, err: String(err) }, "could not post a nudge refusal"),
          );
      }
      return "refused";
    }
    const outcome = await storeNudge(this.d.runs, run, {
      author: m.author.id,
      source: "discord-thread",
      text: label(text),
      externalId,
    });
    if (outcome === "finished") return outcome;
    // A redelivered message reacts again: PUT is idempotent, and it heals a react lost to a restart.
    await this.d.discord.react(m.channel_id, m.id, INBOX);
    return outcome;
  }
}
