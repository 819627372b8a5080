/** Routes each interaction to its handler; one failing handler never takes the bot down. */
import type { Interaction } from "discord.js";
import { log } from "../log/logger.ts";
import { autocompleteRun } from "./autocomplete.ts";
import { config } from "./config.ts";
import { type CommandContext, replyEphemeral, userMessage } from "./context.ts";
import { control } from "./control.ts";
import { NUDGE_MESSAGE, RESEARCH } from "./definitions.ts";
import { leaderboard } from "./leaderboard.ts";
import { list } from "./list.ts";
import { nudge } from "./nudge.ts";
import { nudgeMessage } from "./nudge-message.ts";
import { isNudgeModal, nudgeModalSubmit, runButton } from "./run-buttons.ts";
import { start } from "./start.ts";
import { status } from "./status.ts";

function describe(i: Interaction): string {
  if (i.isChatInputCommand() || i.isAutocomplete()) {
    return `/${i.commandName} ${i.options.getSubcommand(false) ?? ""}`.trim();
  }
  if (i.isMessageContextMenuCommand()) return i.commandName;
  if (i.isButton() || i.isModalSubmit()) return i.customId;
  return `interaction type ${i.type}`;
}

export async function routeInteraction(i: Interaction, ctx: CommandContext): Promise<void> {
  if (!i.isAutocomplete()) {
    log().info({ user: i.user.id, guild: i.guildId, channel: i.channelId, what: describe(i) }, "interaction");
  }
  try {
    if (i.isAutocomplete()) return await autocompleteRun(i, ctx);
    if (i.isChatInputCommand() && i.commandName === RESEARCH) {
      const sub = i.options.getSubcommand(true);
      switch (sub) {
        case "start":
          return await start(i, ctx);
        case "stop":
        case "pause":
        case "resume":
          return await control(i, ctx, sub);
        case "status":
          return await status(i, ctx);
        case "list":
          return await list(i, ctx);
        case "leaderboard":
          return await leaderboard(i, ctx);
        case "nudge":
          return await nudge(i, ctx);
        case "config":
          return await config(i, ctx);
        default:
          return await replyEphemeral(
            i,
            `Unknown subcommand ${sub}: re-register with \`alphaloop discord register\`.`,
          );
      }
    }
    if (i.isMessageContextMenuCommand() && i.commandName === NUDGE_MESSAGE) return await nudgeMessage(i, ctx);
    if (i.isButton()) return await runButton(i, ctx);
    if (i.isModalSubmit() && isNudgeModal(i.customId)) return await nudgeModalSubmit(i, ctx);
  } catch (err) {
    // The reply itself failed (token expired, Discord down): log it; there is no one to tell.
    log().warn({ err: userMessage(err), interaction: i.id }, "interaction failed");
  }
}
