import { type FoundCall, type MarkupScan, type ParseProblem, scanMarkup } from "./markup.ts";
import { isPlainObject, jsonTail, readArguments } from "./parse-json.ts";
import { type Span, splitThink } from "./think.ts";
import { DEFAULT_TOOL_SET, type ToolSet } from "./tools-schema.ts";

/**
 * How the harness reads one assistant message: the tool calls in it, what a person should see of it,
 * and what went wrong. The rules (native calls first, then markup outside reasoning, then markup
 * inside it; repair; outcome; visible text) are those of test/fixtures/llm/README.md.
 */

export type { ParseProblem, ProblemKind } from "./markup.ts";

export type ParseOutcome = "ok" | "repaired" | "no_tool_call" | "truncated" | "unknown_tool";

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface ParsedMessage {
  /** Complete calls to tools in the tool set, in order. */
  calls: ToolCall[];
  /** Complete calls naming tools outside the tool set (to answer the model with an error). */
  unknownCalls: ToolCall[];
  /** The visible text: content minus reasoning and tool-call markup. */
  text: string;
  /** The reasoning, from `<think>` in content and the reasoning fields. */
  reasoning: string;
  outcome: ParseOutcome;
  problems: ParseProblem[];
  /** Where the calls came from. */
  source: "native" | "content" | "reasoning" | "none";
}

export interface ParseOptions {
  /** Tool name → parameter types. Defaults to the research agent's tools. */
  tools?: ToolSet;
  /**
   * The `max_tokens` the request sent. vLLM reports `finish_reason: "tool_calls"` even when generation
   * hit the limit mid-argument, so a completion that used the whole budget counts as truncated.
   */
  maxTokens?: number;
}

export interface MessageView {
  content: string;
  toolCalls: unknown[];
  reasoningFields: string[];
  finishReason: string | undefined;
  completionTokens: number | undefined;
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    // Content parts: only text parts carry model output.
    return content.map((p) => (isPlainObject(p) && typeof p["text"] === "string" ? p["text"] : "")).join("");
  }
  return "";
}

/** Accepts a whole chat.completion, one choice, or a bare message; null for anything else. */
export function messageViewOf(input: unknown): MessageView | null {
  if (!isPlainObject(input)) return null;
  let choice: Record<string, unknown> | undefined;
  const usage: unknown = input["usage"];
  if (Array.isArray(input["choices"])) {
    const first = input["choices"][0];
    if (!isPlainObject(first)) return null;
    choice = first;
  } else if (isPlainObject(input["message"])) {
    choice = input;
  }
  const message = choice ? choice["message"] : input;
  if (!isPlainObject(message)) return null;
  if (!choice && !("content" in message) && !("tool_calls" in message) && !("role" in message)) return null;
  const toolCalls: unknown[] = Array.isArray(message["tool_calls"]) ? [...message["tool_calls"]] : [];
  // The pre-`tools` API: one call in `function_call`.
  if (toolCalls.length === 0 && isPlainObject(message["function_call"])) {
    toolCalls.push({ function: message["function_call"] });
  }
  const reasoningFields: string[] = [];
  for (const key of ["reasoning_content", "reasoning"]) {
    const v = message[key];
    // vLLM releases from late 2025 send both fields with the same text.
    if (typeof v === "string" && v.trim() !== "" && !reasoningFields.includes(v)) reasoningFields.push(v);
  }
  const finish = choice?.["finish_reason"];
  const tokens = isPlainObject(usage) ? usage["completion_tokens"] : undefined;
  return {
    content: contentText(message["content"]),
    toolCalls: toolCalls.filter(isPlainObject),
    reasoningFields,
    finishReason: typeof finish === "string" ? finish : undefined,
    completionTokens: typeof tokens === "number" ? tokens : undefined,
  };
}

function readNativeCalls(toolCalls: unknown[], finishReason: string | undefined): MarkupScan {
  const out: MarkupScan = { calls: [], spans: [], problems: [] };
  toolCalls.forEach((tc, index) => {
    if (!isPlainObject(tc)) return;
    const fn = isPlainObject(tc["function"]) ? tc["function"] : tc;
    const name = typeof fn["name"] === "string" ? fn["name"].trim() : "";
    if (name === "") {
      out.problems.push({
        kind: "invalid_call",
        message: `native tool call ${index + 1} has no function name`,
      });
      return;
    }
    const raw = fn["arguments"];
    const args = readArguments(raw);
    if (!args.ok) {
      out.problems.push({
        kind: args.reason === "cut_in_string" ? "incomplete_call" : "invalid_call",
        message: `${name}: ${args.message}`,
      });
      return;
    }
    // At the token limit, a missing closing brace is the end of a cut, not a streaming bug.
    const cut =
      finishReason === "length" &&
      index === toolCalls.length - 1 &&
      args.repaired &&
      typeof raw === "string" &&
      jsonTail(raw).open > 0;
    if (cut) {
      out.problems.push({
        kind: "incomplete_call",
        message: `${name}: arguments cut off at the token limit`,
      });
      return;
    }
    out.calls.push({ name, arguments: args.args, repaired: args.repaired, format: "native" });
  });
  return out;
}

function shift(scan: MarkupScan, offset: number): MarkupScan {
  return { ...scan, spans: scan.spans.map((s) => ({ start: s.start + offset, end: s.end + offset })) };
}

/** Scans several pieces of one string as one source, keeping offsets in the whole string. */
function scanPieces(content: string, pieces: Span[], tools: ToolSet, tagsOnly: boolean): MarkupScan {
  const out: MarkupScan = { calls: [], spans: [], problems: [] };
  for (const p of pieces) {
    const scan = shift(scanMarkup(content.slice(p.start, p.end), tools, tagsOnly), p.start);
    out.calls.push(...scan.calls);
    out.spans.push(...scan.spans);
    out.problems.push(...scan.problems);
  }
  return out;
}

function found(scan: MarkupScan): boolean {
  return scan.spans.length > 0 || scan.calls.length > 0 || scan.problems.length > 0;
}

/** Visible pieces minus removed spans, each trimmed, empty ones dropped, joined by a blank line. */
function visibleText(content: string, visible: Span[], removed: Span[]): string {
  const sorted = [...removed].sort((a, b) => a.start - b.start);
  const pieces: string[] = [];
  for (const v of visible) {
    let pos = v.start;
    for (const r of sorted) {
      if (r.end <= pos || r.start >= v.end) continue;
      pieces.push(content.slice(pos, Math.max(pos, r.start)));
      pos = Math.max(pos, r.end);
    }
    if (pos < v.end) pieces.push(content.slice(pos, v.end));
  }
  return pieces
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .join("\n\n");
}

export function parseAssistantMessage(input: unknown, options: ParseOptions = {}): ParsedMessage {
  const tools = options.tools ?? DEFAULT_TOOL_SET;
  const view = messageViewOf(input);
  if (!view) {
    return {
      calls: [],
      unknownCalls: [],
      text: "",
      reasoning: "",
      outcome: "no_tool_call",
      problems: [{ kind: "invalid_call", message: "not a chat completion, choice or assistant message" }],
      source: "none",
    };
  }
  const { content } = view;
  const think = splitThink(content);
  const reasoningTexts = [
    ...think.reasoning.map((s) => content.slice(s.start, s.end)),
    ...view.reasoningFields,
  ]
    .map((t) => t.trim())
    .filter((t) => t !== "");

  let source: ParsedMessage["source"] = "none";
  let chosen: MarkupScan = { calls: [], spans: [], problems: [] };
  let removed: Span[];
  if (view.toolCalls.length > 0) {
    source = "native";
    chosen = readNativeCalls(view.toolCalls, view.finishReason);
    removed = scanPieces(content, think.visible, tools, true).spans;
  } else {
    const outside = scanPieces(content, think.visible, tools, false);
    removed = outside.spans;
    if (found(outside)) {
      source = "content";
      chosen = outside;
    } else {
      const sources: MarkupScan[] = [
        scanPieces(content, think.reasoning, tools, false),
        ...view.reasoningFields.map((r) => scanMarkup(r, tools)),
      ];
      const first = sources.find(found);
      if (first) {
        source = "reasoning";
        chosen = first;
      }
    }
  }

  const calls: ToolCall[] = [];
  const unknownCalls: ToolCall[] = [];
  const problems: ParseProblem[] = [...chosen.problems];
  let repaired = false;
  for (const c of chosen.calls) {
    const call = { name: c.name, arguments: c.arguments };
    if (!Object.hasOwn(tools, c.name)) {
      unknownCalls.push(call);
      problems.push({
        kind: "unknown_tool",
        message: `unknown tool "${c.name}"; available: ${Object.keys(tools).join(", ")}`,
      });
      continue;
    }
    calls.push(call);
    if (c.repaired) {
      repaired = true;
      problems.push({ kind: "repaired", message: `${c.name}: ${describe(c)} needed JSON repair` });
    }
  }

  const atLimit =
    options.maxTokens !== undefined &&
    view.completionTokens !== undefined &&
    view.completionTokens >= options.maxTokens;
  const truncated = view.finishReason === "length" || atLimit;
  if (truncated) {
    problems.push({
      kind: "truncated",
      message:
        view.finishReason === "length"
          ? 'finish_reason is "length": the reply was cut off at the token limit'
          : `completion used ${view.completionTokens} of max_tokens ${options.maxTokens}: the last call may be cut off`,
    });
  }

  const outcome: ParseOutcome = truncated
    ? "truncated"
    : unknownCalls.length > 0
      ? "unknown_tool"
      : repaired
        ? "repaired"
        : calls.length > 0
          ? "ok"
          : "no_tool_call";

  return {
    calls,
    unknownCalls,
    text: visibleText(content, think.visible, removed),
    reasoning: reasoningTexts.join("\n\n"),
    outcome,
    problems,
    source,
  };
}

function describe(c: FoundCall): string {
  return c.format === "native" ? "arguments" : `${c.format} call`;
}
