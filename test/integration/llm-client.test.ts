import { inspect } from "node:util";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { endpointFromEnv, LlmClient, type LlmClientOptions } from "../../src/llm/client.ts";
import { LlmAbortedError, LlmRequestError, LlmUnreachableError } from "../../src/llm/errors.ts";
import { parseAssistantMessage } from "../../src/llm/parse.ts";
import { TOOL_DEFINITIONS } from "../../src/llm/tools-schema.ts";
import { type FakeLlm, fault, reply, startFakeLlm } from "../support/fake-llm.ts";

// Retry warnings are expected here; keep the test output readable.
process.env["LOG_LEVEL"] ??= "silent";

let llm: FakeLlm | undefined;
afterEach(async () => {
  await llm?.close();
  llm = undefined;
});

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

async function setup(script: Parameters<typeof startFakeLlm>[0], options: Partial<LlmClientOptions> = {}) {
  llm = await startFakeLlm(script);
  const client = new LlmClient({ baseURL: llm.url, model: "qwen-test", retry: FAST_RETRY, ...options });
  return { llm, client };
}

const ask = { messages: [{ role: "user" as const, content: "next iteration" }] };

describe("LlmClient against the fake server", () => {
  it("retries a 500 and returns the next success", async () => {
    const { llm, client } = await setup({ script: [fault.serverError(), reply.text("hello")] });
    const result = await client.complete(ask);
    expect(result.completion.choices[0]?.message.content).toBe("hello");
    expect(result.attempts).toBe(2);
    expect(llm.chatRequests()).toHaveLength(2);
  });

  it("waits out Retry-After on a 429 before retrying", async () => {
    const { llm, client } = await setup({ script: [fault.rateLimit(0.4), reply.text("after the wait")] });
    const result = await client.complete(ask);
    expect(result.completion.choices[0]?.message.content).toBe("after the wait");
    const [first, second] = llm.chatRequests();
    // The backoff alone would be ≤ 20 ms; the gap is the server's Retry-After.
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(390);
  });

  it("times out a slow response, retries it, and then reports the endpoint unreachable", async () => {
    const { llm, client } = await setup(
      { script: [fault.slow(20_000, reply.text("late")), fault.slow(20_000, reply.text("late"))] },
      // Long enough that a loaded machine still delivers each request before the client gives up.
      { timeoutMs: 1_500, retry: { ...FAST_RETRY, maxTimeouts: 2 } },
    );
    const started = Date.now();
    const error = await client.complete(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnreachableError);
    expect((error as LlmUnreachableError).attempts).toBe(2);
    expect((error as LlmUnreachableError).lastFailure).toBe("timeout");
    expect((error as Error).message).toMatch(/unreachable/);
    expect(llm.chatRequests()).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("recovers when a timed-out attempt is followed by a prompt one", async () => {
    const { client } = await setup({ script: [fault.hang(), reply.text("quick")] }, { timeoutMs: 1_000 });
    const result = await client.complete(ask);
    expect(result.attempts).toBe(2);
    expect(result.latencyMs).toBeLessThan(1_000);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1_000);
  });

  it("retries a dropped connection and a malformed body", async () => {
    const { llm, client } = await setup({
      script: [
        fault.drop(),
        fault.raw("<html>502 Bad Gateway</html>"),
        fault.raw('{"id": "x"}'),
        reply.text("ok"),
      ],
    });
    const result = await client.complete(ask);
    expect(result.completion.choices[0]?.message.content).toBe("ok");
    expect(result.attempts).toBe(4);
    expect(llm.chatRequests()).toHaveLength(4);
  });

  it("gives up after maxAttempts of 5xx with an unreachable error naming the last status", async () => {
    const { llm, client } = await setup(
      { fallback: fault.status(503) },
      { retry: { ...FAST_RETRY, maxAttempts: 3 } },
    );
    const error = await client.complete(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnreachableError);
    expect((error as LlmUnreachableError).lastFailure).toBe("HTTP 503");
    expect(llm.chatRequests()).toHaveLength(3);
  });

  it("does not retry a 4xx, and the SDK does not retry behind its back", async () => {
    const { llm, client } = await setup({
      script: [
        fault.status(400, { error: { message: "This model's maximum context length is 32768 tokens" } }),
      ],
      fallback: reply.text("should never be reached"),
    });
    const error = await client.complete(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmRequestError);
    expect((error as LlmRequestError).status).toBe(400);
    expect((error as Error).message).toMatch(/maximum context length/);
    expect(llm.chatRequests()).toHaveLength(1);
  });

  it("sends exactly one request per attempt (SDK retries off) even for retryable failures", async () => {
    const { llm, client } = await setup(
      { fallback: fault.status(500) },
      { retry: { ...FAST_RETRY, maxAttempts: 1 } },
    );
    await expect(client.complete(ask)).rejects.toBeInstanceOf(LlmUnreachableError);
    expect(llm.chatRequests()).toHaveLength(1);
  });

  it("cancels promptly on abort, during a call and during a backoff wait", async () => {
    const { client } = await setup(
      { script: [fault.hang(), fault.serverError()] },
      { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } },
    );
    const inCall = new AbortController();
    const t0 = Date.now();
    setTimeout(() => inCall.abort(), 50);
    await expect(client.complete(ask, { signal: inCall.signal })).rejects.toBeInstanceOf(LlmAbortedError);
    expect(Date.now() - t0).toBeLessThan(1_000);

    const inWait = new AbortController();
    const t1 = Date.now();
    setTimeout(() => inWait.abort(), 100);
    await expect(client.complete(ask, { signal: inWait.signal })).rejects.toBeInstanceOf(LlmAbortedError);
    expect(Date.now() - t1).toBeLessThan(1_000);

    await expect(client.complete(ask, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      LlmAbortedError,
    );
  });

  it("accounts usage per call, cached tokens included, and keeps totals", async () => {
    const { client } = await setup({
      script: [
        reply.text("a", {
          usage: {
            prompt_tokens: 6412,
            completion_tokens: 24,
            total_tokens: 6436,
            prompt_tokens_details: { cached_tokens: 6144 },
          },
        }),
        // llama.cpp reports prefix-cache hits in timings.cache_n.
        {
          ...reply.text("b", { usage: { prompt_tokens: 500, completion_tokens: 10, total_tokens: 510 } }),
          timings: { cache_n: 256 },
        },
        reply.text("c", { usage: { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105 } }),
      ],
    });
    const a = await client.complete(ask);
    expect(a.usage).toEqual({
      promptTokens: 6412,
      completionTokens: 24,
      totalTokens: 6436,
      cachedTokens: 6144,
    });
    expect(a.latencyMs).toBeGreaterThan(0);
    expect((await client.complete(ask)).usage.cachedTokens).toBe(256);
    expect((await client.complete(ask)).usage.cachedTokens).toBeNull();
    expect(client.totals).toMatchObject({
      calls: 3,
      attempts: 3,
      promptTokens: 7012,
      completionTokens: 39,
      cachedTokens: 6400,
    });
  });

  it("sends the model, tools and messages, and the fake records what reached the prompt", async () => {
    const { llm, client } = await setup({
      script: [
        (req) => {
          // A scripted turn can answer from the request.
          const last = (req.body as { messages: { content: string }[] }).messages.at(-1)?.content ?? "";
          return reply.toolCalls([
            { name: "read_file", arguments: { path: last.includes("nudge") ? "notes.md" : "x" } },
          ]);
        },
      ],
    });
    const result = await client.complete({
      messages: [
        { role: "system", content: "You mine strategies." },
        { role: "user", content: "Quant nudge: try 4h bars" },
      ],
      tools: TOOL_DEFINITIONS.map((t) => ({
        ...t,
        function: { ...t.function, parameters: { ...t.function.parameters } },
      })),
      max_tokens: 256,
    });
    const body = llm.chatRequests()[0]?.body as Record<string, unknown>;
    expect(body["model"]).toBe("qwen-test");
    expect((body["tools"] as unknown[]).length).toBe(8);
    expect(llm.promptOf(llm.chatRequests()[0]!)).toContain("try 4h bars");
    expect(llm.promptOf(llm.chatRequests()[0]!)).not.toContain("2024-");
    expect(parseAssistantMessage(result.completion).calls).toEqual([
      { name: "read_file", arguments: { path: "notes.md" } },
    ]);
  });

  it("never puts the API key in errors or in the client's printed form", async () => {
    const key = "sk-local-0123456789abcdef";
    const { llm, client } = await setup(
      { script: [fault.status(401, { error: { message: `Incorrect API key provided: ${key}` } })] },
      { apiKey: key },
    );
    const error = await client.complete(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmRequestError);
    expect((error as Error).message).not.toContain(key);
    expect((error as Error).message).toContain("[REDACTED]");
    expect(inspect(client, { depth: 5 })).not.toContain(key);
    expect(JSON.stringify(client)).not.toContain(key);
    // It does reach the server, as a bearer token.
    expect(llm.chatRequests()[0]?.headers["authorization"]).toBe(`Bearer ${key}`);
  });

  it("lists the server's models", async () => {
    const { client } = await setup({ models: ["Qwen/Qwen3-32B", "qwen3-coder:30b"] });
    expect(await client.listModels()).toEqual(["Qwen/Qwen3-32B", "qwen3-coder:30b"]);
  });

  it("reports unreachable when nothing listens", async () => {
    const { llm: server } = await setup({});
    const url = server.url;
    await server.close();
    llm = undefined;
    const client = new LlmClient({ baseURL: url, model: "m", retry: { ...FAST_RETRY, maxAttempts: 2 } });
    const error = await client.complete(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnreachableError);
    expect((error as LlmUnreachableError).lastFailure).toMatch(/connection/);
  });
});

describe("streaming client", () => {
  it("joins an SSE reply into the completion the parser reads, usage included", async () => {
    const { llm, client } = await setup(
      {
        script: [
          reply.toolCalls(
            [
              { name: "write_file", arguments: { path: "s.ts", content: "if (a < b) {\n  x();\n}\n" } },
              { name: "read_notes", arguments: "" },
            ],
            {
              reasoning: "Write it, then check the notes.",
              usage: {
                prompt_tokens: 900,
                completion_tokens: 40,
                total_tokens: 940,
                prompt_tokens_details: { cached_tokens: 768 },
              },
            },
          ),
        ],
      },
      { stream: true },
    );
    const result = await client.complete(ask);
    expect((llm.chatRequests()[0]!.body as { stream?: boolean }).stream).toBe(true);
    const parsed = parseAssistantMessage(result.completion);
    expect(parsed.calls).toEqual([
      { name: "write_file", arguments: { path: "s.ts", content: "if (a < b) {\n  x();\n}\n" } },
      { name: "read_notes", arguments: {} },
    ]);
    expect(parsed.reasoning).toBe("Write it, then check the notes.");
    expect(parsed.outcome).toBe("ok");
    expect(result.usage).toEqual({
      promptTokens: 900,
      completionTokens: 40,
      totalTokens: 940,
      cachedTokens: 768,
    });
  });

  it("retries a stream cut mid-way, and a non-streamed body cut mid-way", async () => {
    const answer = reply.text("Next I will tighten the stop.");
    const { llm, client } = await setup({
      script: [fault.cut(answer, 2), answer, fault.cut(answer), answer],
    });
    const streamed = await client.complete(ask, { stream: true });
    expect(streamed.completion.choices[0]?.message.content).toBe("Next I will tighten the stop.");
    expect(streamed.attempts).toBe(2);
    const plain = await client.complete(ask);
    expect(plain.completion.choices[0]?.message.content).toBe("Next I will tighten the stop.");
    expect(plain.attempts).toBe(2);
    expect(llm.chatRequests()).toHaveLength(4);
  });
});

describe("fake server streaming", () => {
  it("streams a scripted completion as SSE deltas that join back to the same calls", async () => {
    llm = await startFakeLlm({
      script: [
        reply.toolCalls([{ name: "get_history", arguments: { limit: 5 } }], {
          content: "Looking.",
          reasoning: "Check history.",
        }),
      ],
    });
    const sdk = new OpenAI({ baseURL: llm.url, apiKey: "none", maxRetries: 0 });
    const stream = await sdk.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "go" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let args = "";
    let name = "";
    let usage: unknown;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      content += delta?.content ?? "";
      name ||= delta?.tool_calls?.[0]?.function?.name ?? "";
      args += delta?.tool_calls?.[0]?.function?.arguments ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    expect({ content, name, args: JSON.parse(args) }).toEqual({
      content: "Looking.",
      name: "get_history",
      args: { limit: 5 },
    });
    expect(usage).toMatchObject({ prompt_tokens: 100 });
  });
});

describe("endpointFromEnv", () => {
  it("reads LLM_BASE_URL, LLM_MODEL and an optional LLM_API_KEY", () => {
    expect(endpointFromEnv({ LLM_BASE_URL: "http://h:8000/v1", LLM_MODEL: "q" })).toEqual({
      baseURL: "http://h:8000/v1",
      model: "q",
    });
    expect(endpointFromEnv({ LLM_BASE_URL: "http://h/v1", LLM_MODEL: "q", LLM_API_KEY: "k" }).apiKey).toBe(
      "k",
    );
    expect(() => endpointFromEnv({ LLM_MODEL: "q" })).toThrow(/LLM_BASE_URL/);
  });
});
