/**
 * A thin adapter over discord.js REST: the few calls the bot makes, in Discord API shapes.
 * discord.js queues per route, waits out 429s and retries 5xx and resets itself; what still
 * fails comes out as DiscordAPIError (with Discord's numeric code) or HTTPError.
 * `DISCORD_API_URL` replaces the API base (a rate-limit proxy, or the test double).
 */
import { DiscordAPIError, HTTPError, type RawFile, REST, Routes } from "discord.js";
import type { OutgoingMessage } from "./render/message.ts";
import type { ActionRow } from "./render/run-controls.ts";

/** Discord JSON error codes the bot reacts to. https://discord.com/developers/docs/topics/opcodes-and-status-codes */
export const DiscordCodes = {
  unknownChannel: 10003,
  missingAccess: 50001,
  cannotMessageUser: 50007,
  missingPermissions: 50013,
  threadArchived: 50083,
  threadAlreadyCreated: 160004,
} as const;

export interface DiscordRestOptions {
  readonly token: string;
  /** Base without the version, e.g. https://discord.com/api (the discord.js default). */
  readonly api?: string;
  /** Per-request timeout, ms (discord.js default 15 s). */
  readonly timeoutMs?: number;
  /** Retries of a 5xx or a reset connection (discord.js default 3). */
  readonly retries?: number;
}

export interface PostedMessage {
  readonly id: string;
  readonly channelId: string;
}

export interface PostOptions {
  /**
   * Sent with `enforce_nonce`: Discord returns the earlier message instead of creating a second
   * one when the same nonce arrives again within a few minutes — the guard for "posted, then
   * crashed before the message id was stored". At most 25 characters.
   */
  readonly nonce?: string;
}

export function discordRestFromEnv(env: NodeJS.ProcessEnv = process.env): DiscordRest {
  const token = env["DISCORD_TOKEN"]?.trim();
  if (!token) throw new Error("DISCORD_TOKEN is not set");
  const api = env["DISCORD_API_URL"]?.trim();
  return new DiscordRest({ token, ...(api ? { api } : {}) });
}

export function discordErrorCode(err: unknown): number | undefined {
  return err instanceof DiscordAPIError && typeof err.code === "number" ? err.code : undefined;
}

/** HTTP status of a failed call, or undefined for a network failure or timeout. */
export function discordStatus(err: unknown): number | undefined {
  return err instanceof DiscordAPIError || err instanceof HTTPError ? err.status : undefined;
}

export class DiscordRest {
  readonly rest: REST;

  constructor(o: DiscordRestOptions) {
    this.rest = new REST({
      version: "10",
      ...(o.api ? { api: o.api.replace(/\/+$/, "") } : {}),
      ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}),
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
    }).setToken(o.token);
  }

  /** Posts a message; an archived thread is unarchived (PATCH archived:false) and the post retried once. */
  async postMessage(channelId: string, msg: OutgoingMessage, o: PostOptions = {}): Promise<PostedMessage> {
    try {
      return await this.post(channelId, msg, o);
    } catch (err) {
      if (discordErrorCode(err) !== DiscordCodes.threadArchived) throw err;
      await this.unarchiveThread(channelId);
      return this.post(channelId, msg, o);
    }
  }

  private async post(channelId: string, msg: OutgoingMessage, o: PostOptions): Promise<PostedMessage> {
    const { files, ...body } = msg;
    const json: Record<string, unknown> = { ...body };
    if (o.nonce) {
      json["nonce"] = o.nonce.slice(0, 25);
      json["enforce_nonce"] = true;
    }
    const raw: RawFile[] | undefined = files?.map((f) => ({
      name: f.name,
      data: Buffer.from(f.data),
      contentType: f.contentType,
    }));
    if (raw?.length) json["attachments"] = raw.map((f, id) => ({ id, filename: f.name }));
    const res = (await this.rest.post(Routes.channelMessages(channelId), {
      body: json,
      ...(raw?.length ? { files: raw } : {}),
    })) as { id: string; channel_id?: string };
    return { id: res.id, channelId: res.channel_id ?? channelId };
  }

  /** Opens (or returns the existing) DM channel with a user. */
  async createDm(userId: string): Promise<string> {
    const res = (await this.rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as {
      id: string;
    };
    return res.id;
  }

  async react(channelId: string, messageId: string, emoji: string): Promise<void> {
    await this.rest.put(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji)));
  }

  async unarchiveThread(threadId: string): Promise<void> {
    await this.rest.patch(Routes.channel(threadId), { body: { archived: false } });
  }

  /**
   * Starts a public thread from a message (the run card) and returns its id. When the message
   * already has one (a retried call after a lost answer), Discord refuses with 160004; a thread
   * started from a message has the message's id, so that id is the answer.
   */
  async threadFromMessage(channelId: string, messageId: string, name: string): Promise<string> {
    try {
      const res = (await this.rest.post(Routes.threads(channelId, messageId), {
        body: { name: name.slice(0, 100), auto_archive_duration: 10080 },
      })) as { id: string };
      return res.id;
    } catch (err) {
      if (discordErrorCode(err) === DiscordCodes.threadAlreadyCreated) return messageId;
      throw err;
    }
  }

  /** Replaces a message's buttons (an empty list removes them). */
  async editComponents(
    channelId: string,
    messageId: string,
    components: readonly ActionRow[],
  ): Promise<void> {
    await this.rest.patch(Routes.channelMessage(channelId, messageId), { body: { components } });
  }

  /** Adds the bot to a thread (idempotent), so it receives the thread's messages. */
  async joinThread(threadId: string): Promise<void> {
    await this.rest.put(Routes.threadMembers(threadId, "@me"));
  }
}
