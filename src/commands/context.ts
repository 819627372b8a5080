/**
 * What every command handler gets, and the shared reply discipline: answer within Discord's 3 s by
 * deferring, finish with the @original reply, and turn refusals and bad input into one clear
 * ephemeral message. Later posts never use the interaction token (it expires after 15 minutes):
 * the outbox consumer posts to the run's thread.
 */
import {
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  GuildMember,
  type InteractionEditReplyOptions,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  type ModalSubmitInteraction,
} from "discord.js";
import { type AccessPolicy, type Actor, canControl, canRead, type Decision } from "../bot/access.ts";
import type { PgBotStore } from "../bot/bot-store.ts";
import type { DiscordRest } from "../bot/discord-rest.ts";
import { type RunConfig, RunConfigError } from "../domain/run-config.ts";
import { log } from "../log/logger.ts";
import { maskSecrets } from "../log/secrets.ts";
import type { RunRecord, RunRepository } from "../loop/run-repository.ts";
import type { ResearchTransport } from "../queue/transport.ts";

/** The /research start options that shape the run config. */
export interface StartOptions {
  readonly preset?: string | undefined;
  readonly symbol?: string | undefined;
  readonly timeframe?: string | undefined;
  readonly driver?: string | undefined;
  readonly maxIterations?: number | undefined;
  readonly islands?: number | undefined;
}

export interface CommandContext {
  readonly runs: RunRepository;
  readonly store: PgBotStore;
  readonly transport: ResearchTransport;
  readonly access: AccessPolicy;
  readonly discord: Pick<DiscordRest, "react">;
  /** The run config for /research start: the bot's base config, the preset, then the options. */
  readonly runConfig: (o: StartOptions) => RunConfig;
  /** The stored datasets (symbol, timeframe, bar count): a run on data the store lacks is refused. */
  readonly datasets: () => Promise<readonly { symbol: string; timeframe: string; rows: number }[]>;
  /** `auto` → llm or heuristic, with why. */
  readonly resolveDriver: (requested: string) => Promise<{ name: string; why: string }>;
}

export type AnyInteraction =
  | ChatInputCommandInteraction
  | AutocompleteInteraction
  | ButtonInteraction
  | ModalSubmitInteraction
  | MessageContextMenuCommandInteraction;

/** A refusal or bad input, worded for the person who asked. */
export class UserError extends Error {
  override name = "UserError";
}

export const NONE = { parse: [] } as const;

/** Role ids of the member, whether discord.js resolved it to a GuildMember or left it raw. */
function rolesOf(member: AnyInteraction["member"]): string[] {
  if (!member) return [];
  if (member instanceof GuildMember) return [...member.roles.cache.keys()];
  return Array.isArray(member.roles) ? [...member.roles] : [];
}

/** Who asks and where; `parentId` is the run's channel when the interaction came from its thread. */
export function actorOf(i: AnyInteraction, threadRun?: RunRecord): Actor {
  return {
    userId: i.user.id,
    roles: rolesOf(i.member),
    guildId: i.guildId,
    channelId: i.channelId,
    parentId: threadRun?.channelId ?? (i.channel?.isThread() ? i.channel.parentId : null),
  };
}

export function requireOk(d: Decision): void {
  if (!d.ok) throw new UserError(d.reason);
}

/** The text a failure shows: ours verbatim, config errors verbatim, anything else generic and logged. */
export function userMessage(err: unknown): string {
  if (err instanceof UserError || err instanceof RunConfigError) return maskSecrets(err.message);
  log().error(
    { err: maskSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err)) },
    "command failed",
  );
  return "Something went wrong on the bot's side; it is logged. Try again in a moment.";
}

export async function replyEphemeral(
  i:
    | ChatInputCommandInteraction
    | ButtonInteraction
    | ModalSubmitInteraction
    | MessageContextMenuCommandInteraction,
  content: string,
): Promise<void> {
  const body = { content: content.slice(0, 2000), allowedMentions: NONE };
  if (i.deferred || i.replied) {
    if (i.ephemeral) {
      await i.editReply(body);
      return;
    }
    // A public "thinking…" becomes an ephemeral error: delete it, follow up privately.
    await i.deleteReply().catch(() => undefined);
    await i.followUp({ ...body, flags: MessageFlags.Ephemeral });
    return;
  }
  await i.reply({ ...body, flags: MessageFlags.Ephemeral });
}

/**
 * Defers (public, or ephemeral for private confirmations), runs `work`, and edits the reply with
 * its result; a failure becomes one ephemeral message.
 */
export async function deferred(
  i:
    | ChatInputCommandInteraction
    | ButtonInteraction
    | ModalSubmitInteraction
    | MessageContextMenuCommandInteraction,
  o: { ephemeral: boolean },
  work: () => Promise<InteractionEditReplyOptions>,
): Promise<void> {
  await i.deferReply(o.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
  try {
    const body = await work();
    await i.editReply({ allowedMentions: NONE, ...body });
  } catch (err) {
    await replyEphemeral(i, userMessage(err));
  }
}

/** A run by id, visible to this actor, or a clear error. */
export async function findRun(ctx: CommandContext, runId: string): Promise<RunRecord> {
  const run = await ctx.runs.getRun(runId.trim());
  if (!run)
    throw new UserError(
      `No run \`${runId.trim().slice(0, 40)}\`. \`/research list\` shows this server's runs.`,
    );
  return run;
}

/**
 * The run a command without `run:` means: the run whose thread this is, else the newest run of
 * this server.
 */
export async function implicitRun(ctx: CommandContext, i: AnyInteraction): Promise<RunRecord> {
  const inThread = i.channelId ? await ctx.store.runByThread(i.channelId) : undefined;
  if (inThread) return inThread;
  const latest = i.guildId ? (await ctx.store.guildRuns(i.guildId, 1))[0] : undefined;
  if (!latest) throw new UserError("No runs in this server yet: `/research start brief:…` starts one.");
  return latest;
}

/**
 * A reading command about one run (`run:`, else this thread's run or the server's newest), answered
 * publicly with `render`'s embed; a place or run the actor may not read gets a private refusal.
 */
export async function showRun(
  i: ChatInputCommandInteraction,
  ctx: CommandContext,
  render: (run: RunRecord) => NonNullable<InteractionEditReplyOptions["embeds"]>[number],
): Promise<void> {
  const place = canRead(ctx.access, actorOf(i));
  if (!place.ok) return replyEphemeral(i, place.reason);
  const runId = i.options.getString("run");
  await deferred(i, { ephemeral: false }, async () => {
    const run = runId ? await findRun(ctx, runId) : await implicitRun(ctx, i);
    requireOk(canRead(ctx.access, actorOf(i), run));
    return { embeds: [render(run)] };
  });
}

/** A run this actor may stop, pause, resume or nudge. */
export async function controllableRun(
  ctx: CommandContext,
  i: AnyInteraction,
  runId: string,
): Promise<RunRecord> {
  const run = await findRun(ctx, runId);
  requireOk(canControl(ctx.access, actorOf(i, run.threadId === i.channelId ? run : undefined), run));
  return run;
}

export const TERMINAL_STATUSES: readonly string[] = ["completed", "stopped", "failed"];
