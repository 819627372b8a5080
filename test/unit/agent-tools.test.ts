import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TOOL_ARGUMENT_SCHEMAS, TOOL_NAMES, validateToolCall } from "../../src/llm/agent-tools.ts";
import {
  readStructuredDecision,
  structuredDecideRequest,
  structuredModeFromEnv,
} from "../../src/llm/structured.ts";
import { TOOL_DEFINITIONS } from "../../src/llm/tools-schema.ts";

const completion = (content: string | null, extra: Record<string, unknown> = {}) => ({
  id: "x",
  object: "chat.completion",
  created: 0,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content, ...extra }, finish_reason: "stop" }],
});

describe("agent tool validation", () => {
  it("validates exactly the offered tools, with the same required parameters", () => {
    expect(TOOL_NAMES).toEqual(TOOL_DEFINITIONS.map((d) => d.function.name));
    for (const d of TOOL_DEFINITIONS) {
      const schema = z.toJSONSchema(
        TOOL_ARGUMENT_SCHEMAS[d.function.name as keyof typeof TOOL_ARGUMENT_SCHEMAS],
        {
          io: "input",
        },
      ) as { properties?: Record<string, unknown>; required?: string[] };
      expect(Object.keys(schema.properties ?? {}).sort(), d.function.name).toEqual(
        Object.keys(d.function.parameters.properties).sort(),
      );
      expect([...(schema.required ?? [])].sort(), d.function.name).toEqual(
        [...d.function.parameters.required].sort(),
      );
    }
  });

  it("names the field and the expected shape", () => {
    const missing = validateToolCall({ name: "edit_file", arguments: { path: "strategies/a.ts", new: "x" } });
    expect(missing.ok).toBe(false);
    if (!missing.ok) {
      expect(missing.message).toContain("`old` is missing");
      expect(missing.message).toContain("Expected edit_file(path: string, old: string, new: string)");
    }
    const wrongType = validateToolCall({
      name: "write_file",
      arguments: { path: "strategies/a.ts", content: 42 },
    });
    expect(!wrongType.ok && wrongType.message).toMatch(/`content`: .*string/);
    const empty = validateToolCall({
      name: "decide",
      arguments: { decision: "fix", rationale: "  ", next_hypothesis: "h" },
    });
    expect(!empty.ok && empty.message).toContain("`rationale`: must not be empty");
    const unknown = validateToolCall({ name: "bash", arguments: { cmd: "ls" } });
    expect(!unknown.ok && unknown.message).toContain('unknown tool "bash"');
  });

  it("reads null as an omitted optional argument and a numeric string limit as a number", () => {
    expect(validateToolCall({ name: "list_files", arguments: { path: null } })).toEqual({
      ok: true,
      call: { name: "list_files", args: {} },
    });
    expect(validateToolCall({ name: "get_history", arguments: { limit: " 5 " } })).toEqual({
      ok: true,
      call: { name: "get_history", args: { limit: 5 } },
    });
    expect(validateToolCall({ name: "get_history", arguments: { limit: 0 } }).ok).toBe(false);
  });
});

describe("structured decision", () => {
  it("reads LLM_STRUCTURED and refuses unknown modes", () => {
    expect(structuredModeFromEnv({})).toBe("off");
    expect(structuredModeFromEnv({ LLM_STRUCTURED: "VLLM" })).toBe("vllm");
    expect(() => structuredModeFromEnv({ LLM_STRUCTURED: "grammar" })).toThrow(/json_schema, vllm, off/);
  });

  it("builds a request whose schema is the decision schema and that offers no tools", () => {
    const r = structuredDecideRequest("json_schema", [{ role: "user", content: "hi" }], {
      maxTokens: 500,
    }) as Record<string, unknown>;
    const rf = r["response_format"] as { json_schema: { schema: { required: string[] } } };
    expect(rf.json_schema.schema.required.sort()).toEqual(["decision", "next_hypothesis", "rationale"]);
    expect(r["tools"]).toBeUndefined();
    expect((r["messages"] as unknown[]).length).toBe(2);
  });

  it("reads the JSON after reasoning or in a fence, or a decide call, and rejects invalid decisions", () => {
    const good = { decision: "abandon", rationale: "no edge", next_hypothesis: "carry" };
    expect(readStructuredDecision(completion(`<think>hmm {"x": 1}</think>${JSON.stringify(good)}`))).toEqual({
      ok: true,
      decision: good,
    });
    expect(readStructuredDecision(completion(`Sure:\n\`\`\`json\n${JSON.stringify(good)}\n\`\`\``)).ok).toBe(
      true,
    );
    expect(
      readStructuredDecision(
        completion(null, {
          tool_calls: [
            { id: "c", type: "function", function: { name: "decide", arguments: JSON.stringify(good) } },
          ],
        }),
      ),
    ).toEqual({ ok: true, decision: good });
    expect(
      readStructuredDecision(completion("{'decision': 'tune', 'rationale': 'a', 'next_hypothesis': 'b',}"))
        .ok,
    ).toBe(true);
    const bad = readStructuredDecision(
      completion('{"decision": "pivot", "rationale": "a", "next_hypothesis": "b"}'),
    );
    expect(!bad.ok && bad.message).toMatch(/decision/);
    expect(readStructuredDecision(completion("I would tune it.")).ok).toBe(false);
  });
});
