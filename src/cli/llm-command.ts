/**
 * `alphaloop llm …`: tools for people wiring up a model server. `llm parse` shows how the harness reads
 * a saved chat-completion response, so "the model made no call" can be told apart from "the server
 * put the call somewhere the harness did not look". Other subcommands (e.g. a doctor) attach to the
 * Command returned by `llmCommand`.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { messageViewOf, type ParsedMessage, parseAssistantMessage } from "../llm/parse.ts";
import { isPlainObject } from "../llm/parse-json.ts";
import { DEFAULT_TOOL_SET, type ToolDefinition, type ToolSet, toolSetOf } from "../llm/tools-schema.ts";
import { CliError } from "./cli-error.ts";

export interface LlmCommandDeps {
  /** Reads all of standard input (for `-`). */
  readStdin?: () => Promise<string>;
  /** Where the JSON goes (default stdout). */
  write?: (text: string) => void;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("utf8");
}

const USAGE_ERROR = 2;

function parseJsonInput(text: string, label: string): unknown {
  if (text.trim() === "")
    throw new CliError(`${label} is empty: expected a chat.completion JSON object`, USAGE_ERROR);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `${label} is not JSON (${(err as Error).message}); expected a chat.completion response as the server returned it`,
      USAGE_ERROR,
    );
  }
}

async function loadToolSet(path: string | undefined): Promise<ToolSet> {
  if (!path) return DEFAULT_TOOL_SET;
  const value = parseJsonInput(await readText(path), path);
  if (!Array.isArray(value) || !value.every((t) => isPlainObject(t) && isPlainObject(t["function"]))) {
    throw new CliError(`${path}: expected an OpenAI "tools" array`, USAGE_ERROR);
  }
  return toolSetOf(value as ToolDefinition[]);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      USAGE_ERROR,
    );
  }
}

/**
 * Reads a saved response the way the agent does. A fixture file (`{ response, expect }`, as in
 * test/fixtures/llm) is unwrapped to its response.
 */
export function explainResponse(
  value: unknown,
  options: { tools?: ToolSet; maxTokens?: number } = {},
): ParsedMessage {
  const response = isPlainObject(value) && isPlainObject(value["response"]) ? value["response"] : value;
  if (messageViewOf(response) === null) {
    throw new CliError(
      "not a chat completion: expected an object with choices[0].message (or a choice, or a message)",
      USAGE_ERROR,
    );
  }
  return parseAssistantMessage(response, options);
}

export function register(program: Command, deps: LlmCommandDeps = {}): void {
  llmCommand(program, deps);
}

export function llmCommand(program: Command, deps: LlmCommandDeps = {}): Command {
  const readStdin = deps.readStdin ?? (() => readAll(process.stdin));
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const llm = program
    .command("llm")
    .description("inspect how the harness talks to and reads the model server");

  llm
    .command("parse")
    .description(
      "print, as JSON, the tool calls, visible text, outcome and problems the harness reads from a saved response",
    )
    .argument("<file>", "a chat.completion JSON file, or - for standard input")
    .option(
      "--max-tokens <n>",
      "the max_tokens the request sent: a completion that used all of it counts as truncated",
    )
    .option("--tools <file>", "an OpenAI tools array to parse against (default: the research agent's tools)")
    .action(async (file: string, o: { maxTokens?: string; tools?: string }) => {
      const label = file === "-" ? "standard input" : file;
      const text = file === "-" ? await readStdin() : await readText(file);
      const value = parseJsonInput(text, label);
      let maxTokens: number | undefined;
      if (o.maxTokens !== undefined) {
        maxTokens = Number(o.maxTokens);
        if (!Number.isInteger(maxTokens) || maxTokens <= 0) {
          throw new CliError(`--max-tokens must be a positive integer, got ${o.maxTokens}`, USAGE_ERROR);
        }
      }
      const tools = await loadToolSet(o.tools);
      const parsed = explainResponse(value, { tools, ...(maxTokens === undefined ? {} : { maxTokens }) });
      write(`${JSON.stringify(parsed, null, 2)}\n`);
    });
  return llm;
}
