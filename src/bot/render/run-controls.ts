/**
 * The buttons under run posts. Custom ids are `run:<runId>:<action>`; the interaction handler (a
 * later slice) parses them with `parseRunControlId`.
 */
import { MESSAGE_LIMITS } from "./limits.ts";

export const RUN_ACTIONS = ["stop", "pause", "resume", "nudge"] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

// Discord API component types and button styles (numbers, to keep renderers free of discord.js).
const ACTION_ROW = 1;
const BUTTON = 2;
const PRIMARY = 1;
const SECONDARY = 2;
const DANGER = 4;

export interface ButtonComponent {
  type: typeof BUTTON;
  style: number;
  label: string;
  custom_id: string;
  disabled?: boolean;
}

export interface ActionRow {
  type: typeof ACTION_ROW;
  components: ButtonComponent[];
}

export function runControlId(runId: string, action: RunAction): string {
  const id = `run:${runId}:${action}`;
  if (id.length > MESSAGE_LIMITS.customId) throw new Error(`run id too long for a button: ${runId}`);
  return id;
}

export function parseRunControlId(customId: string): { runId: string; action: RunAction } | undefined {
  const m = /^run:(.+):(stop|pause|resume|nudge)$/.exec(customId);
  return m ? { runId: m[1] as string, action: m[2] as RunAction } : undefined;
}

/** Stop, Pause or Resume (by the run's state), Nudge; none when the run is over. */
export function runControls(runId: string, state: "running" | "paused" | "finished"): ActionRow[] {
  if (state === "finished") return [];
  return [
    {
      type: ACTION_ROW,
      components: [
        { type: BUTTON, style: DANGER, label: "Stop", custom_id: runControlId(runId, "stop") },
        state === "paused"
          ? { type: BUTTON, style: SECONDARY, label: "Resume", custom_id: runControlId(runId, "resume") }
          : { type: BUTTON, style: SECONDARY, label: "Pause", custom_id: runControlId(runId, "pause") },
        { type: BUTTON, style: PRIMARY, label: "Nudge", custom_id: runControlId(runId, "nudge") },
      ],
    },
  ];
}
