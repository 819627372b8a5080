import type {
  ChatCompletion,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
} from "openai/resources/chat/completions";
import {
  availableToolsText,
  type BacktestRecord,
  type Decision,
  executeTool,
  type RunBacktest,
  type ToolContext,
  validateToolCall,
} from "./agent-tools.ts";
import type { CallOptions, ChatRequest, LlmCallResult } from "./client.ts";
import { LlmAbortedError, LlmRequestError } from "./errors.ts";
import { type ParsedMessage, parseAssistantMessage, type ToolCall } from "./parse.ts";
import { readStructuredDecision, type StructuredMode, structuredDecideRequest } from "./structured.ts";
import { TOOL_DEFINITIONS } from "./tools-schema.ts";
import type { Workspace } from "./workspace.ts";

/**
 * One iteration's agent session: the model works in its workspace with tool calls until it calls
 * `decide`. The session survives a misbehaving model: each parsed call is validated, and every kind of
 * failure (invalid arguments, an unknown tool, text without a call, a reply cut at the token limit)
 * goes back to the model as a short correction. Corrections are counted; past `maxRepairs` the session
 * ends as `model_error` with the raw outputs kept for debugging. It never throws for model output.
 *
 * It does throw what the caller must handle itself: `LlmUnreachableError` (the retry budget is spent —
 * pause the run) and `LlmRequestError` (a misconfiguration such as a wrong model name). An abort
 * (the `signal`) ends the session as `aborted`.
 */

export type AgentOutcome = "decided" | "model_error" | "budget_exhausted" | "aborted";

export interface AgentUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  calls: number;
}

export interface AgentSession<T> {
  outcome: AgentOutcome;
  decision?: Decision;
  /** Every backtest of the session, in order. */
  backtests: BacktestRecord<T>[];
  lastBacktest?: BacktestRecord<T>;
  usage: AgentUsage;
  /** Corrections sent to the model. */
  repairs: number;
  /** Tool calls the model made (valid or not). */
  toolCalls: number;
  /** What went wrong or looked odd, one line each (for the iteration record). */
  problems: string[];
  /** The raw assistant outputs that needed a correction (for debugging a model_error). */
  rawOutputs: string[];
}

/** The part of LlmClient the agent uses. */
export interface ChatCompleter {
  complete(request: ChatRequest, options?: CallOptions): Promise<LlmCallResult>;
}

export interface AgentOptions<T> {
  client: ChatCompleter;
  /** The rendered prompt (src/llm/prompt.ts): a stable system prefix and the run-specific user turn. */
  prompt: { system: string; user: string };
  workspace: Workspace;
  runBacktest: RunBacktest<T>;
  history: (limit: number) => Promise<string>;
  nudges: () => Promise<string[]>;
  /** Corrections allowed per session before it ends as model_error (default 4). */
  maxRepairs?: number;
  /** Tool calls allowed per session (default 24); then the model is asked to decide. */
  maxToolCalls?: number;
  /** `max_tokens` per completion (default 8192). */
  maxTokens?: number;
  /**
   * Token budget of the session (the run config's max_tokens_per_iteration): prompt tokens the server
   * had to process (prefix-cache hits excluded) plus completion tokens, summed over the calls. When it
   * is spent the model is asked for its decision once more and the session ends.
   */
  maxSessionTokens?: number;
  temperature?: number;
  seed?: number;
  structured?: StructuredMode;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_REPAIRS = 4;
export const DEFAULT_MAX_TOOL_CALLS = 24;
const MAX_RAW_CHARS = 20_000;

export const CORRECTION = {
  noCall:
    "Your reply had no tool call. Every reply must call one of the tools; when you are done, call decide(decision, rationale, next_hypothesis).",
  truncated:
    "Your reply was cut off at the token limit. Re-emit the tool call more briefly: shorter code without comments, or write a short file and extend it with edit_file.",
  unreadable: (why: string) =>
    `Your tool call could not be read (${why}). Send it again with the arguments as one valid JSON object.`,
  budget: (n: number) =>
    `You have used all ${n} tool calls of this iteration. Call decide now with your decision, rationale and next hypothesis.`,
} as const;

function rawOutput(completion: ChatCompletion): string {
  const choice = completion.choices[0];
  const s = JSON.stringify({ message: choice?.message, finish_reason: choice?.finish_reason });
  return s.length > MAX_RAW_CHARS ? `${s.slice(0, MAX_RAW_CHARS)}…` : s;
}

/** The native call ids when the server gave them, so tool results line up; made-up ones otherwise. */
function callIds(completion: ChatCompletion, parsed: ParsedMessage, turn: number, n: number): string[] {
  const native = parsed.source === "native" ? (completion.choices[0]?.message.tool_calls ?? []) : [];
  return Array.from({ length: n }, (_, i) => {
    const id = native[i]?.id;
    return typeof id === "string" && id !== "" ? id : `call_${turn}_${i}`;
  });
}

class Session<T> {
  readonly messages: ChatCompletionMessageParam[];
  readonly result: AgentSession<T> = {
    outcome: "model_error",
    backtests: [],
    usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 },
    repairs: 0,
    toolCalls: 0,
    problems: [],
    rawOutputs: [],
  };
  readonly maxRepairs: number;
  readonly maxToolCalls: number;
  readonly maxTokens: number;
  readonly ctx: ToolContext<T>;

  constructor(readonly o: AgentOptions<T>) {
    this.messages = [
      { role: "system", content: o.prompt.system },
      { role: "user", content: o.prompt.user },
    ];
    this.maxRepairs = o.maxRepairs ?? DEFAULT_MAX_REPAIRS;
    this.maxToolCalls = o.maxToolCalls ?? DEFAULT_MAX_TOOL_CALLS;
    this.maxTokens = o.maxTokens ?? 8192;
    this.ctx = { workspace: o.workspace, runBacktest: o.runBacktest, history: o.history, nudges: o.nudges };
  }

  async call(request: ChatRequest): Promise<ChatCompletion> {
    const r = await this.o.client.complete(
      {
        max_tokens: this.maxTokens,
        ...(this.o.temperature === undefined ? {} : { temperature: this.o.temperature }),
        ...(this.o.seed === undefined ? {} : { seed: this.o.seed }),
        ...request,
      },
      this.o.signal ? { signal: this.o.signal } : {},
    );
    const u = this.result.usage;
    u.calls++;
    u.promptTokens += r.usage.promptTokens;
    u.completionTokens += r.usage.completionTokens;
    u.cachedTokens += r.usage.cachedTokens ?? 0;
    return r.completion;
  }

  tokensSpent(): boolean {
    const max = this.o.maxSessionTokens;
    const u = this.result.usage;
    return max !== undefined && u.promptTokens - u.cachedTokens + u.completionTokens >= max;
  }

  /** Counts a correction; true when the bound is passed and the session must end. */
  repair(reason: string, completion: ChatCompletion): boolean {
    this.result.repairs++;
    this.result.problems.push(reason);
    this.result.rawOutputs.push(rawOutput(completion));
    return this.result.repairs > this.maxRepairs;
  }

  finish(outcome: AgentOutcome, decision?: Decision): AgentSession<T> {
    this.result.outcome = outcome;
    if (decision) {
      this.result.decision = decision;
      if (this.result.backtests.length === 0) this.result.problems.push("decided without running a backtest");
    }
    const last = this.result.backtests.at(-1);
    if (last) this.result.lastBacktest = last;
    return this.result;
  }

  async run(): Promise<AgentSession<T>> {
    for (let turn = 1; ; turn++) {
      if (this.o.signal?.aborted) return this.finish("aborted");
      if (this.tokensSpent()) {
        this.result.problems.push("session token budget spent");
        return this.finalDecide("the token budget of this iteration is spent");
      }
      const completion = await this.call({ messages: this.messages, tools: [...TOOL_DEFINITIONS] });
      const parsed = parseAssistantMessage(completion, { maxTokens: this.maxTokens });
      for (const p of parsed.problems) if (p.kind === "repaired") this.result.problems.push(p.message);

      const calls: { call: ToolCall; unknown: boolean }[] = [
        ...parsed.calls.map((call) => ({ call, unknown: false })),
        ...parsed.unknownCalls.map((call) => ({ call, unknown: true })),
      ];
      const ids = callIds(completion, parsed, turn, calls.length);
      const toolCalls: ChatCompletionMessageToolCall[] = calls.map(({ call }, i) => ({
        id: ids[i] as string,
        type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      }));
      this.messages.push(
        toolCalls.length > 0
          ? { role: "assistant", content: parsed.text === "" ? null : parsed.text, tool_calls: toolCalls }
          : { role: "assistant", content: parsed.text },
      );

      let needsRepair: string | undefined;
      let capHit = false;
      for (const [i, { call, unknown }] of calls.entries()) {
        const id = ids[i] as string;
        const answer = (content: string) => this.messages.push({ role: "tool", tool_call_id: id, content });
        if (this.result.toolCalls >= this.maxToolCalls) {
          capHit = true;
          answer("not run: the tool-call budget of this iteration is spent");
          continue;
        }
        this.result.toolCalls++;
        if (unknown) {
          needsRepair ??= `unknown tool "${call.name}"`;
          answer(`error: unknown tool "${call.name}". The available tools are: ${availableToolsText()}`);
          continue;
        }
        const v = validateToolCall(call);
        if (!v.ok) {
          needsRepair ??= v.message;
          answer(`error: ${v.message}`);
          continue;
        }
        const outcome = await executeTool(v.call, this.ctx);
        if (outcome.kind === "decision") {
          // Calls after decide in the same message are dropped: the iteration is over.
          return this.finish("decided", outcome.decision);
        }
        if (outcome.backtest) this.result.backtests.push(outcome.backtest);
        answer(outcome.text);
      }

      const unreadable = parsed.problems
        .filter((p) => p.kind === "invalid_call" || p.kind === "incomplete_call")
        .map((p) => p.message);
      let correction: string | undefined;
      if (parsed.outcome === "truncated") {
        needsRepair ??= "reply cut off at the token limit";
        correction = CORRECTION.truncated;
      } else if (calls.length === 0 && unreadable.length > 0) {
        // The model tried to call a tool but the markup could not be read: say why, not "no call".
        needsRepair ??= `unreadable tool call: ${unreadable.join("; ")}`;
        correction = CORRECTION.unreadable(unreadable.join("; "));
      } else if (calls.length === 0) {
        needsRepair ??= "reply without a tool call";
        const structured = this.o.structured ?? "off";
        // A model that stops talking after it has backtested is done: ask for the decision directly.
        if (structured !== "off" && this.result.backtests.length > 0) {
          const d = await this.structuredDecide(structured);
          if (d) return this.finish("decided", d);
        }
        correction = CORRECTION.noCall;
      }
      if (needsRepair !== undefined && this.repair(needsRepair, completion)) {
        this.result.problems.push(`more than ${this.maxRepairs} corrections: giving up on this iteration`);
        return this.finish("model_error");
      }
      if (correction) this.messages.push({ role: "user", content: correction });
      if (capHit || this.result.toolCalls >= this.maxToolCalls) {
        this.result.problems.push(`tool-call cap of ${this.maxToolCalls} reached`);
        return this.finalDecide(`the tool-call budget of ${this.maxToolCalls} is spent`);
      }
    }
  }

  async structuredDecide(mode: Exclude<StructuredMode, "off">): Promise<Decision | undefined> {
    let completion: ChatCompletion;
    try {
      completion = await this.call(
        structuredDecideRequest(mode, this.messages, {
          maxTokens: Math.min(this.maxTokens, 2048),
          ...(this.o.temperature === undefined ? {} : { temperature: this.o.temperature }),
        }),
      );
    } catch (err) {
      // A server without this kind of structured output answers 400: fall back to corrections.
      if (!(err instanceof LlmRequestError)) throw err;
      this.result.problems.push(
        `structured output (${mode}) refused by the server: ${err.message} — set LLM_STRUCTURED=off`,
      );
      return undefined;
    }
    const read = readStructuredDecision(completion);
    if (read.ok) {
      this.result.problems.push(`decision taken by a structured-output request (${mode})`);
      return read.decision;
    }
    this.result.problems.push(read.message);
    this.result.rawOutputs.push(rawOutput(completion));
    return undefined;
  }

  /** One last request for the decision (structured when enabled); budget_exhausted if it fails. */
  async finalDecide(why: string): Promise<AgentSession<T>> {
    const structured = this.o.structured ?? "off";
    if (structured !== "off") {
      const d = await this.structuredDecide(structured);
      return d ? this.finish("decided", d) : this.finish("budget_exhausted");
    }
    const decideTool = TOOL_DEFINITIONS.filter((d) => d.function.name === "decide");
    const completion = await this.call({
      messages: [
        ...this.messages,
        { role: "user", content: `${CORRECTION.budget(this.maxToolCalls)} (${why})` },
      ],
      tools: decideTool,
    });
    const parsed = parseAssistantMessage(completion, { maxTokens: this.maxTokens });
    const call = parsed.calls.find((c) => c.name === "decide");
    const v = call ? validateToolCall(call) : undefined;
    if (v?.ok && v.call.name === "decide") return this.finish("decided", v.call.args);
    this.result.problems.push(v && !v.ok ? v.message : "no decide call after the budget was spent");
    this.result.rawOutputs.push(rawOutput(completion));
    return this.finish("budget_exhausted");
  }
}

export async function runAgentSession<T>(options: AgentOptions<T>): Promise<AgentSession<T>> {
  const session = new Session(options);
  try {
    return await session.run();
  } catch (err) {
    if (err instanceof LlmAbortedError) return session.finish("aborted");
    throw err;
  }
}
