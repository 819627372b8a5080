import { jsonrepair } from "jsonrepair";

/** Result of reading JSON that a model wrote: strict first, then repaired, never completed from a cut. */
export type JsonRead =
  | { ok: true; value: unknown; repaired: boolean }
  | { ok: false; reason: "cut_in_string" | "invalid"; message: string };

/**
 * Where the text ends, read string-aware in the loose grammar models write (JSON plus Python's
 * single-quoted strings): inside a string, and how many `{`/`[` are still open.
 */
export function jsonTail(text: string): { inString: boolean; open: number } {
  let quote = "";
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "{" || c === "[") open++;
    else if (c === "}" || c === "]") open--;
  }
  return { inString: quote !== "", open };
}

/**
 * Parses model-written JSON. Repair (jsonrepair: trailing commas, single quotes, Python literals, raw
 * newlines in strings, missing closing braces) is allowed, except for text that stops inside a string:
 * that is a value cut off mid-way, and "repairing" it would invent a shorter argument.
 */
export function readJson(text: string): JsonRead {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, reason: "invalid", message: "empty JSON" };
  try {
    return { ok: true, value: JSON.parse(trimmed), repaired: false };
  } catch (strictError) {
    if (jsonTail(trimmed).inString) {
      return { ok: false, reason: "cut_in_string", message: "JSON ends inside a string (cut off)" };
    }
    try {
      return { ok: true, value: JSON.parse(jsonrepair(trimmed)), repaired: true };
    } catch {
      return { ok: false, reason: "invalid", message: `invalid JSON: ${(strictError as Error).message}` };
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Arguments as a model or server wrote them, turned into an object. */
export type ArgsRead =
  | { ok: true; args: Record<string, unknown>; repaired: boolean }
  | { ok: false; reason: "cut_in_string" | "invalid"; message: string };

/**
 * `arguments` in any of the shapes servers produce: absent / null / "" (no arguments), an object
 * (Ollama), a JSON string of an object, or a JSON string of a JSON string (double-encoded).
 */
export function readArguments(raw: unknown): ArgsRead {
  if (raw === undefined || raw === null) return { ok: true, args: {}, repaired: false };
  if (isPlainObject(raw)) return { ok: true, args: raw, repaired: false };
  if (Array.isArray(raw) && raw.length === 0) return { ok: true, args: {}, repaired: false };
  if (typeof raw !== "string") {
    return {
      ok: false,
      reason: "invalid",
      message: `arguments is a ${Array.isArray(raw) ? "list" : typeof raw}`,
    };
  }
  if (raw.trim() === "") return { ok: true, args: {}, repaired: false };
  let repaired = false;
  let value: unknown = raw;
  // Two decodes cover double encoding; a third string level would be a model writing prose.
  for (let depth = 0; depth < 2 && typeof value === "string"; depth++) {
    const read = readJson(value);
    if (!read.ok) return read;
    repaired ||= read.repaired;
    value = read.value;
  }
  if (isPlainObject(value)) return { ok: true, args: value, repaired };
  // `"null"` and `[]` are how some templates spell "no arguments".
  if (value === null || (Array.isArray(value) && value.length === 0)) return { ok: true, args: {}, repaired };
  return { ok: false, reason: "invalid", message: "arguments is not a JSON object" };
}

/** A `{"name", "arguments"}` call object found in content, before the tool set is consulted. */
export interface JsonCall {
  name: string;
  arguments: Record<string, unknown>;
  repaired: boolean;
}

export type JsonCallsRead =
  | { ok: true; calls: JsonCall[] }
  | { ok: false; reason: "cut_in_string" | "invalid" | "not_a_call"; message: string };

function callFromObject(
  obj: Record<string, unknown>,
  repaired: boolean,
): JsonCall | { error: string; cut: boolean } | null {
  // `{"type": "function", "function": {...}}`: a model copying the OpenAI wire shape into content.
  const fn = isPlainObject(obj["function"]) ? obj["function"] : obj;
  const name = fn["name"];
  if (typeof name !== "string" || name.trim() === "") return null;
  const rawArgs = "arguments" in fn ? fn["arguments"] : fn["parameters"];
  const args = readArguments(rawArgs);
  if (!args.ok) return { error: `${name}: ${args.message}`, cut: args.reason === "cut_in_string" };
  return { name: name.trim(), arguments: args.args, repaired: repaired || args.repaired };
}

/**
 * Reads a call object (or a list of them) from JSON text. `requireArguments` guards the loose forms
 * (bare or fenced JSON), where any object with a `name` key would otherwise look like a call.
 */
export function readJsonCalls(
  text: string,
  options: { requireArguments: (name: string) => boolean } = { requireArguments: () => false },
): JsonCallsRead {
  const read = readJson(text);
  if (!read.ok) return read;
  const items = Array.isArray(read.value) ? read.value : [read.value];
  if (items.length === 0) return { ok: false, reason: "not_a_call", message: "empty list" };
  const calls: JsonCall[] = [];
  for (const item of items) {
    if (!isPlainObject(item)) return { ok: false, reason: "not_a_call", message: "not an object" };
    const fn = isPlainObject(item["function"]) ? item["function"] : item;
    const name = fn["name"];
    if (typeof name === "string" && !("arguments" in fn) && !("parameters" in fn)) {
      if (options.requireArguments(name.trim())) {
        return { ok: false, reason: "not_a_call", message: "no arguments key" };
      }
    }
    const call = callFromObject(item, read.repaired);
    if (call === null) return { ok: false, reason: "not_a_call", message: "no tool name" };
    if ("error" in call) {
      return { ok: false, reason: call.cut ? "cut_in_string" : "invalid", message: call.error };
    }
    calls.push(call);
  }
  return { ok: true, calls };
}
