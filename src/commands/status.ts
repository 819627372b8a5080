/** /research status [run:] — a run's progress; without run:, this thread's run or the newest here. */
import type { ChatInputCommandInteraction } from "discord.js";
import { runStatusEmbed } from "../bot/render/command-replies.ts";
import { type CommandContext, showRun } from "./context.ts";

export function status(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  return showRun(i, ctx, runStatusEmbed);
}
