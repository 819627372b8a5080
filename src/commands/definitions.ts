/**
 * The application commands alphaloop registers (`alphaloop discord register`): /research with its
 * subcommands, and the "Nudge this run" message context-menu command.
 */
import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  type RESTPostAPIApplicationCommandsJSONBody,
  SlashCommandBuilder,
  type SlashCommandSubcommandBuilder,
} from "discord.js";
import { DRIVER_NAMES } from "../cli/driver-choice.ts";
import { presetNames } from "../loop/config-files.ts";
import { MAX_ISLANDS } from "../loop/islands.ts";

export const RESEARCH = "research";
export const NUDGE_MESSAGE = "Nudge this run";

const runOption = (s: SlashCommandSubcommandBuilder, required: boolean, what: string) =>
  s.addStringOption((o) =>
    o.setName("run").setDescription(what).setRequired(required).setAutocomplete(true).setMaxLength(64),
  );

export function researchCommand(presets: readonly string[] = presetNames()): SlashCommandBuilder {
  const b = new SlashCommandBuilder()
    .setName(RESEARCH)
    .setDescription("alphaloop research runs: start, steer and inspect them")
    .setContexts(InteractionContextType.Guild);
  b.addSubcommand((s) =>
    s
      .setName("start")
      .setDescription("start a research run; its card and thread follow in this channel")
      .addStringOption((o) =>
        o.setName("brief").setDescription("what to look for").setRequired(true).setMaxLength(1000),
      )
      .addStringOption((o) =>
        o
          .setName("preset")
          .setDescription("a shipped config preset")
          .addChoices(...presets.slice(0, 25).map((p) => ({ name: p, value: p }))),
      )
      .addStringOption((o) =>
        o.setName("symbol").setDescription("dataset symbol, e.g. ETHUSDT").setMaxLength(32),
      )
      .addStringOption((o) =>
        o.setName("timeframe").setDescription("base timeframe of the bars, e.g. 1h").setMaxLength(8),
      )
      .addStringOption((o) =>
        o
          .setName("driver")
          .setDescription("who proposes strategies (auto: the model when it answers)")
          .addChoices(...["auto", ...DRIVER_NAMES].map((d) => ({ name: d, value: d }))),
      )
      .addIntegerOption((o) =>
        o.setName("max_iterations").setDescription("iteration budget").setMinValue(1).setMaxValue(10_000),
      )
      .addIntegerOption((o) =>
        o
          .setName("islands")
          .setDescription("sub-searches taking turns, sharing the run's ledger (loop.islands)")
          .setMinValue(1)
          // The schema's bound: Discord then refuses 17+ before the bot ever sees it.
          .setMaxValue(MAX_ISLANDS),
      ),
  );
  for (const [name, what] of [
    ["stop", "stop a run for good"],
    ["pause", "pause a run (resume it later)"],
    ["resume", "resume a paused run"],
  ] as const) {
    b.addSubcommand((s) => runOption(s.setName(name).setDescription(what), true, "run id"));
  }
  b.addSubcommand((s) =>
    runOption(
      s.setName("status").setDescription("a run's progress"),
      false,
      "run id (default: this thread's run)",
    ),
  );
  b.addSubcommand((s) => s.setName("list").setDescription("this server's recent runs"));
  b.addSubcommand((s) =>
    runOption(
      s.setName("leaderboard").setDescription("best iterations so far"),
      false,
      "run id (default: every run here)",
    ),
  );
  b.addSubcommand((s) =>
    runOption(
      s.setName("nudge").setDescription("steer a run's next iteration"),
      true,
      "run id",
    ).addStringOption((o) =>
      o.setName("text").setDescription("the nudge").setRequired(true).setMaxLength(1500),
    ),
  );
  b.addSubcommand((s) =>
    runOption(
      s.setName("config").setDescription("a run's frozen windows, costs, gates and config hash"),
      false,
      "run id (default: this thread's run)",
    ),
  );
  return b;
}

export function nudgeMessageCommand(): ContextMenuCommandBuilder {
  return new ContextMenuCommandBuilder()
    .setName(NUDGE_MESSAGE)
    .setType(ApplicationCommandType.Message)
    .setContexts(InteractionContextType.Guild);
}

export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  return [researchCommand().toJSON(), nudgeMessageCommand().toJSON()];
}
