/**
 * A fake Discord gateway on loopback: a real WebSocket server (ws) speaking the gateway's JSON
 * protocol far enough for a discord.js Client — HELLO, IDENTIFY → READY + GUILD_CREATE per guild,
 * heartbeat ACKs — and then the dispatches a test scripts (INTERACTION_CREATE, MESSAGE_CREATE).
 * Every IDENTIFY is recorded (token, intents) so a test can check what the bot asked for.
 * Point a FakeDiscord's `gatewayUrl` at `url`, so GET /gateway/bot sends the client here.
 */
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface Identify {
  readonly token: string;
  readonly intents: number;
}

export interface FakeGuild {
  readonly id: string;
  readonly name?: string;
  /** Role ids the guild has (GUILD_CREATE lists every role; member roles resolve against them). */
  readonly roles?: readonly string[];
}

export class FakeGateway {
  readonly identifies: Identify[] = [];
  private server: WebSocketServer | undefined;
  private readonly sockets = new Set<WebSocket>();
  private readonly ready = new Set<WebSocket>();
  private seq = 0;
  private readyWaiters: (() => void)[] = [];
  url = "";

  constructor(
    private readonly botUser: { id: string; username: string },
    private readonly guilds: readonly FakeGuild[],
    /** Intents this bot is not granted: an IDENTIFY asking for any closes with 4014, as Discord does. */
    private readonly disallowedIntents = 0,
  ) {}

  async start(): Promise<this> {
    this.server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => this.server?.once("listening", () => resolve()));
    const { port } = this.server.address() as AddressInfo;
    this.url = `ws://127.0.0.1:${port}`;
    this.server.on("connection", (ws) => this.onConnection(ws));
    return this;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Resolves once a client has identified and received READY. */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready.size > 0) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no client identified with the fake gateway")), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Sends a dispatch (op 0) to every identified client. */
  dispatch(t: string, d: unknown): void {
    for (const ws of this.ready) this.sendTo(ws, { op: 0, t, s: ++this.seq, d });
  }

  get connected(): number {
    return this.ready.size;
  }

  private sendTo(ws: WebSocket, payload: unknown): void {
    ws.send(JSON.stringify(payload));
  }

  private onConnection(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on("close", () => {
      this.sockets.delete(ws);
      this.ready.delete(ws);
    });
    this.sendTo(ws, { op: 10, d: { heartbeat_interval: 45_000 } });
    ws.on("message", (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> | null };
      if (msg.op === 1) {
        this.sendTo(ws, { op: 11 });
      } else if (msg.op === 2) {
        const d = msg.d ?? {};
        this.identifies.push({ token: String(d["token"]), intents: Number(d["intents"]) });
        if (Number(d["intents"]) & this.disallowedIntents) {
          ws.close(4014, "Disallowed intent(s).");
          return;
        }
        this.sendReady(ws);
      } else if (msg.op === 6) {
        // No sessions to resume here: the client identifies afresh.
        this.sendTo(ws, { op: 9, d: false });
      }
    });
  }

  private sendReady(ws: WebSocket): void {
    this.sendTo(ws, {
      op: 0,
      t: "READY",
      s: ++this.seq,
      d: {
        v: 10,
        user: { ...this.botUser, discriminator: "0", bot: true, avatar: null, global_name: null },
        guilds: this.guilds.map((g) => ({ id: g.id, unavailable: true })),
        session_id: `fake-session-${this.seq}`,
        resume_gateway_url: this.url,
        application: { id: this.botUser.id, flags: 0 },
      },
    });
    for (const g of this.guilds) {
      this.sendTo(ws, {
        op: 0,
        t: "GUILD_CREATE",
        s: ++this.seq,
        d: {
          id: g.id,
          name: g.name ?? "fake guild",
          unavailable: false,
          owner_id: "1",
          member_count: 2,
          large: false,
          features: [],
          channels: [],
          threads: [],
          members: [],
          roles: [g.id, ...(g.roles ?? [])].map((id, position) => ({
            id,
            name: position === 0 ? "@everyone" : `role ${position}`,
            color: 0,
            hoist: false,
            position,
            permissions: "0",
            managed: false,
            mentionable: false,
            flags: 0,
          })),
          emojis: [],
          stickers: [],
          presences: [],
          voice_states: [],
          stage_instances: [],
          guild_scheduled_events: [],
          joined_at: new Date().toISOString(),
          premium_tier: 0,
          preferred_locale: "en-US",
        },
      });
    }
    this.ready.add(ws);
    for (const w of this.readyWaiters.splice(0)) w();
  }
}

// --- Raw dispatch payloads a test feeds the gateway (Discord API v10 shapes) ---

let seq = 0n;
/** A fresh snowflake, unique within the test process. */
export function snowflake(): string {
  seq += 1n;
  return String(1_400_000_000_000_000_000n + seq);
}

export interface Who {
  readonly id: string;
  readonly roles?: readonly string[];
  readonly bot?: boolean;
}

export interface Where {
  readonly guildId: string;
  readonly channelId: string;
  /** Set when the channel is a thread (type 11) under this parent. */
  readonly parentId?: string;
}

export interface ScriptedInteraction {
  readonly id: string;
  readonly token: string;
  readonly payload: Record<string, unknown>;
}

const user = (w: Who) => ({
  id: w.id,
  username: `user${w.id.slice(-4)}`,
  discriminator: "0",
  global_name: null,
  avatar: null,
  ...(w.bot ? { bot: true } : {}),
});

function base(type: number, who: Who, where: Where, data: Record<string, unknown>): ScriptedInteraction {
  const id = snowflake();
  const token = `itoken-${id}`;
  return {
    id,
    token,
    payload: {
      id,
      token,
      type,
      version: 1,
      application_id: "1000000000000000001",
      guild_id: where.guildId,
      channel_id: where.channelId,
      channel: {
        id: where.channelId,
        guild_id: where.guildId,
        type: where.parentId ? 11 : 0,
        name: where.parentId ? "run thread" : "research",
        ...(where.parentId ? { parent_id: where.parentId, thread_metadata: { archived: false } } : {}),
      },
      member: {
        user: user(who),
        roles: [...(who.roles ?? [])],
        permissions: "0",
        joined_at: "2024-01-01T00:00:00.000Z",
        deaf: false,
        mute: false,
        flags: 0,
      },
      app_permissions: "0",
      locale: "en-US",
      guild_locale: "en-US",
      entitlements: [],
      authorizing_integration_owners: { "0": where.guildId },
      context: 0,
      data,
    },
  };
}

export type OptionValue = string | number;

/** /research <sub> with options (strings → type 3, integers → type 4). */
export function slash(
  sub: string,
  options: Record<string, OptionValue>,
  who: Who,
  where: Where,
  focused?: string,
): ScriptedInteraction {
  const opts = Object.entries(options).map(([name, value]) => ({
    name,
    type: typeof value === "number" ? 4 : 3,
    value,
    ...(name === focused ? { focused: true } : {}),
  }));
  return base(focused ? 4 : 2, who, where, {
    id: "1300000000000000001",
    name: "research",
    type: 1,
    options: [{ type: 1, name: sub, options: opts }],
  });
}

export function message(o: {
  id?: string;
  content: string;
  author: Who;
  where: Where;
}): Record<string, unknown> {
  return {
    id: o.id ?? snowflake(),
    channel_id: o.where.channelId,
    guild_id: o.where.guildId,
    author: user(o.author),
    member: {
      roles: [...(o.author.roles ?? [])],
      joined_at: "2024-01-01T00:00:00.000Z",
      deaf: false,
      mute: false,
    },
    content: o.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: 0,
    flags: 0,
  };
}

export function button(customId: string, who: Who, where: Where, messageId: string): ScriptedInteraction {
  const i = base(3, who, where, { custom_id: customId, component_type: 2 });
  const msg = message({
    id: messageId,
    content: "",
    author: { id: "1000000000000000001", bot: true },
    where,
  });
  return { ...i, payload: { ...i.payload, message: msg } };
}

export function modalSubmit(customId: string, text: string, who: Who, where: Where): ScriptedInteraction {
  return base(5, who, where, {
    custom_id: customId,
    components: [{ type: 1, components: [{ type: 4, custom_id: "text", value: text }] }],
  });
}

export function messageCommand(name: string, target: Record<string, unknown>, who: Who, where: Where) {
  return base(2, who, where, {
    id: "1300000000000000002",
    name,
    type: 3,
    target_id: target["id"],
    resolved: { messages: { [String(target["id"])]: target } },
  });
}
