/**
 * A fake Discord REST API on loopback for discord.js's REST client (`new REST({ api: url })`):
 * real HTTP, every request recorded (JSON bodies, multipart files), and just enough behaviour to
 * test delivery — message create (with enforce_nonce dedupe), DM channels, closed DMs (50007),
 * archived threads (50083 until PATCH archived:false), thread creation, reactions — plus injected
 * faults: an error status, a 429 with Retry-After, a connection dropped after the message was
 * created, or a request that never answers.
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

    if (!String(req.headers.authorization ?? "").startsWith("Bot ")) {
      this.send(res, rec, 401, { message: "401: Unauthorized", code: 0 });
      return;
    }

    const messagesRoute = /^\/channels\/(\d+)\/messages$/.exec(path);
    const channelRoute = /^\/channels\/(\d+)$/.exec(path);
    const threadsRoute = /^\/channels\/(\d+)\/threads$/.exec(path);
    if (method === "GET" && path === "/users/@me") {
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
