/** /research leaderboard [run:] — the best iterations of one run, or of every run in this server. */
import type { ChatInputCommandInteraction } from "discord.js";
import { canRead } from "../bot/access.ts";
import { leaderboardEmbed } from "../bot/render/command-replies.ts";
import { actorOf, type CommandContext, deferred, findRun, replyEphemeral, requireOk } from "./context.ts";

export async function leaderboard(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  const place = canRead(ctx.access, actorOf(i));
  if (!place.ok) return replyEphemeral(i, place.reason);
  const runId = i.options.getString("run");
  await deferred(i, { ephemeral: false }, async () => {
    if (runId) {
      const run = await findRun(ctx, runId);
      requireOk(canRead(ctx.access, actorOf(i), run));
      return { embeds: [leaderboardEmbed(await ctx.store.leaderboard({ runId: run.id }), `run ${run.id}`)] };
    }
    const rows = await ctx.store.leaderboard({ guildId: i.guildId as string });
    return { embeds: [leaderboardEmbed(rows, "this server")] };
  });
}
