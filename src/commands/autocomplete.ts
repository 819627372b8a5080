/** Run ids for every `run:` option: this server's runs whose id or brief contains what was typed. */
import type { AutocompleteInteraction } from "discord.js";
import { canRead } from "../bot/access.ts";
import { actorOf, type CommandContext } from "./context.ts";

export function runChoice(r: { id: string; status: string; brief: string }): { name: string; value: string } {
  const brief = r.brief.replace(/\s+/g, " ").trim();
  return { name: `${r.id} · ${r.status}${brief ? ` · ${brief}` : ""}`.slice(0, 100), value: r.id };
}

export async function autocompleteRun(i: AutocompleteInteraction, ctx: CommandContext): Promise<void> {
  const focused = i.options.getFocused(true);
  if (focused.name !== "run" || !canRead(ctx.access, actorOf(i)).ok || !i.guildId) {
    await i.respond([]);
    return;
  }
  const found = await ctx.store.searchRuns(i.guildId, String(focused.value).trim().slice(0, 64), 25);
  await i.respond(found.map(runChoice));
}
