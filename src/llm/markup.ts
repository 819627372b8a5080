import { jsonTail, readJsonCalls } from "./parse-json.ts";
import { FUNCTION_OPEN, readXmlFunction } from "./parse-xml.ts";
import type { Span } from "./think.ts";
import type { ToolSet } from "./tools-schema.ts";

/**
 * Finds tool-call markup in a piece of text (content outside reasoning, or one reasoning source):
 * Hermes `<tool_call>{json}</tool_call>`, Qwen3-Coder XML inside `<tool_call>` or bare with an orphan
 * `</tool_call>`, fenced ```json blocks, and a bare call object that runs to the end of the text.
 * Scans left to right so calls come out in order of appearance.
 */

export type CallFormat = "native" | "hermes" | "xml" | "fenced" | "bare";

export interface FoundCall {
  name: string;
  arguments: Record<string, unknown>;
  repaired: boolean;
  format: CallFormat;
}

export type ProblemKind = "repaired" | "unknown_tool" | "incomplete_call" | "invalid_call" | "truncated";

export interface ParseProblem {
  kind: ProblemKind;
  message: string;
}

export interface MarkupScan {
  calls: FoundCall[];
  /** Spans of markup (calls, cut-off or invalid calls) to hide from the visible text. */
  spans: Span[];
  problems: ParseProblem[];
}

const TOOL_OPEN = "<tool_call>";
const TOOL_CLOSE = "</tool_call>";
const JSON_FENCE_LANGS = new Set(["", "json", "jsonc", "json5"]);
const CANDIDATE = /<tool_call>|<function=|^[ \t]*```|^[ \t]*\{/gm;
const MENTIONS_NAME = /["']name["']\s*:/;

function skipSpace(text: string, i: number): number {
  let j = i;
  while (j < text.length && /\s/.test(text[j] as string)) j++;
  return j;
}

interface Match {
  end: number;
  calls: FoundCall[];
  problems: ParseProblem[];
}

/** A loose JSON form only counts as a call when it names an argument list, or names a real tool. */
function looseOptions(tools: ToolSet) {
  return { requireArguments: (name: string) => !Object.hasOwn(tools, name) };
}

function incomplete(message: string, end: number): Match {
  return { end, calls: [], problems: [{ kind: "incomplete_call", message }] };
}

/** One or more `<function=...>` blocks inside a `<tool_call>` (or bare); `i` is at the first. */
function readXmlCalls(text: string, i: number, tools: ToolSet): { calls: FoundCall[]; end: number } | Match {
  const calls: FoundCall[] = [];
  let pos = i;
  for (;;) {
    const read = readXmlFunction(text, pos, tools);
    if (read.kind === "incomplete") return incomplete(`XML call ${read.message}`, text.length);
    calls.push({ name: read.name, arguments: read.arguments, repaired: false, format: "xml" });
    const next = skipSpace(text, read.end);
    if (!text.startsWith(FUNCTION_OPEN, next)) return { calls, end: read.end };
    pos = next;
  }
}

/** The next `<tool_call>` that is not text inside a JSON string of the body starting at `from`. */
function nextOpenerOutsideStrings(text: string, from: number): number {
  for (let o = text.indexOf(TOOL_OPEN, from); o !== -1; o = text.indexOf(TOOL_OPEN, o + 1)) {
    if (!jsonTail(text.slice(from, o)).inString) return o;
  }
  return -1;
}

/**
 * A `<tool_call>` block. Its end is the `</tool_call>` after the body; a closer the model forgot is
 * tolerated when the next `<tool_call>` (or, after XML, more text) shows the call was finished. A
 * block that simply stops — at the end of the text, or inside a string — is cut off: never a call.
 */
function matchToolCall(text: string, start: number, tools: ToolSet): Match {
  const bodyStart = start + TOOL_OPEN.length;
  const first = skipSpace(text, bodyStart);
  if (text.startsWith(FUNCTION_OPEN, first)) {
    const xml = readXmlCalls(text, first, tools);
    if ("problems" in xml) return xml;
    const close = text.indexOf(TOOL_CLOSE, xml.end);
    const nextOpen = text.indexOf(TOOL_OPEN, xml.end);
    if (close !== -1 && (nextOpen === -1 || close < nextOpen)) {
      return { end: close + TOOL_CLOSE.length, calls: xml.calls, problems: [] };
    }
    if (skipSpace(text, xml.end) === text.length) {
      return incomplete("<tool_call> is never closed (cut off)", text.length);
    }
    return { end: xml.end, calls: xml.calls, problems: [] };
  }
  const nextOpen = nextOpenerOutsideStrings(text, bodyStart);
  let firstFailure: Match | undefined;
  for (
    let close = text.indexOf(TOOL_CLOSE, bodyStart);
    close !== -1 && (nextOpen === -1 || close < nextOpen);
    close = text.indexOf(TOOL_CLOSE, close + 1)
  ) {
    const read = readJsonCalls(text.slice(bodyStart, close));
    const end = close + TOOL_CLOSE.length;
    if (read.ok) {
      return { end, calls: read.calls.map((c) => ({ ...c, format: "hermes" as const })), problems: [] };
    }
    firstFailure ??= {
      end,
      calls: [],
      problems: [
        {
          kind: read.reason === "cut_in_string" ? "incomplete_call" : "invalid_call",
          message: `<tool_call> body is not a usable call: ${read.message}`,
        },
      ],
    };
    if (read.reason !== "cut_in_string") break;
  }
  if (firstFailure && (nextOpen === -1 || firstFailure.end <= nextOpen)) return firstFailure;
  if (nextOpen !== -1) {
    // No closer before the next call: this one is complete if its JSON is.
    const read = readJsonCalls(text.slice(bodyStart, nextOpen));
    if (read.ok) {
      return {
        end: nextOpen,
        calls: read.calls.map((c) => ({ ...c, format: "hermes" as const })),
        problems: [],
      };
    }
    return incomplete(`<tool_call> is never closed: ${read.message}`, nextOpen);
  }
  return firstFailure ?? incomplete("<tool_call> is never closed (cut off)", text.length);
}

function matchBareFunction(text: string, start: number, tools: ToolSet): Match {
  const xml = readXmlCalls(text, start, tools);
  if ("problems" in xml) return xml;
  const after = skipSpace(text, xml.end);
  const end = text.startsWith(TOOL_CLOSE, after) ? after + TOOL_CLOSE.length : xml.end;
  return { end, calls: xml.calls, problems: [] };
}

const FENCE_OPEN = /[ \t]*```[ \t]*([\w+-]*)[ \t]*\r?\n/y;
const FENCE_CLOSE = /^[ \t]*```[ \t]*$/m;

function matchFence(text: string, lineStart: number, tools: ToolSet): Match | null {
  FENCE_OPEN.lastIndex = lineStart;
  const open = FENCE_OPEN.exec(text);
  if (!open || !JSON_FENCE_LANGS.has((open[1] ?? "").toLowerCase())) return null;
  const bodyStart = lineStart + open[0].length;
  const rest = text.slice(bodyStart);
  const close = FENCE_CLOSE.exec(rest);
  // An unclosed fence is not a call (only calls are hidden), so a cut-off one stays visible.
  if (!close) return null;
  const read = readJsonCalls(rest.slice(0, close.index), looseOptions(tools));
  if (!read.ok) return null;
  return {
    end: bodyStart + close.index + close[0].length,
    calls: read.calls.map((c) => ({ ...c, format: "fenced" as const })),
    problems: [],
  };
}

function matchBareJson(text: string, braceAt: number, tools: ToolSet): Match | null {
  let body = text.slice(braceAt).trimEnd();
  // Hermes output with the opener lost, like the bare XML form.
  if (body.endsWith(TOOL_CLOSE)) body = body.slice(0, -TOOL_CLOSE.length).trimEnd();
  if (!body.endsWith("}") || !MENTIONS_NAME.test(body)) return null;
  const read = readJsonCalls(body, looseOptions(tools));
  if (!read.ok) return null;
  return {
    end: text.length,
    calls: read.calls.map((c) => ({ ...c, format: "bare" as const })),
    problems: [],
  };
}

/**
 * `tagsOnly` finds only `<tool_call>` / `<function=` markup: used beside native calls, where content is
 * not a source of calls but leftover tags still should not reach the reader.
 */
export function scanMarkup(text: string, tools: ToolSet, tagsOnly = false): MarkupScan {
  const out: MarkupScan = { calls: [], spans: [], problems: [] };
  const re = new RegExp(CANDIDATE.source, CANDIDATE.flags);
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) break;
    const at = m.index;
    const token = m[0];
    let match: Match | null = null;
    if (token === TOOL_OPEN) match = matchToolCall(text, at, tools);
    else if (token === FUNCTION_OPEN) match = matchBareFunction(text, at, tools);
    else if (!tagsOnly && token.endsWith("```")) match = matchFence(text, at, tools);
    else if (!tagsOnly && token.endsWith("{")) match = matchBareJson(text, at + token.length - 1, tools);
    if (match === null) {
      pos = at + token.length;
      continue;
    }
    out.spans.push({ start: at, end: match.end });
    out.calls.push(...match.calls);
    out.problems.push(...match.problems);
    pos = Math.max(match.end, at + 1);
  }
  return out;
}
