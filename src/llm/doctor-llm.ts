import { LlmClient, type LlmEndpoint } from "./client.ts";
import { LlmAbortedError, LlmRequestError, LlmUnreachableError } from "./errors.ts";
import { scanMarkup } from "./markup.ts";
import { parseAssistantMessage } from "./parse.ts";
import { splitThink } from "./think.ts";
import { TOOL_DEFINITIONS, toolSetOf } from "./tools-schema.ts";

/**
 * `alphaloop doctor`'s model check: is the endpoint up, does it serve the configured model, and in
 * which shape do tool calls come back? A real round trip with one tool shows whether the server's
 * tool parser is on (native `tool_calls`) or the calls arrive as Hermes JSON or Qwen3-Coder XML text,
 * and names the server flag that fixes it.
 */

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** One line of the doctor's report. `detail` and `advice` never hold secrets. */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** What was checked: a URL, a folder, a host. */
  target: string;
  detail: string;
  advice?: string;
  /** For the LLM check: where the tool call was found. */
  format?: ToolCallFormat;
  ms: number;
}

export type ToolCallFormat = "native" | "hermes" | "xml" | "json_text" | "reasoning" | "none";

export const FORMAT_ADVICE: Record<Exclude<ToolCallFormat, "native">, string> = {
  hermes:
    "tool calls arrive as Hermes text in content: start vLLM with --enable-auto-tool-choice --tool-call-parser hermes (llama.cpp: --jinja; Ollama: a model whose template declares tools)",
  xml: "tool calls arrive as Qwen3-Coder XML in content: start vLLM with --enable-auto-tool-choice --tool-call-parser qwen3_coder (llama.cpp: --jinja on a recent build)",
  json_text:
    "tool calls arrive as JSON text in content (no tool template applied): start vLLM with --enable-auto-tool-choice --tool-call-parser hermes, llama.cpp with --jinja",
  reasoning:
    "the tool call arrives inside the reasoning (before </think>): the harness reads it there, but a reasoning parser that keeps calls out of reasoning is safer: vLLM --reasoning-parser qwen3 with --tool-call-parser, llama.cpp --reasoning-format deepseek",
  none: "the model answered without a tool call: check the server's tool support (vLLM: --enable-auto-tool-choice --tool-call-parser hermes or qwen3_coder; llama.cpp: --jinja) and that the model is tool-capable",
};

const PROBE_TOOLS = TOOL_DEFINITIONS.filter((d) => d.function.name === "read_file");

function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && cur && typeof cur === "object"; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const nested = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length > 0) {
      const inner = errorCode(nested[0]);
      if (inner) return inner;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** One line a person can act on, for any failure of the client. */
export function describeLlmFailure(err: unknown): string {
  const code = errorCode(err);
  if (code === "ECONNREFUSED") return "connection refused — is vLLM running?";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found — check LLM_BASE_URL";
  if (code === "ECONNRESET") return "connection reset by the server";
  if (err instanceof LlmUnreachableError) {
    if (err.lastFailure === "timeout") return "no answer before the timeout — is the model still loading?";
    return `unreachable (${err.lastFailure})`;
  }
  if (err instanceof LlmRequestError) {
    if (err.status === 401 || err.status === 403)
      return `HTTP ${err.status}: the server refused the key — check LLM_API_KEY`;
    if (err.status === 404) return "HTTP 404: no OpenAI API here — LLM_BASE_URL usually ends in /v1";
    if (err.status === 400 && /tool/i.test(err.message)) {
      return `HTTP 400 on a request with tools: start vLLM with --enable-auto-tool-choice --tool-call-parser hermes (or qwen3_coder)`;
    }
    return err.message;
  }
  if (err instanceof LlmAbortedError) return "timed out";
  return (err as Error).message ?? String(err);
}

/** Where the call in a probe reply came from, and in what markup. */
export function toolCallFormatOf(completion: unknown): ToolCallFormat {
  const parsed = parseAssistantMessage(completion, { tools: toolSetOf(PROBE_TOOLS) });
  if (parsed.calls.length === 0 && parsed.unknownCalls.length === 0) return "none";
  if (parsed.source === "native") return "native";
  if (parsed.source === "reasoning") return "reasoning";
  const message = (completion as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message;
  const content = typeof message?.content === "string" ? message.content : "";
  const visible = splitThink(content)
    .visible.map((s) => content.slice(s.start, s.end))
    .join("\n");
  // Known tool names only matter for classifying the markup, not for validity here.
  const scan = scanMarkup(visible, toolSetOf(TOOL_DEFINITIONS));
  const format = scan.calls[0]?.format;
  if (format === "xml") return "xml";
  if (format === "hermes") return "hermes";
  return "json_text";
}

export interface LlmCheckOptions {
  timeoutMs: number;
}

export async function checkLlm(endpoint: LlmEndpoint, options: LlmCheckOptions): Promise<CheckResult> {
  const started = performance.now();
  const target = endpoint.baseURL;
  const done = (r: Omit<CheckResult, "name" | "target" | "ms">): CheckResult => ({
    name: "llm",
    target,
    ...r,
    ms: Math.round(performance.now() - started),
  });
  // One attempt: the doctor reports what is wrong now instead of waiting out the run's retry budget.
  const client = new LlmClient({
    ...endpoint,
    timeoutMs: options.timeoutMs,
    retry: { maxAttempts: 1, maxTimeouts: 1 },
  });
  let models: string[];
  try {
    models = await client.listModels();
  } catch (err) {
    return done({ status: "fail", detail: describeLlmFailure(err) });
  }
  if (!models.includes(endpoint.model)) {
    const offered = models.length === 0 ? "none" : models.slice(0, 8).join(", ");
    return done({
      status: "fail",
      detail: `model "${endpoint.model}" is not served here (the server offers: ${offered}) — set LLM_MODEL to one of them`,
    });
  }
  let completion: unknown;
  const t0 = performance.now();
  try {
    const r = await client.complete({
      messages: [
        {
          role: "system",
          content: "You are checking that tool calling works. Answer with a tool call only.",
        },
        { role: "user", content: "Call read_file with path strategies/README.md." },
      ],
      tools: [...PROBE_TOOLS],
      max_tokens: 1024,
      temperature: 0,
    });
    completion = r.completion;
  } catch (err) {
    return done({
      status: "fail",
      detail: `${endpoint.model}: tool-call request failed: ${describeLlmFailure(err)}`,
    });
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const format = toolCallFormatOf(completion);
  const finish = (completion as { choices?: { finish_reason?: unknown }[] }).choices?.[0]?.finish_reason;
  if (format === "native") {
    return done({
      status: "ok",
      format,
      detail: `${endpoint.model}: native tool calls (round trip ${seconds} s)`,
    });
  }
  if (format === "none") {
    const cut =
      finish === "length" ? " (the reply hit max_tokens: a thinking model may need a larger budget)" : "";
    return done({
      status: "fail",
      format,
      detail: `${endpoint.model}: no tool call in the reply${cut}`,
      advice: FORMAT_ADVICE.none,
    });
  }
  return done({
    status: "warn",
    format,
    detail: `${endpoint.model}: ${FORMAT_ADVICE[format]} (the harness parses it; round trip ${seconds} s)`,
    advice: FORMAT_ADVICE[format],
  });
}
