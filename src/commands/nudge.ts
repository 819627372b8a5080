/**
 * /research nudge run: text: — a nudge without the thread (or without the MessageContent intent).
 * The interaction id is its external id, so a retried interaction is one nudge.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import { type NudgeOutcome, storeNudge } from "../bot/nudge-intake.ts";
import type { RunRecord } from "../loop/run-repository.ts";
import { type CommandContext, controllableRun, deferred, UserError } from "./context.ts";

export function nudgeReply(run: RunRecord, outcome: NudgeOutcome): string {
  if (outcome === "finished") {
    throw new UserError(`Run \`${run.id}\` is ${run.status}: nudges go to running or paused runs.`);
  }
  if (outcome === "duplicate") return `📥 Already stored for run \`${run.id}\`.`;
  return `📥 Nudge stored for run \`${run.id}\`; the next iteration uses it and its post quotes it.`;
}

export async function nudge(i: ChatInputCommandInteraction, ctx: CommandContext): Promise<void> {
  const runId = i.options.getString("run", true);
  const text = i.options.getString("text", true).trim();
  await deferred(i, { ephemeral: true }, async () => {
    if (!text) throw new UserError("The nudge is empty.");
    const run = await controllableRun(ctx, i, runId);
    const outcome = await storeNudge(ctx.runs, run, {
      author: i.user.id,
      source: "discord-command",
      text,
      externalId: `interaction:${i.id}`,
    });
    return { content: nudgeReply(run, outcome) };
  });
}
