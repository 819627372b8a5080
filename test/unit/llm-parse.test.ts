import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAssistantMessage } from "../../src/llm/parse.ts";
import { DEFAULT_TOOL_SET, TOOL_DEFINITIONS, toolSetOf } from "../../src/llm/tools-schema.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/llm/", import.meta.url));

interface Fixture {
  description: string;
  response: unknown;
  expect: { tool_calls: unknown[]; outcome: string; visible_text: string };
}

const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));

/** A chat.completion envelope around one assistant message, as vLLM returns it. */
function completion(
  message: Record<string, unknown>,
  finishReason = "stop",
  usage?: Record<string, unknown>,
) {
  return {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1,
    model: "test",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finishReason }],
    usage: usage ?? { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

const content = (text: string, finishReason = "stop") => completion({ content: text }, finishReason);

describe("fixture corpus", () => {
  it("has every fixture the README lists", () => {
    expect(fixtureFiles.length).toBeGreaterThanOrEqual(38);
  });

  it.each(fixtureFiles)("%s", (file) => {
    const fx = JSON.parse(readFileSync(`${FIXTURES}${file}`, "utf8")) as Fixture;
    const parsed = parseAssistantMessage(fx.response);
    expect(parsed.calls).toEqual(fx.expect.tool_calls);
    expect(parsed.outcome).toBe(fx.expect.outcome);
    expect(parsed.text).toBe(fx.expect.visible_text);
  });
});

describe("XML values", () => {
  it("keeps a </parameter> that sits inside code and is not followed by markup", () => {
    const code = 'const tag = "</parameter>";\nif (a<b && c>d) x = (y) => y;\n';
    const r = parseAssistantMessage(
      content(
        `<tool_call>\n<function=write_file>\n<parameter=path>\nstrategies/x.ts\n</parameter>\n<parameter=content>\n${code}\n</parameter>\n</function>\n</tool_call>`,
      ),
    );
    expect(r.calls).toEqual([{ name: "write_file", arguments: { path: "strategies/x.ts", content: code } }]);
    expect(r.outcome).toBe("ok");
  });

  it("does not type a non-numeric limit, and types a negative or decimal one", () => {
    const xml = (v: string) =>
      `<tool_call>\n<function=get_history>\n<parameter=limit>\n${v}\n</parameter>\n</function>\n</tool_call>`;
    expect(parseAssistantMessage(content(xml("ten"))).calls[0]?.arguments).toEqual({ limit: "ten" });
    expect(parseAssistantMessage(content(xml(" 2.5 "))).calls[0]?.arguments).toEqual({ limit: 2.5 });
    expect(parseAssistantMessage(content(xml("-3"))).calls[0]?.arguments).toEqual({ limit: -3 });
  });

  it("types values from the tool set it is given, not from a fixed list", () => {
    const tools = { tune: { steps: "integer", dry: "boolean", grid: "array", label: "string" } } as const;
    const r = parseAssistantMessage(
      content(
        "<tool_call>\n<function=tune>\n<parameter=steps>7</parameter>\n<parameter=dry>true</parameter>\n<parameter=grid>[1, 2]</parameter>\n<parameter=label>42</parameter>\n</function>\n</tool_call>",
      ),
      { tools },
    );
    expect(r.calls).toEqual([
      { name: "tune", arguments: { steps: 7, dry: true, grid: [1, 2], label: "42" } },
    ]);
    // The same name is unknown under the default tool set.
    expect(parseAssistantMessage(content("<function=tune>\n</function>")).outcome).toBe("unknown_tool");
  });

  it("reads several <function> blocks inside one <tool_call>, and a bare block with no orphan closer", () => {
    const r = parseAssistantMessage(
      content(
        "<tool_call>\n<function=read_notes>\n</function>\n<function=read_file>\n<parameter=path>\na.ts\n</parameter>\n</function>\n</tool_call>\nThen:\n<function=list_files>\n</function>\nDone.",
      ),
    );
    expect(r.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "read_file", arguments: { path: "a.ts" } },
      { name: "list_files", arguments: {} },
    ]);
    expect(r.text).toBe("Then:\n\nDone.");
  });

  it("never emits a call whose <function> was cut off, even when finish_reason is stop", () => {
    const r = parseAssistantMessage(
      content(
        "Writing it.\n<tool_call>\n<function=write_file>\n<parameter=path>\na.ts\n</parameter>\n<parameter=content>\nexport",
      ),
    );
    expect(r.calls).toEqual([]);
    expect(r.outcome).toBe("no_tool_call");
    expect(r.text).toBe("Writing it.");
    expect(r.problems.map((p) => p.kind)).toEqual(["incomplete_call"]);
  });

  it("keeps an unknown XML tool out of the calls and out of the text, beside a valid call", () => {
    const r = parseAssistantMessage(
      content(
        "Checking.\n<tool_call>\n<function=bash>\n<parameter=command>\nls -la\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=read_notes>\n</function>\n</tool_call>",
      ),
    );
    expect(r.calls).toEqual([{ name: "read_notes", arguments: {} }]);
    expect(r.unknownCalls).toEqual([{ name: "bash", arguments: { command: "ls -la" } }]);
    expect(r.outcome).toBe("unknown_tool");
    expect(r.text).toBe("Checking.");
  });

  it("does not mistake Object.prototype names for tools", () => {
    const r = parseAssistantMessage(
      content("<tool_call>\n<function=constructor>\n</function>\n</tool_call>"),
    );
    expect(r).toMatchObject({ calls: [], outcome: "unknown_tool", unknownCalls: [{ name: "constructor" }] });
  });
});

describe("JSON repair", () => {
  it("repairs a trailing comma and raw newlines without touching the code's own braces and commas", () => {
    const code = "export default {\n  a: [1, 2,],\n  b: { c: '}', },\n};\n";
    const raw = `<tool_call>\n{"name": "write_file", "arguments": {"path": "s.ts", "content": "${code}",}}\n</tool_call>`;
    const r = parseAssistantMessage(content(raw));
    expect(r.calls).toEqual([{ name: "write_file", arguments: { path: "s.ts", content: code } }]);
    expect(r.outcome).toBe("repaired");
    expect(r.problems.map((p) => p.kind)).toEqual(["repaired"]);
  });

  it("reads a Python dict with a double-quoted string holding single quotes and True/False", () => {
    const r = parseAssistantMessage(
      content(
        "<tool_call>\n{'name': 'decide', 'arguments': {'decision': 'fix', 'rationale': \"it's the stop's fault\", 'next_hypothesis': 'flag=True'}}\n</tool_call>",
      ),
    );
    expect(r.calls).toEqual([
      {
        name: "decide",
        arguments: { decision: "fix", rationale: "it's the stop's fault", next_hypothesis: "flag=True" },
      },
    ]);
    expect(r.outcome).toBe("repaired");
  });

  it("decodes Hermes arguments written as a JSON string (not a repair)", () => {
    const r = parseAssistantMessage(
      content(
        '<tool_call>\n{"name": "read_file", "arguments": "{\\"path\\": \\"strategies/a.ts\\"}"}\n</tool_call>',
      ),
    );
    expect(r.calls).toEqual([{ name: "read_file", arguments: { path: "strategies/a.ts" } }]);
    expect(r.outcome).toBe("ok");
  });

  it("finds the right </tool_call> when a JSON string mentions one", () => {
    const note = "Models wrap calls in <tool_call> and end them with </tool_call> tags.";
    const r = parseAssistantMessage(
      content(
        `<tool_call>\n${JSON.stringify({ name: "write_file", arguments: { path: "notes.md", content: note } })}\n</tool_call>`,
      ),
    );
    expect(r.calls).toEqual([{ name: "write_file", arguments: { path: "notes.md", content: note } }]);
    expect(r.text).toBe("");
  });

  it("never emits an unclosed <tool_call>, even with complete JSON inside", () => {
    const r = parseAssistantMessage(content('Sure.\n<tool_call>\n{"name": "read_notes", "arguments": {}}'));
    expect(r.calls).toEqual([]);
    expect(r.outcome).toBe("no_tool_call");
    expect(r.text).toBe("Sure.");
  });

  it("keeps both calls when the model forgot the first </tool_call>", () => {
    const hermes = parseAssistantMessage(
      content(
        '<tool_call>\n{"name": "read_notes", "arguments": {}}\n<tool_call>\n{"name": "get_history", "arguments": {"limit": 2}}\n</tool_call>',
      ),
    );
    expect(hermes.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "get_history", arguments: { limit: 2 } },
    ]);
    const xml = parseAssistantMessage(
      content(
        "<tool_call>\n<function=read_notes>\n</function>\n<tool_call>\n<function=list_files>\n</function>\n</tool_call>\nWaiting.",
      ),
    );
    expect(xml.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "list_files", arguments: {} },
    ]);
    expect(xml.text).toBe("Waiting.");
  });

  it("does not run an XML call whose <tool_call> stops right after </function>", () => {
    const r = parseAssistantMessage(content("<tool_call>\n<function=read_notes>\n</function>\n", "length"));
    expect(r).toMatchObject({ calls: [], outcome: "truncated", text: "" });
  });

  it("reports a closed but unreadable Hermes body as a problem and hides it", () => {
    const r = parseAssistantMessage(content("Plan.\n<tool_call>\nrun the backtest please\n</tool_call>"));
    expect(r.calls).toEqual([]);
    expect(r.outcome).toBe("no_tool_call");
    expect(r.problems.map((p) => p.kind)).toEqual(["invalid_call"]);
    expect(r.text).toBe("Plan.");
  });
});

describe("reasoning", () => {
  it("ignores draft calls in <think> when two real Hermes calls follow", () => {
    const r = parseAssistantMessage(
      content(
        '<think>\nMaybe:\n<tool_call>\n{"name": "decide", "arguments": {"decision": "abandon", "rationale": "x", "next_hypothesis": "y"}}\n</tool_call>\nNo, read first.\n</think>\n\n<tool_call>\n{"name": "read_notes", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "get_history", "arguments": {"limit": 3}}\n</tool_call>',
      ),
    );
    expect(r.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "get_history", arguments: { limit: 3 } },
    ]);
    expect(r.source).toBe("content");
    expect(r.reasoning).toContain("No, read first.");
  });

  it("takes a call once when reasoning and reasoning_content carry the same text", () => {
    const reasoning = 'Run it.\n<tool_call>\n{"name": "read_notes", "arguments": {}}\n</tool_call>';
    const r = parseAssistantMessage(
      completion({ content: "\n\n", reasoning, reasoning_content: reasoning, tool_calls: [] }),
    );
    expect(r.calls).toEqual([{ name: "read_notes", arguments: {} }]);
    expect(r.source).toBe("reasoning");
    expect(r.text).toBe("");
  });

  it("treats an unclosed <think> cut at the limit as reasoning: truncated, nothing visible", () => {
    const r = parseAssistantMessage(content("<think>\nThe drawdown is high because", "length"));
    expect(r).toMatchObject({
      calls: [],
      outcome: "truncated",
      text: "",
      reasoning: "The drawdown is high because",
    });
  });
});

describe("loose JSON forms", () => {
  it("leaves a bare JSON object followed by text visible and is not a call", () => {
    const text = 'Example of a call:\n{"name": "read_notes", "arguments": {}}\nI will not run it yet.';
    const r = parseAssistantMessage(content(text));
    expect(r.calls).toEqual([]);
    expect(r.outcome).toBe("no_tool_call");
    expect(r.text).toBe(text);
  });

  it("takes a bare JSON object at the end after a sentence", () => {
    const r = parseAssistantMessage(
      content('Reading it.\n  {"name": "read_file", "arguments": {"path": "a.ts"}}\n'),
    );
    expect(r.calls).toEqual([{ name: "read_file", arguments: { path: "a.ts" } }]);
    expect(r.text).toBe("Reading it.");
  });

  it("keeps a yaml fence visible and takes the call in a language-less fence", () => {
    const yaml = "```yaml\nname: ema\nparams: { fast: 12 }\n```";
    const r = parseAssistantMessage(
      content(
        `The config:\n\n${yaml}\n\n\`\`\`\n{"name": "run_backtest", "arguments": {"strategy": "s.ts", "config": "s.yaml"}}\n\`\`\``,
      ),
    );
    expect(r.calls).toEqual([{ name: "run_backtest", arguments: { strategy: "s.ts", config: "s.yaml" } }]);
    expect(r.text).toBe(`The config:\n\n${yaml}`);
  });

  it("leaves a fenced call cut off at the token limit visible and runs nothing", () => {
    const text =
      'Deciding.\n\n```json\n{"name": "decide", "arguments": {"decision": "tune", "rationale": "Sharpe is';
    const r = parseAssistantMessage(content(text, "length"));
    expect(r).toMatchObject({ calls: [], outcome: "truncated", text });
  });

  it("does not take a json fence holding a plain object that is not a call", () => {
    const text = 'Metrics:\n```json\n{"name": "ema-atr", "sharpe": 1.2}\n```';
    const r = parseAssistantMessage(content(text));
    expect(r.calls).toEqual([]);
    expect(r.text).toBe(text);
  });
});

describe("native calls", () => {
  it("decodes Go-escaped arguments", () => {
    const args = '{"content":"if (a \\u003c b \\u0026\\u0026 c \\u003e d) x();\\n","path":"s.ts"}';
    const r = parseAssistantMessage(
      completion({
        content: "",
        tool_calls: [{ id: "call_x", function: { name: "write_file", arguments: args } }],
      }),
    );
    expect(r.calls).toEqual([
      { name: "write_file", arguments: { content: "if (a < b && c > d) x();\n", path: "s.ts" } },
    ]);
  });

  it("does not search content beside native calls, but hides leftover tags", () => {
    const r = parseAssistantMessage(
      completion({
        content: 'Ok.\n<tool_call>\n{"name": "read_notes", "arguments": {}}\n</tool_call>',
        tool_calls: [{ type: "function", function: { name: "list_files", arguments: "{}" } }],
      }),
    );
    expect(r.calls).toEqual([{ name: "list_files", arguments: {} }]);
    expect(r.text).toBe("Ok.");
    expect(r.source).toBe("native");
  });

  it("drops a native call whose arguments were cut at the token limit", () => {
    const r = parseAssistantMessage(
      completion(
        {
          content: null,
          tool_calls: [
            { function: { name: "read_notes", arguments: "" } },
            { function: { name: "write_file", arguments: '{"path": "a.ts", "content": "x"' } },
          ],
        },
        "length",
      ),
    );
    expect(r.calls).toEqual([{ name: "read_notes", arguments: {} }]);
    expect(r.outcome).toBe("truncated");
  });

  it("reads 'null', null and [] arguments as no arguments, and rejects a non-object", () => {
    const r = parseAssistantMessage(
      completion({
        content: null,
        tool_calls: [
          { function: { name: "read_notes", arguments: "null" } },
          { function: { name: "list_files", arguments: null } },
          { function: { name: "read_notes", arguments: [] } },
          { function: { name: "read_file", arguments: '"strategies/a.ts"' } },
        ],
      }),
    );
    expect(r.calls).toEqual([
      { name: "read_notes", arguments: {} },
      { name: "list_files", arguments: {} },
      { name: "read_notes", arguments: {} },
    ]);
    expect(r.problems.map((p) => p.kind)).toEqual(["invalid_call"]);
    expect(r.outcome).toBe("ok");
  });

  it("flags a completion that used its whole max_tokens as truncated", () => {
    const response = completion(
      { content: null, tool_calls: [{ function: { name: "read_notes", arguments: "{}" } }] },
      "tool_calls",
      { prompt_tokens: 5, completion_tokens: 512, total_tokens: 517 },
    );
    expect(parseAssistantMessage(response, { maxTokens: 512 }).outcome).toBe("truncated");
    expect(parseAssistantMessage(response, { maxTokens: 1024 }).outcome).toBe("ok");
  });

  it("accepts a choice or a bare message, and reports input that is neither", () => {
    const message = { role: "assistant", content: null, tool_calls: [{ function: { name: "read_notes" } }] };
    expect(parseAssistantMessage({ index: 0, message, finish_reason: "tool_calls" }).calls).toHaveLength(1);
    expect(parseAssistantMessage(message).calls).toEqual([{ name: "read_notes", arguments: {} }]);
    const bad = parseAssistantMessage({ hello: "world" });
    expect(bad.outcome).toBe("no_tool_call");
    expect(bad.problems).toHaveLength(1);
  });
});

describe("round trips (property)", () => {
  // Think tags in a value would be read as reasoning before any markup is looked at.
  const value = fc
    .string({ unit: "binary", maxLength: 200 })
    .filter((s) => !s.includes("</parameter>") && !s.includes("think>"));

  it("returns any XML value verbatim", () => {
    fc.assert(
      fc.property(value, (v) => {
        const r = parseAssistantMessage(
          content(
            `<tool_call>\n<function=write_file>\n<parameter=path>\np.ts\n</parameter>\n<parameter=content>\n${v}\n</parameter>\n</function>\n</tool_call>`,
          ),
        );
        expect(r.calls).toEqual([{ name: "write_file", arguments: { path: "p.ts", content: v } }]);
      }),
      { numRuns: 2000 },
    );
  });

  it("returns any Hermes JSON value verbatim", () => {
    fc.assert(
      fc.property(value, (v) => {
        const call = { name: "edit_file", arguments: { path: "p.ts", old: v, new: `${v}!` } };
        const r = parseAssistantMessage(content(`<tool_call>\n${JSON.stringify(call)}\n</tool_call>`));
        expect(r.calls).toEqual([call]);
        expect(r.outcome).toBe("ok");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("generated messages (property)", () => {
  type Call = { name: string; arguments: Record<string, unknown> };
  const text = fc
    .string({ unit: "binary", maxLength: 120 })
    .filter((s) => !s.includes("</parameter>") && !s.includes("think>"));
  const call: fc.Arbitrary<Call> = fc.oneof(
    fc.record({ name: fc.constant("write_file"), arguments: fc.record({ path: text, content: text }) }),
    fc.record({ name: fc.constant("edit_file"), arguments: fc.record({ path: text, old: text, new: text }) }),
    fc.record({
      name: fc.constant("get_history"),
      arguments: fc.record({ limit: fc.integer({ min: 0, max: 500 }) }),
    }),
    fc.record({ name: fc.constant("read_notes"), arguments: fc.constant({}) }),
  );
  const hermes = (c: Call) => `<tool_call>\n${JSON.stringify(c)}\n</tool_call>`;
  const xml = (c: Call) =>
    `<tool_call>\n<function=${c.name}>\n${Object.entries(c.arguments)
      .map(([k, v]) => `<parameter=${k}>\n${String(v)}\n</parameter>\n`)
      .join("")}</function>\n</tool_call>`;
  // Prose without markup characters, as a model writes before its calls.
  const prose = fc.stringMatching(/^[A-Za-z][A-Za-z ,.'0-9]{0,60}$/).map((s) => s.trim());

  it("recovers every call and the prose, whatever the format mix, think drafts and reasoning", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(call, fc.constantFrom(hermes, xml)), { minLength: 1, maxLength: 3 }),
        fc.option(prose),
        fc.option(call),
        fc.constantFrom("none", "think", "unpaired"),
        (calls, before, draft, thinking) => {
          const body = calls.map(([c, render]) => render(c)).join("\n");
          const reasoning = `Plan first.${draft ? `\n${hermes(draft)}\n` : ""}`;
          const head =
            thinking === "think"
              ? `<think>\n${reasoning}\n</think>\n\n`
              : thinking === "unpaired"
                ? `${reasoning}\n</think>\n\n`
                : "";
          const r = parseAssistantMessage(content(`${head}${before ? `${before}\n\n` : ""}${body}`));
          expect(r.calls).toEqual(calls.map(([c]) => c));
          expect(r.outcome).toBe("ok");
          expect(r.text).toBe(before ?? "");
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("tool schema", () => {
  it("offers the eight tools with their parameter types", () => {
    expect(Object.keys(DEFAULT_TOOL_SET).sort()).toEqual(
      [
        "decide",
        "edit_file",
        "get_history",
        "list_files",
        "read_file",
        "read_notes",
        "run_backtest",
        "write_file",
      ].sort(),
    );
    expect(DEFAULT_TOOL_SET["get_history"]).toEqual({ limit: "number" });
    expect(toolSetOf(TOOL_DEFINITIONS)).toEqual(DEFAULT_TOOL_SET);
    const decide = TOOL_DEFINITIONS.find((t) => t.function.name === "decide");
    expect(decide?.function.parameters.properties["decision"]?.enum).toEqual([
      "abandon",
      "fix",
      "tune",
      "new_approach",
    ]);
  });
});
