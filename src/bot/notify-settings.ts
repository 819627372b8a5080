/**
 * Who gets pinged for what, per guild and event type: `on` (ping, DM, push), `silent` (post, no
 * ping) or `off` (no notification post). Iteration posts are not notifications and always go out.
 *
 * Read from ALPHALOOP_NOTIFY (JSON) for now, e.g.
 *   {"default": {"run.stuck": "silent"}, "guilds": {"123456789012345678": {"gate.passed": "on"}}}
 * The shape is the one a per-guild settings table or /settings command will store later.
 */
import { z } from "zod";

export const NOTIFY_EVENTS = ["gate.passed", "holdout.evaluated", "run.stuck", "run.finished"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export const NotifyModeSchema = z.enum(["on", "silent", "off"]);
export type NotifyMode = z.infer<typeof NotifyModeSchema>;

const PerEvent = z.strictObject({
  "gate.passed": NotifyModeSchema.optional(),
  "holdout.evaluated": NotifyModeSchema.optional(),
  "run.stuck": NotifyModeSchema.optional(),
  "run.finished": NotifyModeSchema.optional(),
});

export const NotifySettingsSchema = z.strictObject({
  default: PerEvent.default({}),
  guilds: z.record(z.string(), PerEvent).default({}),
});
export type NotifySettings = z.infer<typeof NotifySettingsSchema>;

export const BUILT_IN: Readonly<Record<NotifyEvent, NotifyMode>> = {
  "gate.passed": "on",
  "holdout.evaluated": "silent",
  "run.stuck": "on",
  "run.finished": "silent",
};

export function parseNotifySettings(json: string | undefined): NotifySettings {
  if (!json?.trim()) return NotifySettingsSchema.parse({});
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`ALPHALOOP_NOTIFY is not JSON: ${(err as Error).message}`);
  }
  const r = NotifySettingsSchema.safeParse(raw);
  if (!r.success) throw new Error(`ALPHALOOP_NOTIFY: ${z.prettifyError(r.error)}`);
  return r.data;
}

export function notifyMode(s: NotifySettings, guildId: string | null, event: NotifyEvent): NotifyMode {
  return (guildId ? s.guilds[guildId]?.[event] : undefined) ?? s.default[event] ?? BUILT_IN[event];
}
