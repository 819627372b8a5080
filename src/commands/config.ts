/** /research config [run:] — the run's frozen windows, costs, gates, budgets and config hash. */
import type { ChatInputCommandInteraction } from "discord.js";
import { canRead } from "../bot/access.ts";
import { runConfigEmbed } from "../bot/render/command-replies.ts";
import {
  actorOf,
  type CommandContext,
  deferred,
  findRun,
  implicitRun,
  replyEphemeral,
  requireOk,
} from "./context.ts";

export async function config(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  const place = canRead(ctx.access, actorOf(i));
  if (!place.ok) return replyEphemeral(i, place.reason);
  const runId = i.options.getString("run");
  await deferred(i, { ephemeral: false }, async () => {
    const run = runId ? await findRun(ctx, runId) : await implicitRun(ctx, i);
    requireOk(canRead(ctx.access, actorOf(i), run));
    return { embeds: [runConfigEmbed(run)] };
  });
}
