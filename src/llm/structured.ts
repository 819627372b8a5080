import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { z } from "zod";
import { type Decision, DecisionSchema, validateToolCall } from "./agent-tools.ts";
import type { ChatRequest } from "./client.ts";
import { parseAssistantMessage } from "./parse.ts";
import { readJson } from "./parse-json.ts";
import { splitThink } from "./think.ts";

/**
 * Structured output for the decision (`LLM_STRUCTURED`): when the model ends its tool loop without a
 * valid `decide` call, one last request asks for the decision as JSON constrained by the server's
 * grammar — OpenAI `response_format: json_schema` (vLLM, llama.cpp, LM Studio, Ollama ≥ 0.5 accept it),
 * or vLLM's own `structured_outputs` / older `guided_json` extra body. `off` (the default) keeps to
 * corrective messages only, for servers that support neither.
 */

export type StructuredMode = "json_schema" | "vllm" | "off";
const MODES: readonly StructuredMode[] = ["json_schema", "vllm", "off"];

export function structuredModeFromEnv(env: NodeJS.ProcessEnv = process.env): StructuredMode {
  const raw = env["LLM_STRUCTURED"]?.trim().toLowerCase();
  if (!raw) return "off";
  if ((MODES as readonly string[]).includes(raw)) return raw as StructuredMode;
  throw new Error(`LLM_STRUCTURED=${raw} is not one of ${MODES.join(", ")}`);
}

/** The JSON Schema of a decision, generated from the same zod schema that validates it. */
export function decisionJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DecisionSchema, { io: "input" }) as Record<string, unknown>;
}

export const STRUCTURED_DECIDE_INSTRUCTION =
  'Give your decision for this iteration now, as one JSON object and nothing else: {"decision": "abandon" | "fix" | "tune" | "new_approach", "rationale": "why, citing the metrics or errors", "next_hypothesis": "what the next iteration will try"}.';

export interface StructuredRequestOptions {
  maxTokens: number;
  temperature?: number;
}

/** The final decide request (no tools: the answer is the JSON itself). */
export function structuredDecideRequest(
  mode: Exclude<StructuredMode, "off">,
  messages: readonly ChatCompletionMessageParam[],
  options: StructuredRequestOptions,
): ChatRequest {
  const schema = decisionJsonSchema();
  const base: ChatRequest = {
    messages: [...messages, { role: "user", content: STRUCTURED_DECIDE_INSTRUCTION }],
    max_tokens: options.maxTokens,
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
  };
  if (mode === "json_schema") {
    return {
      ...base,
      response_format: { type: "json_schema", json_schema: { name: "decision", schema, strict: true } },
    };
  }
  // vLLM reads `structured_outputs` (≥ 0.10.2) and, before that, `guided_json`; each ignores the other.
  const extra = { structured_outputs: { json: schema }, guided_json: schema };
  return { ...base, ...extra } as ChatRequest;
}

export type StructuredRead = { ok: true; decision: Decision } | { ok: false; message: string };

/** The decision in a structured reply: the JSON in content (reasoning and fences ignored), or a decide call. */
export function readStructuredDecision(completion: unknown): StructuredRead {
  const parsed = parseAssistantMessage(completion);
  const call = parsed.calls.find((c) => c.name === "decide");
  if (call) {
    const v = validateToolCall(call);
    return v.ok && v.call.name === "decide"
      ? { ok: true, decision: v.call.args }
      : { ok: false, message: v.ok ? "" : v.message };
  }
  const message = (completion as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message;
  const content = typeof message?.content === "string" ? message.content : "";
  const visible = splitThink(content)
    .visible.map((s) => content.slice(s.start, s.end))
    .join("\n");
  const start = visible.indexOf("{");
  const end = visible.lastIndexOf("}");
  if (start < 0 || end < start) return { ok: false, message: "the structured reply holds no JSON object" };
  const json = readJson(visible.slice(start, end + 1));
  if (!json.ok) return { ok: false, message: `the structured reply is not JSON: ${json.message}` };
  const result = DecisionSchema.safeParse(json.value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(object)"}: ${i.message}`);
    return { ok: false, message: `the structured decision is invalid: ${issues.join("; ")}` };
  }
  return { ok: true, decision: result.data };
}
