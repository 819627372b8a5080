/** /research list — this server's ten newest runs. */
import type { ChatInputCommandInteraction } from "discord.js";
import { canRead } from "../bot/access.ts";
import { runListEmbed } from "../bot/render/command-replies.ts";
import { actorOf, type CommandContext, deferred, replyEphemeral } from "./context.ts";

export async function list(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  const place = canRead(ctx.access, actorOf(i));
  if (!place.ok) return replyEphemeral(i, place.reason);
  await deferred(i, { ephemeral: false }, async () => ({
    embeds: [runListEmbed(await ctx.store.guildRuns(i.guildId as string, 10))],
  }));
}
