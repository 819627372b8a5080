/**
 * The tools the research agent is offered, as OpenAI `tools` entries (JSON Schema parameters). The
 * agent sends `TOOL_DEFINITIONS` in the request; the parser reads `DEFAULT_TOOL_SET` (derived from the
 * same definitions) to know which names are real tools and which XML parameter values are numbers.
 */

/** JSON Schema primitive types a tool parameter can declare. */
export type ToolParamType = "string" | "number" | "integer" | "boolean" | "object" | "array";

export interface ToolParamSchema {
  type: ToolParamType;
  description?: string;
  enum?: readonly string[];
}

export interface ToolDefinition {
  type: "function";
  function: {
    name: string;
    description: string;
    parameters: {
      type: "object";
      properties: Readonly<Record<string, ToolParamSchema>>;
      required: readonly string[];
      additionalProperties: false;
    };
  };
}

/** Tool name → parameter name → declared type. What the parser needs to know about the tool set. */
export type ToolSet = Readonly<Record<string, Readonly<Record<string, ToolParamType>>>>;

function tool(
  name: string,
  description: string,
  properties: Record<string, ToolParamSchema>,
  required: string[],
): ToolDefinition {
  return {
    type: "function",
    function: {
      name,
      description,
      parameters: { type: "object", properties, required, additionalProperties: false },
    },
  };
}

const path = (description: string): ToolParamSchema => ({ type: "string", description });

export const TOOL_DEFINITIONS: readonly ToolDefinition[] = [
  tool(
    "list_files",
    "List the files in a workspace folder (default: the workspace root).",
    { path: path("Folder inside the workspace, e.g. `strategies`.") },
    [],
  ),
  tool(
    "read_file",
    "Read one workspace file.",
    { path: path("File inside the workspace, e.g. `strategies/ema-atr.ts`.") },
    ["path"],
  ),
  tool(
    "write_file",
    "Create or replace a workspace file with the given content.",
    {
      path: path("File inside the workspace."),
      content: { type: "string", description: "The whole new file content." },
    },
    ["path", "content"],
  ),
  tool(
    "edit_file",
    "Replace one exact occurrence of `old` with `new` in a workspace file.",
    {
      path: path("File inside the workspace."),
      old: { type: "string", description: "Exact text to replace; must occur exactly once." },
      new: { type: "string", description: "Replacement text." },
    },
    ["path", "old", "new"],
  ),
  tool(
    "run_backtest",
    "Compile the strategy, backtest it with the config on every search fold, and return metrics and gate results.",
    {
      strategy: path("Strategy module path, e.g. `strategies/ema-atr.ts`."),
      config: path("Strategy config path, e.g. `strategies/ema-atr.yaml`."),
    },
    ["strategy", "config"],
  ),
  tool(
    "get_history",
    "Summaries of the most recent iterations of this run: hypotheses, metrics, gate failures, decisions.",
    { limit: { type: "number", description: "How many iterations, newest first (default 10)." } },
    [],
  ),
  tool("read_notes", "Read the run's notes and the nudges people sent in the thread.", {}, []),
  tool(
    "decide",
    "End the iteration with a decision about the current line of research.",
    {
      decision: {
        type: "string",
        enum: ["abandon", "fix", "tune", "new_approach"],
        description: "What to do next.",
      },
      rationale: { type: "string", description: "Why, citing the metrics or errors." },
      next_hypothesis: { type: "string", description: "What the next iteration will try." },
    },
    ["decision", "rationale", "next_hypothesis"],
  ),
];

/** The parser's view of a list of tool definitions. */
export function toolSetOf(definitions: readonly ToolDefinition[]): ToolSet {
  const set: Record<string, Record<string, ToolParamType>> = {};
  for (const d of definitions) {
    const params: Record<string, ToolParamType> = {};
    for (const [key, schema] of Object.entries(d.function.parameters.properties)) params[key] = schema.type;
    set[d.function.name] = params;
  }
  return set;
}

export const DEFAULT_TOOL_SET: ToolSet = toolSetOf(TOOL_DEFINITIONS);
