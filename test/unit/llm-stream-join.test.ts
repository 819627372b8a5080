import { describe, expect, it } from "vitest";
import { parseAssistantMessage } from "../../src/llm/parse.ts";
import { joinChunks } from "../../src/llm/stream-join.ts";

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "m",
  choices: [{ index: 0, delta, finish_reason: finish }],
});

describe("joinChunks", () => {
  it("merges tool-call deltas by index, keeps reasoning apart, and takes usage from the last chunk", () => {
    const joined = joinChunks([
      chunk({ role: "assistant", content: "" }),
      chunk({ reasoning: "Check " }),
      chunk({ reasoning: "notes." }),
      chunk({
        tool_calls: [
          { index: 0, id: "call_a", type: "function", function: { name: "read_notes", arguments: "" } },
        ],
      }),
      chunk({
        tool_calls: [
          { index: 1, id: "call_b", type: "function", function: { name: "decide", arguments: "" } },
        ],
      }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '{"decision": "fix", ' } }] }),
      // A streaming parser that drops the final brace (vLLM issue 32152): the tool-call parser repairs it.
      chunk({
        tool_calls: [{ index: 1, function: { arguments: '"rationale": "r", "next_hypothesis": "h"' } }],
      }),
      chunk({}, "tool_calls"),
      {
        id: "chatcmpl-1",
        object: "chat.completion.chunk",
        created: 1,
        model: "m",
        choices: [],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
      },
    ]);
    expect(joined).toMatchObject({
      object: "chat.completion",
      choices: [{ message: { content: null, reasoning: "Check notes." }, finish_reason: "tool_calls" }],
      usage: { total_tokens: 12 },
    });
    const parsed = parseAssistantMessage(joined);
    expect(parsed.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "decide", arguments: { decision: "fix", rationale: "r", next_hypothesis: "h" } },
    ]);
    expect(parsed.outcome).toBe("repaired");
  });

  it("joins plain content and returns no choices for an empty stream", () => {
    const joined = joinChunks([chunk({ content: "Hel" }), chunk({ content: "lo" }, "stop")]);
    expect(parseAssistantMessage(joined)).toMatchObject({ text: "Hello", outcome: "no_tool_call" });
    expect(joinChunks([])).toEqual({ choices: [] });
  });
});
