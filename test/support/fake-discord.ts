/**
 * A fake Discord REST API on loopback for discord.js's REST client (`new REST({ api: url })`):
 * real HTTP, every request recorded (JSON bodies, multipart files), and just enough behaviour to
 * test delivery — message create (with enforce_nonce dedupe), DM channels, closed DMs (50007),
 * archived threads (50083 until PATCH archived:false), thread creation, reactions — plus injected
 * faults: an error status, a 429 with Retry-After, a connection dropped after the message was
 * created, or a request that never answers.
 *
 * For the gateway bot it also answers what a discord.js Client asks: GET /gateway/bot (pointing at
 * a FakeGateway), interaction callbacks, the @original reply and followups (webhook routes, which
 * carry no bot token), threads started from a message (id = the message's, 160004 the second time),
 * thread membership, application command overwrites and GET /applications/@me.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedFile {
  readonly field: string;
  readonly name: string;
  readonly contentType: string;
  readonly data: Buffer;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path after /api/v10, e.g. /channels/123/messages. */
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly contentType: string;
  /** The JSON body, or payload_json of a multipart body. */
  readonly json: Record<string, unknown> | undefined;
  readonly files: RecordedFile[];
  /** What the fake answered (0 when it dropped or hung). */
  status: number;
}

export interface StoredMessage {
  readonly id: string;
  readonly channelId: string;
  readonly body: Record<string, unknown>;
  readonly files: RecordedFile[];
}

export type Fault =
  | {
      readonly kind: "status";
      readonly status: number;
      readonly body?: Record<string, unknown>;
      readonly retryAfterS?: number;
    }
  | { readonly kind: "drop-after-create" }
  | { readonly kind: "hang" };

interface ArmedFault {
  readonly method: string;
  readonly path: RegExp;
  times: number;
  readonly fault: Fault;
}

export class FakeDiscord {
  readonly requests: RecordedRequest[] = [];
  readonly messages: StoredMessage[] = [];
  readonly archived = new Set<string>();
  readonly closedDms = new Set<string>();
  /** Threads the bot joined (PUT /channels/{t}/thread-members/@me). */
  readonly joined = new Set<string>();
  /** Interaction callbacks by interaction id, in arrival order. */
  readonly callbacks: { interactionId: string; token: string; body: Record<string, unknown> }[] = [];
  /** The @original reply of each interaction token (PATCH), and followups (POST), as sent. */
  readonly originals = new Map<string, Record<string, unknown>>();
  readonly followups: { token: string; body: Record<string, unknown> }[] = [];
  /** The last command overwrite per route (global or guild). */
  readonly commands = new Map<string, unknown[]>();
  /** Where GET /gateway/bot sends the client (a FakeGateway url). */
  gatewayUrl = "ws://127.0.0.1:1";
  readonly applicationId = "1000000000000000001";
  private readonly threadsFromMessages = new Set<string>();
  private readonly dmByUser = new Map<string, string>();
  private readonly dmOwner = new Map<string, string>();
  private readonly nonces = new Map<string, StoredMessage>();
  private readonly faults: ArmedFault[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private nextId = 1_100_000_000_000_000_000n;
  private server: Server | undefined;
  /** Base for `new REST({ api })`: no version, no trailing slash. */
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/api`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Arms a fault for the next `times` requests matching method and path. */
  inject(method: string, path: RegExp, fault: Fault, times = 1): void {
    this.faults.push({ method, path, times, fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  id(): string {
    this.nextId += 1n;
    return String(this.nextId);
  }

  /** The DM channel for `userId` (the one POST /users/@me/channels answers), opened if need be. */
  dmChannelOf(userId: string): string {
    let channel = this.dmByUser.get(userId);
    if (!channel) {
      channel = this.id();
      this.dmByUser.set(userId, channel);
      this.dmOwner.set(channel, userId);
    }
    return channel;
  }

  messagesIn(channelId: string): StoredMessage[] {
    return this.messages.filter((m) => m.channelId === channelId);
  }

  private send(
    res: ServerResponse,
    rec: RecordedRequest,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    rec.status = status;
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = String(req.headers["content-type"] ?? "");
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").replace(/^\/api\/v10/, "").split("?")[0] as string;
    let json: Record<string, unknown> | undefined;
    const files: RecordedFile[] = [];
    if (contentType.startsWith("multipart/form-data")) {
      const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
      for (const [field, value] of form) {
        if (typeof value === "string") {
          if (field === "payload_json") json = JSON.parse(value) as Record<string, unknown>;
        } else {
          files.push({
            field,
            name: value.name,
            contentType: value.type,
            data: Buffer.from(await value.arrayBuffer()),
          });
        }
      }
    } else if (raw.length > 0 && contentType.includes("json")) {
      json = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    }
    const rec: RecordedRequest = { method, path, headers: req.headers, contentType, json, files, status: 0 };
    this.requests.push(rec);

    const armed = this.faults.find((f) => f.times > 0 && f.method === method && f.path.test(path));
    let dropAfterCreate = false;
    if (armed) {
      armed.times -= 1;
      const f = armed.fault;
      if (f.kind === "hang") {
        this.hanging.add(res);
        return;
      }
      if (f.kind === "status") {
        const headers: Record<string, string> = {};
        if (f.retryAfterS !== undefined) {
          headers["retry-after"] = String(f.retryAfterS);
          headers["x-ratelimit-limit"] = "5";
          headers["x-ratelimit-remaining"] = "0";
          headers["x-ratelimit-reset-after"] = String(f.retryAfterS);
          headers["x-ratelimit-bucket"] = "fake-bucket";
        }
        this.send(
          res,
          rec,
          f.status,
          f.body ?? {
            message: `fake ${f.status}`,
            code: 0,
            ...(f.retryAfterS !== undefined ? { retry_after: f.retryAfterS, global: false } : {}),
          },
          headers,
        );
        return;
      }
      dropAfterCreate = true;
    }

    // Interaction callbacks and webhook routes authenticate by the token in the path, not a header.
    const interactionRoute = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path);
    const webhookRoute = /^\/webhooks\/(\d+)\/([^/]+)(\/messages\/(?:@original|%40original|\d+))?$/.exec(
      path,
    );
    if (interactionRoute) {
      this.callbacks.push({
        interactionId: interactionRoute[1] as string,
        token: interactionRoute[2] as string,
        body: json ?? {},
      });
      this.send(res, rec, 204);
      return;
    }
    if (webhookRoute) {
      const token = webhookRoute[2] as string;
      const body = json ?? {};
      if (method === "PATCH") this.originals.set(token, body);
      else if (method === "POST") this.followups.push({ token, body });
      else if (method === "DELETE") this.originals.delete(token);
      if (method === "DELETE") {
        this.send(res, rec, 204);
        return;
      }
      this.send(res, rec, 200, {
        id: this.id(),
        channel_id: "0",
        type: 0,
        content: body["content"] ?? "",
        embeds: body["embeds"] ?? [],
        components: [],
        attachments: [],
        author: { id: this.applicationId, username: "fake-bot", bot: true },
        timestamp: new Date().toISOString(),
        flags: body["flags"] ?? 0,
        mentions: [],
        mention_roles: [],
        pinned: false,
        tts: false,
        mention_everyone: false,
        edited_timestamp: null,
      });
      return;
    }

    if (!String(req.headers.authorization ?? "").startsWith("Bot ")) {
      this.send(res, rec, 401, { message: "401: Unauthorized", code: 0 });
      return;
    }

    const messagesRoute = /^\/channels\/(\d+)\/messages$/.exec(path);
    const channelRoute = /^\/channels\/(\d+)$/.exec(path);
    const messageRoute = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path);
    const threadsRoute = /^\/channels\/(\d+)\/threads$/.exec(path);
    const threadFromMessage = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path);
    const threadMember = /^\/channels\/(\d+)\/thread-members\/(?:@me|%40me)$/.exec(path);
    const commandsRoute = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path);
    if (method === "GET" && path === "/gateway/bot") {
      this.send(res, rec, 200, {
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      });
    } else if (method === "GET" && path === "/applications/@me") {
      this.send(res, rec, 200, { id: this.applicationId, name: "fake-app", bot_public: false });
    } else if (method === "PUT" && commandsRoute) {
      const list = Array.isArray(json) ? (json as unknown[]) : [];
      this.commands.set(path, list);
      this.send(
        res,
        rec,
        200,
        list.map((c) => ({ ...(c as object), id: this.id(), application_id: commandsRoute[1] })),
      );
    } else if (method === "POST" && threadFromMessage) {
      const messageId = threadFromMessage[2] as string;
      if (this.threadsFromMessages.has(messageId)) {
        this.send(res, rec, 400, {
          message: "A thread has already been created for this message",
          code: 160004,
        });
        return;
      }
      this.threadsFromMessages.add(messageId);
      if (dropAfterCreate) {
        res.socket?.destroy();
        return;
      }
      // Discord gives a thread started from a message the message's id.
      this.send(res, rec, 201, {
        id: messageId,
        type: 11,
        parent_id: threadFromMessage[1],
        name: json?.["name"],
      });
    } else if (method === "PUT" && threadMember) {
      this.joined.add(threadMember[1] as string);
      this.send(res, rec, 204);
    } else if (method === "GET" && path === "/users/@me") {
      this.send(res, rec, 200, { id: "1000000000000000001", username: "fake-bot", bot: true });
    } else if (method === "POST" && path === "/users/@me/channels") {
      const user = String(json?.["recipient_id"] ?? "");
      const channel = this.dmChannelOf(user);
      this.send(res, rec, 200, { id: channel, type: 1, recipients: [{ id: user }] });
    } else if (method === "POST" && messagesRoute) {
      const channelId = messagesRoute[1] as string;
      const dmUser = this.dmOwner.get(channelId);
      if (dmUser && this.closedDms.has(dmUser)) {
        this.send(res, rec, 403, { message: "Cannot send messages to this user", code: 50007 });
        return;
      }
      if (this.archived.has(channelId)) {
        this.send(res, rec, 400, { message: "Thread is archived", code: 50083 });
        return;
      }
      const body = json ?? {};
      const nonce = typeof body["nonce"] === "string" ? `${channelId}:${body["nonce"]}` : undefined;
      const earlier = nonce && body["enforce_nonce"] === true ? this.nonces.get(nonce) : undefined;
      const msg = earlier ?? { id: this.id(), channelId, body, files };
      if (!earlier) {
        this.messages.push(msg);
        if (nonce) this.nonces.set(nonce, msg);
      }
      if (dropAfterCreate) {
        // The message exists, but the client never hears so: the "posted, then crashed" case.
        res.socket?.destroy();
        return;
      }
      this.send(res, rec, 200, {
        id: msg.id,
        channel_id: channelId,
        content: body["content"] ?? "",
        attachments: files.map((f, i) => ({ id: String(i), filename: f.name, size: f.data.length })),
      });
    } else if (method === "PATCH" && messageRoute) {
      const [, channelId, messageId] = messageRoute as unknown as [string, string, string];
      const stored = this.messages.find((m) => m.id === messageId && m.channelId === channelId);
      if (!stored) {
        this.send(res, rec, 404, { message: "Unknown Message", code: 10008 });
        return;
      }
      Object.assign(stored.body, json ?? {});
      this.send(res, rec, 200, { id: messageId, channel_id: channelId, ...stored.body });
    } else if (method === "PATCH" && channelRoute) {
      const id = channelRoute[1] as string;
      if (json?.["archived"] === false) this.archived.delete(id);
      this.send(res, rec, 200, { id, type: 11, thread_metadata: { archived: this.archived.has(id) } });
    } else if (method === "POST" && threadsRoute) {
      this.send(res, rec, 201, { id: this.id(), type: 11, parent_id: threadsRoute[1], name: json?.["name"] });
    } else if (method === "PUT" && /^\/channels\/\d+\/messages\/\d+\/reactions\/[^/]+\/@me$/.test(path)) {
      this.send(res, rec, 204);
    } else {
      this.send(res, rec, 404, { message: "404: Not Found", code: 0 });
    }
  }
}
