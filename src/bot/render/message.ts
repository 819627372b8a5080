/** A message as the renderers produce it and discord-rest.ts sends it (Discord API field names). */
import type { Embed } from "./limits.ts";
import type { ActionRow } from "./run-controls.ts";

export interface AllowedMentions {
  parse: ("users" | "roles" | "everyone")[];
  users?: string[];
}

export interface OutgoingFile {
  readonly name: string;
  readonly data: Uint8Array;
  readonly contentType: string;
}

export interface OutgoingMessage {
  content?: string;
  embeds?: Embed[];
  components?: ActionRow[];
  /** Always explicit: by default nothing in a post pings anyone. */
  allowed_mentions: AllowedMentions;
  files?: OutgoingFile[];
  /** Makes the post a reply to that message. */
  message_reference?: { message_id: string; fail_if_not_exists: boolean };
  /** 4096 = SUPPRESS_NOTIFICATIONS ("@silent"). */
  flags?: number;
}

export const NO_MENTIONS: AllowedMentions = { parse: [] };
export const SUPPRESS_NOTIFICATIONS = 1 << 12;
