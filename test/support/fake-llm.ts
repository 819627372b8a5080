import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A scripted OpenAI-compatible server on loopback for tests: real HTTP, so the client's timeouts,
 * retries and connection handling are exercised for real. Each `POST /v1/chat/completions` consumes the
 * next step of the script; every request is recorded so a test can check what reached the prompt.
 *
 *   const llm = await startFakeLlm({ script: [fault.serverError(), reply.text("hi")] });
 *   const client = new LlmClient({ baseURL: llm.url, model: "fake" });
 *   ...
 *   await llm.close();
 */

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  receivedAt: number;
}

/** What the server does with one chat request. */
export type FakeTurn =
  | { kind: "reply"; completion: Record<string, unknown>; delayMs?: number; cutAfter?: number }
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }
  | { kind: "raw"; status: number; body: string; contentType: string; delayMs?: number }
  | { kind: "drop"; delayMs?: number }
  | { kind: "hang" };

/** A completion object (no `kind` key) is shorthand for `{ kind: "reply", completion }`. */
export type ScriptStep =
  | FakeTurn
  | Record<string, unknown>
  | ((
      request: RecordedRequest,
    ) => FakeTurn | Record<string, unknown> | Promise<FakeTurn | Record<string, unknown>>);

let nextId = 1;

export interface ReplyOptions {
  finishReason?: string;
  usage?: Record<string, unknown>;
  reasoning?: string;
  model?: string;
}

function completionOf(message: Record<string, unknown>, o: ReplyOptions = {}): Record<string, unknown> {
  return {
    id: `chatcmpl-fake-${nextId++}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: o.model ?? "fake-model",
    choices: [
      {
        index: 0,
        message: { role: "assistant", ...message, ...(o.reasoning ? { reasoning: o.reasoning } : {}) },
        finish_reason: o.finishReason ?? (Array.isArray(message["tool_calls"]) ? "tool_calls" : "stop"),
      },
    ],
    usage: o.usage ?? { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
  };
}

/** Builders for successful replies. */
export const reply = {
  /** A plain assistant message (markup in content is how tool-parser-less servers return calls). */
  text: (content: string | null, options?: ReplyOptions) => completionOf({ content }, options),
  /** Native tool calls; `arguments` objects are JSON-encoded as vLLM does. */
  toolCalls: (
    calls: { name: string; arguments: Record<string, unknown> | string }[],
    options: ReplyOptions & { content?: string | null } = {},
  ) =>
    completionOf(
      {
        content: options.content ?? null,
        tool_calls: calls.map((c, i) => ({
          id: `call_fake_${nextId}_${i}`,
          type: "function",
          function: {
            name: c.name,
            arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments),
          },
        })),
      },
      options,
    ),
  /** Any message shape (reasoning fields, object arguments, ...). */
  message: (message: Record<string, unknown>, options?: ReplyOptions) => completionOf(message, options),
};

/** Builders for failures. */
export const fault = {
  status: (status: number, body?: unknown, headers?: Record<string, string>): FakeTurn => ({
    kind: "status",
    status,
    body: body ?? { error: { message: `fake error ${status}`, type: "server_error" } },
    ...(headers ? { headers } : {}),
  }),
  serverError: (): FakeTurn => fault.status(500),
  /** 429 with `Retry-After` in seconds (fractions allowed, as a number string). */
  rateLimit: (retryAfterSeconds: number): FakeTurn =>
    fault.status(
      429,
      { error: { message: "rate limited", type: "rate_limit" } },
      {
        "retry-after": String(retryAfterSeconds),
      },
    ),
  /** Destroys the socket after reading the request: the client sees a connection reset. */
  drop: (delayMs?: number): FakeTurn => ({ kind: "drop", ...(delayMs ? { delayMs } : {}) }),
  /** Never answers (until the client gives up or the server closes). */
  hang: (): FakeTurn => ({ kind: "hang" }),
  /**
   * Starts the reply, then destroys the socket: after `chunks` SSE events when the client streams,
   * or after half the JSON body when it does not.
   */
  cut: (step: Record<string, unknown>, chunks = 2): FakeTurn => ({
    kind: "reply",
    completion: step,
    cutAfter: chunks,
  }),
  /** Answers the given step after a delay. */
  slow: (delayMs: number, step: FakeTurn | Record<string, unknown>): FakeTurn => {
    const turn = toTurn(step);
    return turn.kind === "hang" ? turn : { ...turn, delayMs };
  },
  /** A body that is not what the client expects (HTML from a proxy, truncated JSON). */
  raw: (body: string, status = 200, contentType = "application/json"): FakeTurn => ({
    kind: "raw",
    status,
    body,
    contentType,
  }),
};

function toTurn(step: FakeTurn | Record<string, unknown>): FakeTurn {
  if (typeof step["kind"] === "string" && !("choices" in step)) return step as FakeTurn;
  return { kind: "reply", completion: step };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Splits a string into pieces so the SSE stream looks like token deltas. */
function pieces(s: string, size = 16): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/** The chat.completion as the `chat.completion.chunk` events a streaming server would send. */
export function toChunks(
  completion: Record<string, unknown>,
  includeUsage: boolean,
): Record<string, unknown>[] {
  const choice = (completion["choices"] as Record<string, unknown>[])[0] ?? {};
  const message = (choice["message"] ?? {}) as Record<string, unknown>;
  const base = {
    id: completion["id"],
    object: "chat.completion.chunk",
    created: completion["created"],
    model: completion["model"],
  };
  const chunk = (delta: Record<string, unknown>, finish: unknown = null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const out: Record<string, unknown>[] = [chunk({ role: "assistant", content: "" })];
  for (const key of ["reasoning_content", "reasoning"]) {
    const v = message[key];
    if (typeof v === "string") for (const p of pieces(v)) out.push(chunk({ [key]: p }));
  }
  if (typeof message["content"] === "string")
    for (const p of pieces(message["content"])) out.push(chunk({ content: p }));
  const calls = Array.isArray(message["tool_calls"])
    ? (message["tool_calls"] as Record<string, unknown>[])
    : [];
  calls.forEach((tc, index) => {
    const fn = (tc["function"] ?? {}) as Record<string, unknown>;
    const args =
      typeof fn["arguments"] === "string" ? fn["arguments"] : JSON.stringify(fn["arguments"] ?? {});
    out.push(
      chunk({
        tool_calls: [
          { index, id: tc["id"], type: "function", function: { name: fn["name"], arguments: "" } },
        ],
      }),
    );
    for (const p of pieces(args)) out.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
  });
  out.push(chunk({}, choice["finish_reason"] ?? "stop"));
  if (includeUsage) out.push({ ...base, choices: [], usage: completion["usage"] });
  return out;
}

export interface FakeLlm {
  /** Base URL to give the client, ending in `/v1`. */
  url: string;
  /** Every request received, in order (including `/v1/models`). */
  requests: RecordedRequest[];
  /** Only the chat completion requests. */
  chatRequests(): RecordedRequest[];
  /** All message contents of a chat request joined: what the model was shown. */
  promptOf(request: RecordedRequest): string;
  /** Appends steps to the script. */
  push(...steps: ScriptStep[]): void;
  /** Steps not yet consumed. */
  remaining(): number;
  close(): Promise<void>;
}

export interface FakeLlmOptions {
  script?: ScriptStep[];
  models?: string[];
  /** Used when the script runs out; without it an exhausted script answers 500 so tests notice. */
  fallback?: ScriptStep;
}

export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  const script: ScriptStep[] = [...(options.script ?? [])];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const models = options.models ?? ["fake-model"];

  const after = (ms: number | undefined, res: ServerResponse, fn: () => void) => {
    if (!ms) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed) fn();
    }, ms);
    timers.add(t);
    // The client gave up (timeout, abort): nothing left to answer.
    res.on("close", () => {
      clearTimeout(t);
      timers.delete(t);
    });
  };

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    turn: FakeTurn,
    stream: boolean,
    usage: boolean,
  ) => {
    switch (turn.kind) {
      case "hang":
        return;
      case "drop":
        return after(turn.delayMs, res, () => req.socket.destroy());
      case "status":
        return after(turn.delayMs, res, () => sendJson(res, turn.status, turn.body ?? {}, turn.headers));
      case "raw":
        return after(turn.delayMs, res, () => {
          res.writeHead(turn.status, { "content-type": turn.contentType });
          res.end(turn.body);
        });
      case "reply":
        return after(turn.delayMs, res, () => {
          const cut = turn.cutAfter;
          if (!stream) {
            if (cut === undefined) return sendJson(res, 200, turn.completion);
            const text = JSON.stringify(turn.completion);
            res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length) });
            res.write(text.slice(0, Math.floor(text.length / 2)));
            return setImmediate(() => req.socket.destroy());
          }
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          const chunks = toChunks(turn.completion, usage);
          for (const c of chunks.slice(0, cut ?? chunks.length)) res.write(`data: ${JSON.stringify(c)}\n\n`);
          if (cut !== undefined) return setImmediate(() => req.socket.destroy());
          res.end("data: [DONE]\n\n");
        });
    }
  };

  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body,
      receivedAt: Date.now(),
    };
    requests.push(recorded);
    if (req.method === "GET" && path.endsWith("/models")) {
      return sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "fake" })),
      });
    }
    if (req.method !== "POST" || !path.endsWith("/chat/completions")) {
      return sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
    }
    const step = script.shift() ?? options.fallback;
    if (step === undefined) {
      return sendJson(res, 500, { error: { message: "fake-llm: script exhausted" } });
    }
    const resolved = typeof step === "function" ? await step(recorded) : step;
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const streamOptions = (b["stream_options"] ?? {}) as Record<string, unknown>;
    answer(req, res, toTurn(resolved), b["stream"] === true, streamOptions["include_usage"] === true);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.path.endsWith("/chat/completions")),
    promptOf: (r) => {
      const b = (r.body ?? {}) as { messages?: { content?: unknown }[] };
      return (b.messages ?? [])
        .map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "")))
        .join("\n");
    },
    push: (...steps) => {
      script.push(...steps);
    },
    remaining: () => script.length,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
