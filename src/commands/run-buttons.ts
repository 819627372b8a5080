/**
 * The buttons under run posts (render/run-controls.ts): Stop, Pause / Resume and Nudge. Nudge opens
 * a modal; its submission is stored like /research nudge (the modal interaction id as external id).
 */
import {
  ActionRowBuilder,
  type ButtonInteraction,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from "discord.js";
import { NUDGE_MAX, storeNudge } from "../bot/nudge-intake.ts";
import { parseRunControlId } from "../bot/render/run-controls.ts";
import {
  type CommandContext,
  controllableRun,
  deferred,
  replyEphemeral,
  UserError,
  userMessage,
} from "./context.ts";
import { applyControl } from "./control.ts";
import { nudgeReply } from "./nudge.ts";

const MODAL_PREFIX = "nudge-modal:";
const TEXT_FIELD = "text";

export function nudgeModal(runId: string): ModalBuilder {
  return new ModalBuilder()
    .setCustomId(`${MODAL_PREFIX}${runId}`)
    .setTitle(`Nudge run ${runId}`.slice(0, 45))
    .addComponents(
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder()
          .setCustomId(TEXT_FIELD)
          .setLabel("What should the next iteration try?")
          .setStyle(TextInputStyle.Paragraph)
          .setRequired(true)
          .setMaxLength(NUDGE_MAX),
      ),
    );
}

export function isNudgeModal(customId: string): boolean {
  return customId.startsWith(MODAL_PREFIX);
}

export async function runButton(i: ButtonInteraction, ctx: CommandContext): Promise<void> {
  const parsed = parseRunControlId(i.customId);
  if (!parsed) return replyEphemeral(i, "This button is not one of alphaloop's.");
  if (parsed.action === "nudge") {
    // A modal must be the first answer, so the check runs before it (one quick read).
    try {
      await controllableRun(ctx, i, parsed.runId);
    } catch (err) {
      return replyEphemeral(i, userMessage(err));
    }
    await i.showModal(nudgeModal(parsed.runId));
    return;
  }
  const verb = parsed.action;
  await deferred(i, { ephemeral: true }, async () => ({
    content: await applyControl(ctx, i, verb, parsed.runId),
  }));
}

export async function nudgeModalSubmit(i: ModalSubmitInteraction, ctx: CommandContext): Promise<void> {
  const runId = i.customId.slice(MODAL_PREFIX.length);
  await deferred(i, { ephemeral: true }, async () => {
    const run = await controllableRun(ctx, i, runId);
    const text = i.fields.getTextInputValue(TEXT_FIELD).trim();
    if (!text) throw new UserError("The nudge is empty.");
    const outcome = await storeNudge(ctx.runs, run, {
      author: i.user.id,
      source: "discord-modal",
      text,
      externalId: `interaction:${i.id}`,
    });
    return { content: nudgeReply(run, outcome) };
  });
}
