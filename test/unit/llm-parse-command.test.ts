import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/cli-error.ts";
import { register } from "../../src/cli/llm-command.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/llm/${name}`, import.meta.url));

async function run(args: string[], stdin = ""): Promise<{ out: unknown; raw: string }> {
  let raw = "";
  const program = new Command().exitOverride();
  register(program, { readStdin: async () => stdin, write: (t) => (raw += t) });
  await program.parseAsync(["llm", "parse", ...args], { from: "user" });
  return { out: JSON.parse(raw), raw };
}

async function failure(args: string[], stdin = ""): Promise<CliError> {
  const error = await run(args, stdin).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe("alphaloop llm parse", () => {
  it("reads a saved response file (a fixture is unwrapped to its response)", async () => {
    const { out } = await run([fixture("17-fenced-json-decide.json")]);
    const expected = JSON.parse(readFileSync(fixture("17-fenced-json-decide.json"), "utf8")).expect;
    expect(out).toMatchObject({
      calls: expected.tool_calls,
      outcome: "ok",
      text: expected.visible_text,
      problems: [],
      source: "content",
    });
  });

  it("reads a bare chat.completion from standard input with -", async () => {
    const response = JSON.parse(readFileSync(fixture("28-unknown-tool-hermes.json"), "utf8")).response;
    const { out, raw } = await run(["-"], JSON.stringify(response));
    expect(out).toMatchObject({
      calls: [],
      unknownCalls: [{ name: "execute_python" }],
      outcome: "unknown_tool",
      text: "Let me compute the rolling Sharpe of the last run myself before deciding.",
    });
    expect((out as { problems: { kind: string }[] }).problems.map((p) => p.kind)).toEqual(["unknown_tool"]);
    expect(raw.endsWith("}\n")).toBe(true);
  });

  it("flags a completion that used all of --max-tokens as truncated", async () => {
    const response = JSON.parse(readFileSync(fixture("01-native-read-file.json"), "utf8")).response;
    const { out } = await run(["-", "--max-tokens", "24"], JSON.stringify(response));
    expect(out).toMatchObject({ outcome: "truncated", calls: [{ name: "read_file" }] });
  });

  it("parses against a tools file given with --tools", async () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "bash",
          description: "shell",
          parameters: { type: "object", properties: { timeout: { type: "number" } } },
        },
      },
    ];
    const path = join(mkdtempSync(join(tmpdir(), "llm-parse-")), "tools.json");
    writeFileSync(path, JSON.stringify(tools));
    const content =
      "<tool_call>\n<function=bash>\n<parameter=timeout>\n30\n</parameter>\n</function>\n</tool_call>";
    const { out } = await run(["-", "--tools", path], JSON.stringify({ role: "assistant", content }));
    expect(out).toMatchObject({ outcome: "ok", calls: [{ name: "bash", arguments: { timeout: 30 } }] });
  });

  it("exits 2 with a clear message on input that is not JSON, or not a completion, or missing", async () => {
    const notJson = await failure(["-"], "<html>Bad Gateway</html>");
    expect(notJson.exitCode).toBe(2);
    expect(notJson.message).toMatch(/standard input is not JSON/);
    expect((await failure(["-"], "")).exitCode).toBe(2);
    const notCompletion = await failure(["-"], '{"hello": 1}');
    expect(notCompletion.message).toMatch(/not a chat completion/);
    expect(notCompletion.exitCode).toBe(2);
    const missing = await failure([fixture("no-such-file.json")]);
    expect(missing.message).toMatch(/cannot read .*ENOENT/);
    expect(missing.exitCode).toBe(2);
    expect((await failure(["-", "--max-tokens", "many"], "{}")).exitCode).toBe(2);
  });
});
