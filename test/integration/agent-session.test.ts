import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type AgentOptions, CORRECTION, runAgentSession } from "../../src/llm/agent.ts";
import type { BacktestPaths } from "../../src/llm/agent-tools.ts";
import { LlmClient } from "../../src/llm/client.ts";
import { LlmUnreachableError } from "../../src/llm/errors.ts";
import { buildPrompt, promptRunStateOf } from "../../src/llm/prompt.ts";
import type { StructuredMode } from "../../src/llm/structured.ts";
import { loadLibrary, Workspace } from "../../src/llm/workspace.ts";
import { loadRunConfigFiles } from "../../src/loop/config-files.ts";
import type { Db } from "../../src/store/db.ts";
import { PgWorkspaceFiles } from "../../src/store/workspace-files.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import {
  type FakeLlm,
  fault,
  type RecordedRequest,
  reply,
  type ScriptStep,
  startFakeLlm,
} from "../support/fake-llm.ts";

const STRATEGY = `import { defineStrategy, int } from "alphaloop/strategy";
export default defineStrategy({
  name: "keltner-revert", family: "mean-reversion", description: "fade closes under the band",
  params: { n: int(10, 60, 20) },
  signals(bars, p, ta) {
    const k = ta.keltner(bars.high, bars.low, bars.close, p.n);
    return { enterLong: ta.crossunder(bars.close, k.lower), exitLong: ta.crossover(bars.close, k.middle) };
  },
});
`;
const CONFIG = "strategy: keltner-revert\ntimeframe: 4h\nparams: { n: 20 }\n";

interface Echo {
  strategyPath: string;
  timeframe: unknown;
  lines: number;
}

/** The loop's evaluator stand-in: reads what it was given and says what it saw. */
async function echoBacktest(code: string, configYaml: string, paths: BacktestPaths) {
  const config = parseYaml(configYaml) as Record<string, unknown>;
  const lines = code.split("\n").length;
  return {
    summary: `backtest of ${paths.strategyPath} (${lines} lines) with ${paths.configPath}: timeframe ${String(config["timeframe"])}; Sharpe 0.4 ✗ (min 1.0) — DISCARD: sharpe below gate`,
    result: { strategyPath: paths.strategyPath, timeframe: config["timeframe"], lines } satisfies Echo,
  };
}

/** The tool messages of a chat request, joined: what the model was told its calls returned. */
function toolResults(r: RecordedRequest | undefined): string[] {
  const body = (r?.body ?? {}) as { messages?: { role: string; content?: unknown }[] };
  return (body.messages ?? []).filter((m) => m.role === "tool").map((m) => String(m.content));
}

function lastUserMessage(r: RecordedRequest | undefined): string {
  const body = (r?.body ?? {}) as { messages?: { role: string; content?: unknown }[] };
  return String((body.messages ?? []).filter((m) => m.role === "user").at(-1)?.content ?? "");
}

const decide = (decision = "tune") =>
  reply.toolCalls([
    {
      name: "decide",
      arguments: { decision, rationale: "Sharpe 0.4 is under the gate", next_hypothesis: "wider bands" },
    },
  ]);

const backend = backends[0];
const runConfig = loadRunConfigFiles();

describe("agent session against a scripted model server", () => {
  let db: Db;
  let store: PgWorkspaceFiles;
  let llm: FakeLlm | undefined;
  const schema = testSchema("agent");
  const library = loadLibrary();
  let runNo = 0;

  beforeAll(async () => {
    db = await backend.open(schema);
    store = new PgWorkspaceFiles(db);
  });
  afterAll(async () => {
    await dropSchema(db, schema);
  });
  afterEach(async () => {
    await llm?.close();
    llm = undefined;
  });

  async function session(
    script: ScriptStep[],
    extra: Partial<AgentOptions<Echo>> & { structured?: StructuredMode } = {},
  ) {
    llm = await startFakeLlm({ script });
    const client = new LlmClient({
      baseURL: llm.url,
      model: "fake-model",
      timeoutMs: 5_000,
      retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
    });
    const runId = `run-${++runNo}`;
    const workspace = new Workspace({ runId, store, library, notes: new Map([["notes/a.md", "prefer 4h"]]) });
    const result = await runAgentSession<Echo>({
      client,
      prompt: buildPrompt({
        state: promptRunStateOf(runConfig, { runId, iteration: 1, brief: "mean reversion on 4h" }),
        history: "",
        nudges: ["try mean reversion"],
      }),
      workspace,
      runBacktest: echoBacktest,
      history: async (limit) => `last ${limit}: #1 ema-cross Sharpe 0.2 DISCARD`,
      nudges: async () => ["try mean reversion"],
      ...extra,
    });
    return { result, workspace, llm };
  }

  it("gets a backtested candidate and a decision from a model that fails five different ways", async () => {
    const xmlWrite = `I'll write the strategy first.\n<tool_call>\n<function=write_file>\n<parameter=path>\nstrategies/keltner-revert.ts\n</parameter>\n<parameter=content>\n${STRATEGY}\n</parameter>\n</function>\n</tool_call>`;
    const brokenJson = `<tool_call>\n{"name": "write_file", "arguments": {"path": "strategies/keltner-revert.yaml", "content": ${JSON.stringify(CONFIG)},}}\n</tool_call>`;
    const { result, llm } = await session([
      reply.text(xmlWrite),
      reply.text(brokenJson),
      reply.text("Now I will run the backtest on the new strategy."),
      reply.toolCalls([{ name: "bash", arguments: { command: "cat strategies/keltner-revert.ts" } }]),
      fault.serverError(),
      reply.toolCalls([
        {
          name: "run_backtest",
          arguments: { strategy: "strategies/keltner-revert.ts", config: "strategies/keltner-revert.yaml" },
        },
      ]),
      decide(),
    ]);

    expect(result.outcome).toBe("decided");
    expect(result.decision).toEqual({
      decision: "tune",
      rationale: "Sharpe 0.4 is under the gate",
      next_hypothesis: "wider bands",
    });
    expect(result.backtests).toHaveLength(1);
    const bt = result.backtests[0];
    expect(bt?.code).toBe(`${STRATEGY}`);
    expect(bt?.configYaml).toBe(CONFIG);
    expect(bt?.strategyPath).toBe("strategies/keltner-revert.ts");
    expect(bt?.result).toEqual({
      strategyPath: "strategies/keltner-revert.ts",
      timeframe: "4h",
      lines: STRATEGY.split("\n").length,
    });
    expect(result.lastBacktest).toBe(bt);
    expect(result.repairs).toBe(2); // the premature stop and the unknown tool; XML and broken JSON parse
    expect(result.problems.some((p) => /needed JSON repair/.test(p))).toBe(true);
    expect(result.rawOutputs).toHaveLength(2);
    expect(result.rawOutputs[0]).toContain("Now I will run the backtest");
    expect(result.toolCalls).toBe(5);
    expect(result.usage.calls).toBe(6); // the 500 was retried inside one call
    expect(result.usage.promptTokens).toBe(600);

    const chats = llm.chatRequests();
    expect(chats).toHaveLength(7);
    expect(lastUserMessage(chats[3])).toBe(CORRECTION.noCall);
    const unknown = toolResults(chats[4]).at(-1) ?? "";
    expect(unknown).toContain('unknown tool "bash"');
    for (const name of ["list_files", "read_file", "write_file", "edit_file", "run_backtest", "decide"]) {
      expect(unknown).toContain(name);
    }
    expect(toolResults(chats[6]).at(-1)).toContain("DISCARD: sharpe below gate");
    // The model's calls went back to it in the native shape, each answered by its own tool message.
    const body = chats[6]?.body as {
      messages: { role: string; tool_calls?: { id: string }[]; tool_call_id?: string }[];
    };
    const asked = body.messages.flatMap((m) => m.tool_calls?.map((t) => t.id) ?? []);
    const answered = body.messages.filter((m) => m.role === "tool").map((m) => m.tool_call_id);
    expect(answered).toEqual(asked);
    expect(body.messages.some((m) => JSON.stringify(m).includes("<tool_call>"))).toBe(false);
    // The prompt prefix (system message and first user turn) is byte-identical in every request.
    const firsts = chats.map((c) => JSON.stringify((c.body as { messages: unknown[] }).messages.slice(0, 2)));
    expect(new Set(firsts).size).toBe(1);
    expect(firsts[0]).toContain("ta.keltner(");
  });

  it("answers invalid arguments with the field and the expected shape, and the model recovers", async () => {
    const { result, llm } = await session([
      reply.toolCalls([{ name: "write_file", arguments: { path: "strategies/x.ts" } }]),
      reply.toolCalls([
        { name: "decide", arguments: { decision: "pivot", rationale: "r", next_hypothesis: "h" } },
      ]),
      reply.toolCalls([
        { name: "get_history", arguments: { limit: "3" } },
        { name: "read_notes", arguments: {} },
      ]),
      decide("new_approach"),
    ]);
    const chats = llm.chatRequests();
    const missing = toolResults(chats[1]).at(-1) ?? "";
    expect(missing).toMatch(/invalid arguments for write_file: `content` is missing/);
    expect(missing).toContain("Expected write_file(path: string, content: string)");
    const badEnum = toolResults(chats[2]).at(-1) ?? "";
    expect(badEnum).toMatch(/`decision`:/);
    expect(badEnum).toContain('decision: "abandon" | "fix" | "tune" | "new_approach"');
    const [history, notes] = toolResults(chats[3]).slice(-2);
    expect(history).toBe("last 3: #1 ema-cross Sharpe 0.2 DISCARD");
    expect(notes).toContain("prefer 4h");
    expect(notes).toContain("1. try mean reversion");
    expect(result.outcome).toBe("decided");
    expect(result.decision?.decision).toBe("new_approach");
    expect(result.repairs).toBe(2);
    expect(result.problems).toContain("decided without running a backtest");
  });

  it("ends as model_error with the raw outputs once the repair bound is passed", async () => {
    const stops = Array.from({ length: 4 }, (_, i) => reply.text(`I will call a tool soon (${i}).`));
    const { result, llm } = await session(
      [...stops, reply.toolCalls([{ name: "write_file", arguments: { content: "x" } }])],
      { maxRepairs: 4 },
    );
    expect(result.outcome).toBe("model_error");
    expect(result.repairs).toBe(5);
    expect(result.rawOutputs).toHaveLength(5);
    expect(result.rawOutputs[3]).toContain("I will call a tool soon (3).");
    expect(result.rawOutputs[4]).toContain("write_file");
    expect(result.decision).toBeUndefined();
    expect(llm.remaining()).toBe(0);
  });

  it("says why a tool call could not be read instead of claiming there was none", async () => {
    const { result, llm } = await session([
      reply.toolCalls([{ name: "read_file", arguments: '{"path": strategies/a.ts' }]),
      decide(),
    ]);
    const told = lastUserMessage(llm.chatRequests()[1]);
    expect(told).toMatch(/^Your tool call could not be read \(read_file: /);
    expect(result.outcome).toBe("decided");
    expect(result.repairs).toBe(1);
    expect(result.problems[0]).toMatch(/^unreadable tool call: read_file/);
  });

  it("asks a truncated reply to be re-emitted briefly", async () => {
    const { result, llm } = await session([
      reply.text(
        '<tool_call>\n{"name": "write_file", "arguments": {"path": "strategies/a.ts", "content": "const',
        {
          finishReason: "length",
        },
      ),
      decide(),
    ]);
    expect(lastUserMessage(llm.chatRequests()[1])).toBe(CORRECTION.truncated);
    expect(result.outcome).toBe("decided");
    expect(result.repairs).toBe(1);
  });

  it("stops at the tool-call cap and asks for a decision with only decide offered", async () => {
    const list = reply.toolCalls([{ name: "list_files", arguments: { path: "strategies" } }]);
    const listTwo = reply.toolCalls([
      { name: "list_files", arguments: {} },
      { name: "read_file", arguments: { path: "strategies/ema-cross.ts" } },
    ]);
    const capped = await session([list, listTwo, list], { maxToolCalls: 3 });
    expect(capped.result.outcome).toBe("budget_exhausted");
    expect(capped.result.toolCalls).toBe(3);
    const chats = capped.llm.chatRequests();
    expect(chats).toHaveLength(3);
    const last = chats[2]?.body as { tools: { function: { name: string } }[] };
    expect(last.tools.map((t) => t.function.name)).toEqual(["decide"]);
    expect(lastUserMessage(chats[2])).toContain(CORRECTION.budget(3));
    await capped.llm.close();

    const decided = await session([list, list, list, decide("abandon")], { maxToolCalls: 3 });
    expect(decided.result.outcome).toBe("decided");
    expect(decided.result.decision?.decision).toBe("abandon");
    expect(decided.result.problems).toContain("tool-call cap of 3 reached");
  });

  it("asks for the decision once the session's token budget is spent, counting cache hits as free", async () => {
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 50,
      total_tokens: 1050,
      prompt_tokens_details: { cached_tokens: 900 },
    };
    const list = reply.toolCalls([{ name: "list_files", arguments: {} }], { usage });
    // 150 new tokens per call: the third call reaches 450 ≥ 400, so the fourth request asks for decide.
    const { result, llm } = await session([list, list, list, decide("abandon")], { maxSessionTokens: 400 });
    expect(result.outcome).toBe("decided");
    expect(result.usage).toEqual({ promptTokens: 3100, completionTokens: 170, cachedTokens: 2700, calls: 4 });
    expect(result.problems).toContain("session token budget spent");
    const last = llm.chatRequests()[3]?.body as { tools: { function: { name: string } }[] };
    expect(last.tools.map((t) => t.function.name)).toEqual(["decide"]);
  });

  it("refuses path escapes and library writes through the tools, with messages the model can act on", async () => {
    const { result, llm, workspace } = await session([
      reply.toolCalls([
        { name: "read_file", arguments: { path: "../configs/default.yaml" } },
        { name: "write_file", arguments: { path: "strategies/ema-cross.ts", content: "hacked" } },
        { name: "edit_file", arguments: { path: "strategies/ema-cross.yaml", old: "4h", new: "1m" } },
        { name: "run_backtest", arguments: { strategy: "/etc/passwd", config: "strategies/ema-cross.yaml" } },
      ]),
      decide("abandon"),
    ]);
    const results = toolResults(llm.chatRequests()[1]);
    expect(results[0]).toMatch(/^error: .*"\.\." is not allowed/);
    expect(results[1]).toMatch(/^error: .*library file.*ema-cross-v2\.ts/);
    expect(results[2]).toMatch(/^error: .*read-only/);
    expect(results[3]).toMatch(/^error: .*relative to the workspace root/);
    expect(await workspace.read("strategies/ema-cross.ts")).toBe(library.get("strategies/ema-cross.ts"));
    expect(result.backtests).toEqual([]);
    expect(result.repairs).toBe(0);
  });

  it.each(["json_schema", "vllm"] as const)(
    "with LLM_STRUCTURED=%s a model that stops after its backtest is asked for the decision as JSON",
    async (mode) => {
      const { result, llm } = await session(
        [
          reply.toolCalls([
            { name: "write_file", arguments: { path: "strategies/k.ts", content: STRATEGY } },
          ]),
          reply.toolCalls([
            { name: "write_file", arguments: { path: "strategies/k.yaml", content: CONFIG } },
          ]),
          reply.toolCalls([
            { name: "run_backtest", arguments: { strategy: "strategies/k.ts", config: "strategies/k.yaml" } },
          ]),
          reply.text("The Sharpe is too low, I think we should tune it."),
          reply.text(
            '<think>tune</think>```json\n{"decision": "tune", "rationale": "Sharpe 0.4", "next_hypothesis": "n = 40"}\n```',
          ),
        ],
        { structured: mode },
      );
      expect(result.outcome).toBe("decided");
      expect(result.decision).toEqual({
        decision: "tune",
        rationale: "Sharpe 0.4",
        next_hypothesis: "n = 40",
      });
      expect(result.backtests).toHaveLength(1);
      const body = llm.chatRequests()[4]?.body as Record<string, unknown>;
      expect(body["tools"]).toBeUndefined();
      const schemaOf = (s: unknown) => JSON.stringify(s);
      if (mode === "json_schema") {
        const rf = body["response_format"] as { type: string; json_schema: { schema: unknown } };
        expect(rf.type).toBe("json_schema");
        expect(schemaOf(rf.json_schema.schema)).toContain('"new_approach"');
      } else {
        expect(schemaOf((body["structured_outputs"] as { json: unknown }).json)).toContain(
          '"next_hypothesis"',
        );
        expect(body["guided_json"]).toEqual((body["structured_outputs"] as { json: unknown }).json);
      }
    },
  );

  it("falls back to a correction when the server refuses structured output", async () => {
    const { result } = await session(
      [
        reply.toolCalls([{ name: "write_file", arguments: { path: "strategies/k.ts", content: STRATEGY } }]),
        reply.toolCalls([{ name: "write_file", arguments: { path: "strategies/k.yaml", content: CONFIG } }]),
        reply.toolCalls([
          { name: "run_backtest", arguments: { strategy: "strategies/k.ts", config: "strategies/k.yaml" } },
        ]),
        reply.text("Done."),
        fault.status(400, { error: { message: "response_format json_schema is not supported" } }),
        decide(),
      ],
      { structured: "json_schema" },
    );
    expect(result.outcome).toBe("decided");
    expect(
      result.problems.some((p) => /refused by the server: .*not supported — set LLM_STRUCTURED=off/.test(p)),
    ).toBe(true);
    expect(result.repairs).toBe(1);
  });

  it("ends as aborted when the caller aborts, and lets an unreachable server surface to the loop", async () => {
    const controller = new AbortController();
    const aborted = await session(
      [
        (req: RecordedRequest) => {
          controller.abort();
          return fault.slow(1_000, reply.text(String(req.path)));
        },
      ],
      { signal: controller.signal },
    );
    expect(aborted.result.outcome).toBe("aborted");
    await aborted.llm.close();
    await expect(
      session([fault.serverError(), fault.serverError(), fault.serverError()]),
    ).rejects.toBeInstanceOf(LlmUnreachableError);
  });
});
