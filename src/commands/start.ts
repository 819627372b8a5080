/**
 * /research start brief: [preset symbol timeframe driver max_iterations islands] — creates the run
 * (owner = the caller, in this channel), moves it to running and enqueues its first iteration.
 * The outbox then posts the run card here and opens the thread from it.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import { canStart } from "../bot/access.ts";
import { mergeConfig, parseRunConfig, type RunConfig } from "../domain/run-config.ts";
import { loadRunConfigFiles, presetPath } from "../loop/config-files.ts";
import { islandSettings } from "../loop/islands.ts";
import { createRun } from "../loop/runner.ts";
import { submitRun } from "../queue/control.ts";
import {
  actorOf,
  type CommandContext,
  deferred,
  replyEphemeral,
  type StartOptions,
  UserError,
} from "./context.ts";

/** The run config overrides the options stand for, in run config keys. */
export function startOverrides(o: StartOptions): Record<string, unknown> {
  const dataset: Record<string, unknown> = {};
  const loop: Record<string, unknown> = {};
  const budgets: Record<string, unknown> = {};
  if (o.symbol) dataset["symbol"] = o.symbol.trim().toUpperCase();
  if (o.timeframe) dataset["timeframe"] = o.timeframe.trim();
  if (o.driver) loop["driver"] = o.driver;
  if (o.islands !== undefined) loop["islands"] = o.islands;
  if (o.maxIterations !== undefined) budgets["max_iterations"] = o.maxIterations;
  return {
    ...(Object.keys(dataset).length ? { dataset } : {}),
    ...(Object.keys(loop).length ? { loop } : {}),
    ...(Object.keys(budgets).length ? { budgets } : {}),
  };
}

/**
 * configs/default.yaml, then the bot's own config files (the deployment's data windows, say), then
 * the preset, then the options — the same merge and strict parse `alphaloop run` uses.
 */
export function startRunConfig(baseFiles: readonly string[], o: StartOptions): RunConfig {
  const files = [...baseFiles, ...(o.preset ? [presetPath(o.preset)] : [])];
  return parseRunConfig(mergeConfig(loadRunConfigFiles(files), startOverrides(o)), "/research start options");
}

export function startOptionsOf(i: ChatInputCommandInteraction): StartOptions {
  return {
    preset: i.options.getString("preset") ?? undefined,
    symbol: i.options.getString("symbol") ?? undefined,
    timeframe: i.options.getString("timeframe") ?? undefined,
    driver: i.options.getString("driver") ?? undefined,
    maxIterations: i.options.getInteger("max_iterations") ?? undefined,
    islands: i.options.getInteger("islands") ?? undefined,
  };
}

/** Refuses a run on bars the store does not hold, naming what it holds and how to get more. */
export async function requireData(ctx: Pick<CommandContext, "datasets">, config: RunConfig): Promise<void> {
  const { symbol, timeframe } = config.dataset;
  const all = (await ctx.datasets()).filter((d) => d.rows > 0);
  if (all.some((d) => d.symbol === symbol && d.timeframe === timeframe)) return;
  const have = all.map((d) => `${d.symbol} ${d.timeframe}`).slice(0, 20);
  throw new UserError(
    `No ${symbol} ${timeframe} bars in the store${have.length ? ` (it holds ${have.join(", ")})` : ""}. An operator adds them with \`alphaloop data download --symbol ${symbol} --timeframe ${timeframe} --from YYYY-MM --to YYYY-MM\`.`,
  );
}

export async function start(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  const allowed = canStart(ctx.access, actorOf(i));
  if (!allowed.ok) return replyEphemeral(i, allowed.reason);
  const brief = i.options.getString("brief", true).trim();
  await deferred(i, { ephemeral: false }, async () => {
    if (!brief) throw new UserError("The brief is empty: say what the run should look for.");
    if (i.channel?.isThread()) {
      throw new UserError("Start runs in a text channel: each run opens its own thread there.");
    }
    const config = ctx.runConfig(startOptionsOf(i));
    await requireData(ctx, config);
    const choice = await ctx.resolveDriver(config.loop.driver);
    const run = await createRun(ctx.runs, {
      brief,
      config: { ...config, loop: { ...config.loop, driver: choice.name as RunConfig["loop"]["driver"] } },
      driver: choice.name,
      owner: i.user.id,
      source: "discord",
      ...(i.guildId ? { guildId: i.guildId } : {}),
      ...(i.channelId ? { channelId: i.channelId } : {}),
    });
    await submitRun(ctx.runs, ctx.transport, run.id);
    const c = run.config;
    const islands = islandSettings(c.loop).islands;
    const on = islands > 1 ? ` on ${islands} islands` : "";
    return {
      content: [
        `▶ Run \`${run.id}\` started by <@${i.user.id}>: ${c.dataset.symbol} ${c.dataset.timeframe}, driver ${choice.name} (${choice.why}), up to ${c.budgets.max_iterations} iterations${on}, config \`${run.configHash.slice(0, 12)}\`.`,
        "Its card and thread follow in this channel; reply in the thread to steer it.",
      ].join("\n"),
    };
  });
}
