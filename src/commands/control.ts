/**
 * /research stop|pause|resume run: (and the Stop / Pause / Resume buttons) — only the run's owner
 * or a member with an alphaloop role. The status changes in Postgres and every worker aborts the
 * run's in-flight iteration; the thread hears of it through the outbox, so the reply is private.
 */
import type { ButtonInteraction, ChatInputCommandInteraction } from "discord.js";
import { controlRun, resumeRun } from "../queue/control.ts";
import { type CommandContext, controllableRun, deferred, UserError } from "./context.ts";

export type ControlVerb = "stop" | "pause" | "resume";

const DONE: Record<ControlVerb, string> = { stop: "⏹ Stopped", pause: "⏸ Paused", resume: "▶ Resumed" };

export async function applyControl(
  ctx: CommandContext,
  i: ChatInputCommandInteraction | ButtonInteraction,
  verb: ControlVerb,
  runId: string,
): Promise<string> {
  const run = await controllableRun(ctx, i, runId);
  const reason = `${verb === "stop" ? "stopped" : verb === "pause" ? "paused" : "resumed"} from Discord by ${i.user.id}`;
  const changed =
    verb === "resume"
      ? await resumeRun(ctx.runs, ctx.transport, run.id, reason)
      : await controlRun(ctx.runs, ctx.transport, run.id, verb, reason);
  if (!changed) {
    const now = (await ctx.runs.getRun(run.id))?.status ?? run.status;
    throw new UserError(
      `Run \`${run.id}\` is ${now}: it cannot be ${verb === "stop" ? "stopped" : `${verb}d`}.`,
    );
  }
  return `${DONE[verb]} run \`${run.id}\`.`;
}

export async function control(
  i: ChatInputCommandInteraction,
  ctx: CommandContext,
  verb: ControlVerb,
): Promise<void> {
  const runId = i.options.getString("run", true);
  await deferred(i, { ephemeral: true }, async () => ({ content: await applyControl(ctx, i, verb, runId) }));
}
