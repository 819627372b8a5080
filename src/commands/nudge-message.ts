/**
 * "Nudge this run" (message context menu): turns a message in a run's thread into a nudge — the
 * way to nudge from a reply when the MessageContent intent is off. The message id is the external
 * id, exactly as for a thread reply read from the gateway, so both paths together store it once
 * and the ✅ lands on that message when an iteration applies it.
 */
import type { MessageContextMenuCommandInteraction } from "discord.js";
import { INBOX, NUDGE_MAX, storeNudge } from "../bot/nudge-intake.ts";
import { type CommandContext, controllableRun, deferred, UserError } from "./context.ts";
import { nudgeReply } from "./nudge.ts";

export async function nudgeMessage(
  i: MessageContextMenuCommandInteraction,
  ctx: CommandContext,
): Promise<void> {
  await deferred(i, { ephemeral: true }, async () => {
    const inThread = i.channelId ? await ctx.store.runByThread(i.channelId) : undefined;
    if (!inThread) throw new UserError("That message is not in a run's thread.");
    const run = await controllableRun(ctx, i, inThread.id);
    const text = i.targetMessage.content.trim().slice(0, NUDGE_MAX);
    if (!text) throw new UserError("That message has no text to use as a nudge.");
    const outcome = await storeNudge(ctx.runs, run, {
      author: i.user.id,
      source: "discord-thread",
      text,
      externalId: i.targetId,
    });
    if (outcome !== "finished") await ctx.discord.react(i.channelId, i.targetId, INBOX);
    return { content: nudgeReply(run, outcome) };
  });
}
