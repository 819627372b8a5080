import type { ToolParamType, ToolSet } from "./tools-schema.ts";

/**
 * Qwen3-Coder / Qwen3.5 XML calls:
 *
 *   <function=NAME>
 *   <parameter=KEY>
 *   VALUE
 *   </parameter>
 *   </function>
 *
 * A value is raw text (code with `<`, `=>`, generics, `</p>`): no entity decoding, no trimming, only the
 * one newline after the opening tag and the one before the closing tag belong to the markup.
 */

export const FUNCTION_OPEN = "<function=";
const FUNCTION_CLOSE = "</function>";
const PARAM_OPEN = "<parameter=";
const PARAM_CLOSE = "</parameter>";

export type XmlRead =
  | { kind: "call"; name: string; arguments: Record<string, unknown>; end: number }
  | { kind: "incomplete"; name: string; message: string };

function skipSpace(text: string, i: number): number {
  let j = i;
  while (j < text.length && /\s/.test(text[j] as string)) j++;
  return j;
}

/**
 * The `</parameter>` that closes a value: the first one followed by another parameter or the end of
 * the function, so a value whose code mentions `</parameter>` is not cut short. Falls back to the
 * first one when none is followed by markup.
 */
function findParamClose(text: string, from: number): number {
  let first = -1;
  for (let c = text.indexOf(PARAM_CLOSE, from); c !== -1; c = text.indexOf(PARAM_CLOSE, c + 1)) {
    if (first === -1) first = c;
    const j = skipSpace(text, c + PARAM_CLOSE.length);
    if (
      j === text.length ||
      text.startsWith(PARAM_OPEN, j) ||
      text.startsWith(FUNCTION_CLOSE, j) ||
      text.startsWith("</tool_call>", j)
    ) {
      return c;
    }
  }
  return first;
}

function stripMarkupNewlines(raw: string): string {
  const start = raw.startsWith("\n") ? 1 : 0;
  const end = raw.length > start && raw.endsWith("\n") ? raw.length - 1 : raw.length;
  return raw.slice(start, end);
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** XML values are text; the tool's schema says which ones are numbers, booleans or JSON. */
export function typeXmlValue(value: string, type: ToolParamType | undefined): unknown {
  const t = value.trim();
  switch (type) {
    case "number":
    case "integer":
      return NUMBER.test(t) ? Number(t) : value;
    case "boolean":
      return t.toLowerCase() === "true" ? true : t.toLowerCase() === "false" ? false : value;
    case "object":
    case "array":
      try {
        return JSON.parse(t);
      } catch {
        return value;
      }
    default:
      return value;
  }
}

/** Reads the `<function=...>` block that starts at `start`. */
export function readXmlFunction(text: string, start: number, tools: ToolSet): XmlRead {
  const nameEnd = text.indexOf(">", start + FUNCTION_OPEN.length);
  if (nameEnd === -1)
    return { kind: "incomplete", name: "", message: "<function= cut off before its name ended" };
  const name = text.slice(start + FUNCTION_OPEN.length, nameEnd).trim();
  const schema = Object.hasOwn(tools, name) ? tools[name] : undefined;
  const args: Record<string, unknown> = {};
  let i = nameEnd + 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text.startsWith(FUNCTION_CLOSE, i)) {
      return { kind: "call", name, arguments: args, end: i + FUNCTION_CLOSE.length };
    }
    if (text.startsWith(PARAM_OPEN, i)) {
      const keyEnd = text.indexOf(">", i + PARAM_OPEN.length);
      if (keyEnd === -1) return { kind: "incomplete", name, message: `${name}: parameter tag cut off` };
      const key = text.slice(i + PARAM_OPEN.length, keyEnd).trim();
      const close = findParamClose(text, keyEnd + 1);
      if (close === -1) {
        return {
          kind: "incomplete",
          name,
          message: `${name}: parameter ${key} has no </parameter> (cut off)`,
        };
      }
      const type = schema && Object.hasOwn(schema, key) ? schema[key] : undefined;
      // defineProperty: a parameter named `__proto__` must stay an ordinary key.
      Object.defineProperty(args, key, {
        value: typeXmlValue(stripMarkupNewlines(text.slice(keyEnd + 1, close)), type),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      i = close + PARAM_CLOSE.length;
      continue;
    }
    // Stray text between parameters: tolerated as long as the function is closed.
    const close = text.indexOf(FUNCTION_CLOSE, i);
    if (close === -1)
      return { kind: "incomplete", name, message: `${name}: <function=...> has no </function>` };
    return { kind: "call", name, arguments: args, end: close + FUNCTION_CLOSE.length };
  }
}
