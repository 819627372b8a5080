/** /research config [run:] — the run's frozen windows, costs, gates, budgets and config hash. */
import type { ChatInputCommandInteraction } from "discord.js";
import { runConfigEmbed } from "../bot/render/command-replies.ts";
import { type CommandContext, showRun } from "./context.ts";

export function config(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  return showRun(i, ctx, runConfigEmbed);
}
