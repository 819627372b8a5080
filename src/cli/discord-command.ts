/**
 * `alphaloop discord register [--guild ID]`: overwrites the bot's application commands with
 * /research and "Nudge this run" — in one guild (immediate; for testing) or globally (Discord
 * may take up to an hour to show changes). Uses DISCORD_TOKEN and DISCORD_API_URL.
 */
import type { Command } from "commander";
import { Routes } from "discord.js";
import { discordRestFromEnv } from "../bot/discord-rest.ts";
import { commandDefinitions } from "../commands/definitions.ts";
import { CliError } from "./cli-error.ts";

export interface DiscordCommandDeps {
  write?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
}

export function register(program: Command, deps: DiscordCommandDeps = {}): void {
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const discord = program.command("discord").description("Discord bot administration");
  discord
    .command("register")
    .description("register the /research and 'Nudge this run' commands with Discord")
    .option("--guild <id>", "register in this guild only (shows at once) instead of globally")
    .action(async (o: { guild?: string }) => {
      const env = deps.env ?? process.env;
      if (o.guild !== undefined && !/^\d{5,25}$/.test(o.guild)) {
        throw new CliError(`--guild must be a guild id (digits), got ${JSON.stringify(o.guild)}`, 2);
      }
      let rest: ReturnType<typeof discordRestFromEnv>;
      try {
        rest = discordRestFromEnv(env);
      } catch (err) {
        throw new CliError(`${(err as Error).message}: the bot token is needed to register commands`, 2);
      }
      const app = (await rest.rest.get(Routes.currentApplication())) as { id: string; name?: string };
      const body = commandDefinitions();
      const route = o.guild
        ? Routes.applicationGuildCommands(app.id, o.guild)
        : Routes.applicationCommands(app.id);
      const saved = (await rest.rest.put(route, { body })) as { name: string; type?: number }[];
      const names = saved.map((c) => (c.type === 3 ? `"${c.name}" (message menu)` : `/${c.name}`));
      write(
        `registered ${saved.length} commands for ${app.name ?? app.id} ${o.guild ? `in guild ${o.guild}` : "globally (may take up to an hour to appear)"}: ${names.join(", ")}\n`,
      );
    });
}
