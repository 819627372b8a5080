import { isPlainObject } from "./parse-json.ts";

/**
 * Joins the `chat.completion.chunk` events of a streamed reply into the `chat.completion` the server
 * would have sent without streaming, so one parser reads both. Reasoning deltas (`reasoning_content`,
 * `reasoning`) are kept; tool-call deltas are merged by `index`, arguments concatenated as they came
 * (a streaming-parser bug that drops the final `}` is left for the tool-call parser to repair).
 */

interface CallAcc {
  id?: string;
  name: string;
  arguments: string;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

export function joinChunks(chunks: readonly unknown[]): Record<string, unknown> {
  let head: Record<string, unknown> | undefined;
  let content = "";
  let sawContent = false;
  const reasoning: Record<string, string> = {};
  const calls = new Map<number, CallAcc>();
  let finishReason: unknown = null;
  let usage: unknown;
  for (const chunk of chunks) {
    if (!isPlainObject(chunk)) continue;
    head ??= chunk;
    if (isPlainObject(chunk["usage"])) usage = chunk["usage"];
    const choices = Array.isArray(chunk["choices"]) ? chunk["choices"] : [];
    for (const choice of choices) {
      if (!isPlainObject(choice) || (choice["index"] ?? 0) !== 0) continue;
      if (choice["finish_reason"] != null) finishReason = choice["finish_reason"];
      const delta = isPlainObject(choice["delta"]) ? choice["delta"] : {};
      if (typeof delta["content"] === "string") {
        content += delta["content"];
        sawContent ||= delta["content"] !== "";
      }
      for (const key of ["reasoning_content", "reasoning"]) {
        if (typeof delta[key] === "string") reasoning[key] = (reasoning[key] ?? "") + delta[key];
      }
      const toolCalls = Array.isArray(delta["tool_calls"]) ? delta["tool_calls"] : [];
      toolCalls.forEach((tc, position) => {
        if (!isPlainObject(tc)) return;
        const index = typeof tc["index"] === "number" ? tc["index"] : position;
        const acc = calls.get(index) ?? { name: "", arguments: "" };
        const fn = isPlainObject(tc["function"]) ? tc["function"] : {};
        if (typeof tc["id"] === "string" && !acc.id) acc.id = tc["id"];
        // The name arrives once, in the call's first delta; later deltas carry only arguments.
        if (!acc.name) acc.name = str(fn["name"]);
        acc.arguments += str(fn["arguments"]);
        calls.set(index, acc);
      });
    }
  }
  if (!head) return { choices: [] };
  const toolCalls = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, c]) => ({
      ...(c.id ? { id: c.id } : {}),
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
  const message: Record<string, unknown> = {
    role: "assistant",
    // As vLLM does without streaming: null when nothing but calls was generated.
    content: sawContent || toolCalls.length === 0 ? content : null,
    ...reasoning,
  };
  if (toolCalls.length > 0) message["tool_calls"] = toolCalls;
  return {
    id: head["id"],
    object: "chat.completion",
    created: head["created"],
    model: head["model"],
    choices: [{ index: 0, message, finish_reason: finishReason ?? "stop" }],
    ...(usage ? { usage } : {}),
  };
}
