import OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from "openai/resources/chat/completions";
import { log } from "../log/logger.ts";
import { maskSecrets } from "../log/secrets.ts";
import { LlmAbortedError, LlmRequestError, LlmUnreachableError } from "./errors.ts";
import { isPlainObject } from "./parse-json.ts";
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  type RetryPolicy,
  retryAfterMs,
} from "./retry-policy.ts";
import { joinChunks } from "./stream-join.ts";

/**
 * The model server connection: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio).
 * The SDK's own retries are off (`maxRetries: 0`): with its defaults (2 retries × 10 min) a hung server
 * could hold an iteration for half an hour. This client owns the timeout (covering the whole call,
 * body included), the retry budget, and the usage accounting.
 */

export interface LlmEndpoint {
  baseURL: string;
  model: string;
  apiKey?: string;
}

export const DEFAULT_TIMEOUT_MS = 300_000;

/** `LLM_BASE_URL`, `LLM_MODEL`, optional `LLM_API_KEY` (local servers usually need none). */
export function endpointFromEnv(env: NodeJS.ProcessEnv = process.env): LlmEndpoint {
  const baseURL = env["LLM_BASE_URL"]?.trim();
  const model = env["LLM_MODEL"]?.trim();
  const missing = [!baseURL && "LLM_BASE_URL", !model && "LLM_MODEL"].filter(Boolean);
  if (missing.length > 0 || !baseURL || !model) {
    throw new Error(
      `${missing.join(" and ")} not set: point them at an OpenAI-compatible server, e.g. LLM_BASE_URL=http://127.0.0.1:8000/v1 LLM_MODEL=Qwen/Qwen3-32B`,
    );
  }
  const apiKey = env["LLM_API_KEY"]?.trim();
  return apiKey ? { baseURL, model, apiKey } : { baseURL, model };
}

export interface LlmClientOptions extends LlmEndpoint {
  /** Per-attempt limit for the whole call, response body included. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Jitter source (tests pin it). */
  random?: () => number;
  /**
   * Ask for an SSE stream and join it client-side (default false). Some proxies only stream; the
   * joined reply is parsed exactly like a non-streamed one.
   */
  stream?: boolean;
}

/** Token counts for one call. `cachedTokens` is null when the server does not report prefix-cache hits. */
export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number | null;
}

export interface LlmCallResult {
  completion: ChatCompletion;
  usage: LlmUsage;
  /** Wall time of the successful attempt. */
  latencyMs: number;
  /** Wall time of the whole call, retries and waits included. */
  elapsedMs: number;
  attempts: number;
}

export interface LlmTotals {
  calls: number;
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  latencyMs: number;
}

/** The request body minus `model` (the client's endpoint supplies it unless the request overrides). */
export type ChatRequest = Omit<ChatCompletionCreateParamsNonStreaming, "model"> & { model?: string };

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  stream?: boolean;
}

type Failure =
  | { kind: "retry"; label: string; waitMs?: number; timeout?: boolean; cause: unknown }
  | { kind: "fatal"; error: Error };

function numberOr(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

/** Usage as servers report it; llama.cpp puts prefix-cache hits in `timings.cache_n` instead. */
export function usageOf(completion: unknown): LlmUsage {
  const c = isPlainObject(completion) ? completion : {};
  const usage = isPlainObject(c["usage"]) ? c["usage"] : {};
  const details = isPlainObject(usage["prompt_tokens_details"]) ? usage["prompt_tokens_details"] : {};
  const timings = isPlainObject(c["timings"]) ? c["timings"] : {};
  const promptTokens = numberOr(usage["prompt_tokens"], 0);
  const completionTokens = numberOr(usage["completion_tokens"], 0);
  const cached = details["cached_tokens"] ?? timings["cache_n"];
  return {
    promptTokens,
    completionTokens,
    totalTokens: numberOr(usage["total_tokens"], promptTokens + completionTokens),
    cachedTokens: typeof cached === "number" && Number.isFinite(cached) ? cached : null,
  };
}

/** Resolves after `ms`, or rejects with LlmAbortedError as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LlmAbortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LlmAbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class LlmClient {
  readonly baseURL: string;
  readonly model: string;
  readonly timeoutMs: number;
  readonly policy: RetryPolicy;
  readonly stream: boolean;
  // Private fields: the SDK instance holds the API key, and `#` fields never show in logs or inspect().
  readonly #sdk: OpenAI;
  readonly #secrets: string[];
  readonly #random: () => number;
  readonly #totals: LlmTotals = {
    calls: 0,
    attempts: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    latencyMs: 0,
  };

  constructor(options: LlmClientOptions) {
    this.baseURL = options.baseURL.replace(/\/+$/, "");
    this.model = options.model;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.stream = options.stream ?? false;
    this.#random = options.random ?? Math.random;
    this.#secrets = options.apiKey ? [options.apiKey] : [];
    this.#sdk = new OpenAI({
      baseURL: this.baseURL,
      // The SDK insists on a key and would otherwise fall back to OPENAI_API_KEY, which must not be
      // sent to an arbitrary local server.
      apiKey: options.apiKey ?? "none",
      maxRetries: 0,
      // A backstop only: the client's own timer (below) also covers reading the body.
      timeout: this.timeoutMs + 1_000,
    });
  }

  /** Running totals over every successful call of this client. */
  get totals(): Readonly<LlmTotals> {
    return { ...this.#totals };
  }

  /** One chat completion, retried per the policy. */
  async complete(request: ChatRequest, options: CallOptions = {}): Promise<LlmCallResult> {
    const model = request.model ?? this.model;
    const streamed = options.stream ?? this.stream;
    const result = await this.#withRetries<unknown>(
      options,
      streamed
        ? async (signal) => {
            const stream = await this.#sdk.chat.completions.create(
              { ...request, model, stream: true, stream_options: { include_usage: true } },
              { signal, maxRetries: 0 },
            );
            const chunks: unknown[] = [];
            for await (const chunk of stream) chunks.push(chunk);
            return joinChunks(chunks);
          }
        : (signal) =>
            this.#sdk.chat.completions.create(
              { ...request, model, stream: false },
              { signal, maxRetries: 0 },
            ),
      // Some servers answer 200 with an error object or an empty body when they are overloaded.
      (c) => isPlainObject(c) && Array.isArray(c["choices"]) && c["choices"].length > 0,
    );
    // Validated above: an object with at least one choice, as the SDK types it.
    const completion = result.value as ChatCompletion;
    const usage = usageOf(completion);
    this.#totals.calls++;
    this.#totals.promptTokens += usage.promptTokens;
    this.#totals.completionTokens += usage.completionTokens;
    this.#totals.cachedTokens += usage.cachedTokens ?? 0;
    this.#totals.latencyMs += result.latencyMs;
    return {
      completion,
      usage,
      latencyMs: result.latencyMs,
      elapsedMs: result.elapsedMs,
      attempts: result.attempts,
    };
  }

  /** Model ids the server offers (`GET /models`), with the same retry policy. */
  async listModels(options: CallOptions = {}): Promise<string[]> {
    const result = await this.#withRetries(
      options,
      async (signal) => (await this.#sdk.models.list({ signal, maxRetries: 0 })).data.map((m) => m.id),
      Array.isArray,
    );
    return result.value;
  }

  #mask(text: string): string {
    return maskSecrets(text, this.#secrets);
  }

  #classify(err: unknown, timedOut: boolean): Failure {
    if (timedOut) return { kind: "retry", label: "timeout", timeout: true, cause: err };
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return { kind: "retry", label: "timeout", timeout: true, cause: err };
    }
    if (err instanceof OpenAI.APIConnectionError)
      return { kind: "retry", label: "connection error", cause: err };
    if (err instanceof OpenAI.APIError && typeof err.status === "number") {
      if (isRetryableStatus(err.status)) {
        const wait = retryAfterMs(err.headers, Date.now());
        return {
          kind: "retry",
          label: `HTTP ${err.status}`,
          cause: err,
          ...(wait === undefined ? {} : { waitMs: Math.min(wait, this.policy.maxRetryAfterMs) }),
        };
      }
      return {
        kind: "fatal",
        error: new LlmRequestError(err.status, this.#mask(err.message), { cause: err }),
      };
    }
    // A 200 whose body is not JSON (a proxy's HTML page, a server crashing mid-write).
    if (err instanceof SyntaxError) return { kind: "retry", label: "malformed response", cause: err };
    return { kind: "retry", label: `connection error (${this.#mask(String(err))})`, cause: err };
  }

  async #withRetries<T>(
    options: CallOptions,
    attempt: (signal: AbortSignal) => Promise<T>,
    valid: (value: T) => boolean,
  ): Promise<{ value: T; attempts: number; latencyMs: number; elapsedMs: number }> {
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const outer = options.signal;
    let timeouts = 0;
    for (let n = 1; ; n++) {
      if (outer?.aborted) throw new LlmAbortedError();
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onAbort = () => controller.abort();
      outer?.addEventListener("abort", onAbort, { once: true });
      const t0 = performance.now();
      let failure: Failure;
      try {
        const value = await attempt(controller.signal);
        this.#totals.attempts++;
        if (!valid(value)) {
          failure = { kind: "retry", label: "malformed response", cause: value };
        } else {
          const latencyMs = performance.now() - t0;
          return { value, attempts: n, latencyMs, elapsedMs: performance.now() - started };
        }
      } catch (err) {
        this.#totals.attempts++;
        if (outer?.aborted) throw new LlmAbortedError();
        failure = this.#classify(err, timedOut);
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener("abort", onAbort);
      }
      if (failure.kind === "fatal") throw failure.error;
      if (failure.timeout) timeouts++;
      if (n >= this.policy.maxAttempts || timeouts >= this.policy.maxTimeouts) {
        log().error(
          { baseURL: this.baseURL, model: this.model, attempts: n, failure: failure.label },
          "LLM endpoint unreachable",
        );
        throw new LlmUnreachableError(this.baseURL, n, failure.label, { cause: failure.cause });
      }
      const waitMs = failure.waitMs ?? backoffMs(this.policy, n, this.#random);
      log().warn(
        { baseURL: this.baseURL, model: this.model, attempt: n, failure: failure.label, waitMs },
        "LLM call failed; retrying",
      );
      await sleep(waitMs, outer);
    }
  }
}
