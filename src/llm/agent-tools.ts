import { z } from "zod";
import type { ToolCall } from "./parse.ts";
import { TOOL_DEFINITIONS, type ToolDefinition } from "./tools-schema.ts";
import { type Workspace, WorkspaceError } from "./workspace.ts";

/**
 * The agent's eight tools: argument validation (zod) and execution over the virtual workspace and the
 * callbacks the loop injects. Every failure becomes text for the model — a tool result it can act
 * on — never an exception: a validation error names the field and the expected shape.
 */

export const DECISIONS = ["abandon", "fix", "tune", "new_approach"] as const;
export type DecisionKind = (typeof DECISIONS)[number];

const text = z.string().trim().min(1, "must not be empty");
/** Models write `null` for an omitted optional argument; that means "not given". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

export const DecisionSchema = z.object({
  decision: z.enum(DECISIONS),
  rationale: text,
  next_hypothesis: text,
});
export type Decision = z.infer<typeof DecisionSchema>;

export const TOOL_ARGUMENT_SCHEMAS = {
  list_files: z.object({ path: optional(z.string()) }),
  read_file: z.object({ path: text }),
  write_file: z.object({ path: text, content: z.string() }),
  edit_file: z.object({ path: text, old: z.string().min(1, "must not be empty"), new: z.string() }),
  run_backtest: z.object({ strategy: text, config: text }),
  get_history: z.object({
    limit: optional(
      z.preprocess(
        (v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
        z.number().int().min(1).max(100),
      ),
    ),
  }),
  read_notes: z.object({}),
  decide: DecisionSchema,
} as const;

export type ToolName = keyof typeof TOOL_ARGUMENT_SCHEMAS;
export const TOOL_NAMES = Object.keys(TOOL_ARGUMENT_SCHEMAS) as ToolName[];

export type ValidCall = {
  [K in ToolName]: { name: K; args: z.infer<(typeof TOOL_ARGUMENT_SCHEMAS)[K]> };
}[ToolName];

function definitionOf(name: string): ToolDefinition | undefined {
  return TOOL_DEFINITIONS.find((d) => d.function.name === name);
}

/** `name(path: string, content: string)`: the shape a model should send, from the offered schema. */
export function expectedShape(name: string): string {
  const def = definitionOf(name);
  if (!def) return `${name}(...)`;
  const { properties, required } = def.function.parameters;
  const params = Object.entries(properties).map(([key, p]) => {
    const type = p.enum ? p.enum.map((e) => JSON.stringify(e)).join(" | ") : p.type;
    return `${key}${required.includes(key) ? "" : "?"}: ${type}`;
  });
  return `${name}(${params.join(", ")})`;
}

export function availableToolsText(): string {
  return TOOL_NAMES.map(expectedShape).join("; ");
}

function describeIssue(issue: z.core.$ZodIssue, args: Record<string, unknown>): string {
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "(arguments)";
  const key = issue.path[0];
  const missing = typeof key === "string" && !(key in args);
  return missing ? `\`${field}\` is missing` : `\`${field}\`: ${issue.message}`;
}

export type Validation = { ok: true; call: ValidCall } | { ok: false; message: string };

/** Checks a parsed call against its tool's schema; the failure message is written for the model. */
export function validateToolCall(call: ToolCall): Validation {
  if (!Object.hasOwn(TOOL_ARGUMENT_SCHEMAS, call.name)) {
    return {
      ok: false,
      message: `unknown tool "${call.name}". The available tools are: ${availableToolsText()}`,
    };
  }
  const name = call.name as ToolName;
  const result = TOOL_ARGUMENT_SCHEMAS[name].safeParse(call.arguments);
  if (!result.success) {
    const problems = result.error.issues.map((i) => describeIssue(i, call.arguments));
    return {
      ok: false,
      message: `invalid arguments for ${name}: ${problems.join("; ")}. Expected ${expectedShape(name)}. Call it again with corrected arguments.`,
    };
  }
  return { ok: true, call: { name, args: result.data } as ValidCall };
}

export interface BacktestPaths {
  strategyPath: string;
  configPath: string;
}

/** What the loop's evaluator returns: the text the model sees, and the structured result it keeps. */
export interface BacktestOutput<T> {
  summary: string;
  result: T;
}

export type RunBacktest<T> = (
  code: string,
  configYaml: string,
  paths: BacktestPaths,
) => Promise<BacktestOutput<T>>;

export interface BacktestRecord<T> extends BacktestPaths {
  code: string;
  configYaml: string;
  result: T;
  summary: string;
}

export interface ToolContext<T> {
  workspace: Workspace;
  runBacktest: RunBacktest<T>;
  history: (limit: number) => Promise<string>;
  nudges: () => Promise<string[]>;
}

export type ToolOutcome<T> =
  | { kind: "result"; text: string; failed: boolean; backtest?: BacktestRecord<T> }
  | { kind: "decision"; decision: Decision };

/** Tool results longer than this are cut, so one read cannot flood the context window. */
export const MAX_TOOL_RESULT_CHARS = 40_000;

function clip(s: string): string {
  if (s.length <= MAX_TOOL_RESULT_CHARS) return s;
  return `${s.slice(0, MAX_TOOL_RESULT_CHARS)}\n… [cut: ${s.length - MAX_TOOL_RESULT_CHARS} more characters]`;
}

export async function readNotesText(workspace: Workspace, nudges: () => Promise<string[]>): Promise<string> {
  const notes = workspace.noteFiles();
  const given = await nudges();
  const parts: string[] = [];
  parts.push(
    notes.length === 0
      ? "No notes in notes/."
      : notes.map(([path, content]) => `## ${path}\n\n${content.trim()}`).join("\n\n"),
  );
  parts.push(
    given.length === 0
      ? "No nudges so far."
      : `## Nudges so far (oldest first; they take priority over notes)\n\n${given.map((n, i) => `${i + 1}. ${n}`).join("\n")}`,
  );
  return parts.join("\n\n");
}

export async function executeTool<T>(call: ValidCall, ctx: ToolContext<T>): Promise<ToolOutcome<T>> {
  const ok = (t: string): ToolOutcome<T> => ({ kind: "result", text: clip(t), failed: false });
  try {
    switch (call.name) {
      case "list_files": {
        const entries = await ctx.workspace.list(call.args.path ?? "");
        return ok(entries.length === 0 ? "(empty)" : entries.join("\n"));
      }
      case "read_file":
        return ok(await ctx.workspace.read(call.args.path));
      case "write_file": {
        const w = await ctx.workspace.write(call.args.path, call.args.content);
        return ok(`${w.created ? "created" : "overwrote"} ${w.path} (${w.bytes} bytes)`);
      }
      case "edit_file": {
        const w = await ctx.workspace.edit(call.args.path, call.args.old, call.args.new);
        return ok(`edited ${w.path} (${w.bytes} bytes)`);
      }
      case "run_backtest": {
        const code = await ctx.workspace.read(call.args.strategy);
        const configYaml = await ctx.workspace.read(call.args.config);
        const strategyPath = ctx.workspace.resolve(call.args.strategy);
        const configPath = ctx.workspace.resolve(call.args.config);
        const out = await ctx.runBacktest(code, configYaml, { strategyPath, configPath });
        return {
          kind: "result",
          text: clip(out.summary),
          failed: false,
          backtest: { strategyPath, configPath, code, configYaml, result: out.result, summary: out.summary },
        };
      }
      case "get_history": {
        const h = await ctx.history(call.args.limit ?? 10);
        return ok(h.trim() === "" ? "No iterations yet in this run." : h);
      }
      case "read_notes":
        return ok(await readNotesText(ctx.workspace, ctx.nudges));
      case "decide":
        return { kind: "decision", decision: call.args };
    }
  } catch (err) {
    if (err instanceof WorkspaceError) return { kind: "result", text: `error: ${err.message}`, failed: true };
    // A failure of the harness itself (the store, the evaluator): tell the model it was not its fault.
    return {
      kind: "result",
      text: `error: the harness failed to run ${call.name} (${(err as Error).message}); try again or continue`,
      failed: true,
    };
  }
}
