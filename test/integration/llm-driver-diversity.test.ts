/**
 * The llm driver's diversity wiring, seen from the model's side of the wire (the only fake is the
 * OpenAI-compatible server): the run's seed picks the system prompt's wording and library order and
 * the brief's angle, and the coverage map of the run's history reaches the user message.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IterationSummary } from "../../src/domain/run.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { LlmClient } from "../../src/llm/client.ts";
import { briefVariant, COVERAGE_HEADING, MIGRANTS_HEADING, systemPrompt } from "../../src/llm/prompt.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type DriverContext, driverView } from "../../src/loop/driver.ts";
import { llmDriver } from "../../src/loop/drivers/llm.ts";
import type { WorkspaceFileEntry, WorkspaceFileStore } from "../../src/store/workspace-files.ts";
import { type FakeLlm, reply, startFakeLlm } from "../support/fake-llm.ts";

/** The file store as a Map: this test is about the prompt, not about Postgres. */
class MemoryFiles implements WorkspaceFileStore {
  private files = new Map<string, string>();
  async read(runId: string, path: string) {
    return this.files.get(`${runId}/${path}`);
  }
  async write(runId: string, path: string, content: string) {
    this.files.set(`${runId}/${path}`, content);
  }
  async list(runId: string, prefix = ""): Promise<WorkspaceFileEntry[]> {
    return [...this.files.keys()]
      .filter((k) => k.startsWith(`${runId}/${prefix}`))
      .sort()
      .map((k) => ({
        path: k.slice(runId.length + 1),
        size: (this.files.get(k) ?? "").length,
        updatedAt: new Date(0),
      }));
  }
  async remove(runId: string, path: string) {
    return this.files.delete(`${runId}/${path}`);
  }
}

const decide = () =>
  reply.toolCalls([
    {
      name: "decide",
      arguments: { decision: "abandon", rationale: "probe", next_hypothesis: "something else" },
    },
  ]);

const past = (
  n: number,
  family: string,
  tf: string,
  turnover: number,
  distance: number,
): IterationSummary => ({
  n,
  name: `s${n}`,
  family,
  hypothesis: null,
  status: "discarded",
  metrics: { sharpe: 0.3, turnover },
  reasons: ["sharpe < 1"],
  distance,
  decision: "tune",
  nextHypothesis: null,
  configYaml: `strategy: s${n}\ntimeframe: ${tf}\n`,
});

describe("llm driver diversity", () => {
  let llm: FakeLlm;
  beforeAll(async () => {
    llm = await startFakeLlm({ script: [decide(), decide(), decide(), decide(), decide()] });
  });
  afterAll(async () => {
    await llm.close();
  });

  it("sends a seed-jittered system prompt, the brief's angle and the coverage map", async () => {
    const config = driverView(loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8")));
    const driver = llmDriver({
      client: new LlmClient({ baseURL: llm.url, model: "fake-model" }),
      files: new MemoryFiles(),
      allNudges: async () => [],
    });
    const history = [past(1, "trend", "1h", 60, 0.8), past(2, "trend", "4h", 5, 0.5)];
    const ctx = (seed: number, iteration: number): DriverContext => ({
      runId: `run-${seed}`,
      iteration,
      brief: "trend ideas",
      config,
      seed,
      history: history.slice(0, iteration - 1),
      nudges: [],
      signal: new AbortController().signal,
      evaluate: async () => {
        throw new Error("this test never backtests");
      },
    });
    await driver.propose(ctx(11, 2));
    await driver.propose(ctx(11, 3));
    await driver.propose(ctx(12, 3));
    const messages = llm
      .chatRequests()
      .map((r) => (r.body as { messages: { role: string; content: string }[] }).messages);
    const [a, b, c] = messages.map((m) => ({
      system: m.find((x) => x.role === "system")?.content ?? "",
      user: m.find((x) => x.role === "user")?.content ?? "",
    }));
    expect(a?.system).toBe(systemPrompt(11));
    expect(b?.system).toBe(a?.system); // same run: the server's prefix cache holds
    expect(c?.system).toBe(systemPrompt(12));
    expect(c?.system).not.toBe(a?.system);
    expect(a?.user).toContain(`Brief: ${briefVariant("trend ideas", 11)}`);
    expect(b?.user).toContain(COVERAGE_HEADING);
    expect(b?.user).toContain("trend · 1h · mid | 1 | 0.80 (iteration 1)");
    expect(b?.user).toContain("trend · 4h · low | 1 | 0.50 (iteration 2)");
    const untried = b?.user.split("\n").find((l) => l.startsWith("untried:")) ?? "";
    expect(untried).toContain("breakout·1h");
    expect(untried).toContain("trend·1d");
    expect(untried).not.toContain("trend·1h");
    expect(b?.user.indexOf(COVERAGE_HEADING)).toBeLessThan(b?.user.indexOf("# Iteration 3 of") ?? -1);
    expect(a?.user).not.toContain(MIGRANTS_HEADING);
  });

  it("on an island: the island's seed and angle, its own history, and the other islands' best", async () => {
    const config = driverView(loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8")));
    const driver = llmDriver({
      client: new LlmClient({ baseURL: llm.url, model: "fake-model" }),
      files: new MemoryFiles(),
      allNudges: async () => [],
    });
    const before = llm.chatRequests().length;
    const migrant = { ...past(3, "breakout", "4h", 12, 0.2), name: "donchian-breakout" };
    const ctx = (island: number): DriverContext => ({
      runId: "run-islands",
      iteration: 5 + island,
      brief: "trend ideas",
      config,
      // The loop hands each island run seed + island.
      seed: 11 + island,
      history: [past(1 + island, "trend", "1h", 60, 0.8)],
      island,
      islands: 2,
      migrants: [{ island: 1 - island, iteration: migrant }],
      nudges: [],
      signal: new AbortController().signal,
      evaluate: async () => {
        throw new Error("this test never backtests");
      },
    });
    await driver.propose(ctx(0));
    await driver.propose(ctx(1));
    const [a, b] = llm
      .chatRequests()
      .slice(before)
      .map((r) => (r.body as { messages: { role: string; content: string }[] }).messages)
      .map((m) => ({
        system: m.find((x) => x.role === "system")?.content ?? "",
        user: m.find((x) => x.role === "user")?.content ?? "",
      }));
    // Island 0 is the run as it would be without islands; island 1 has its own wording and angle.
    expect(a?.system).toBe(systemPrompt(11));
    expect(b?.system).toBe(systemPrompt(12));
    expect(a?.user).toContain(`Brief: ${briefVariant("trend ideas", 11, 0)}`);
    expect(b?.user).toContain(`Brief: ${briefVariant("trend ideas", 11, 1)}`);
    expect(briefVariant("trend ideas", 11, 1)).not.toBe(briefVariant("trend ideas", 11, 0));
    expect(a?.user).toContain("you work for island 0");
    expect(b?.user).toContain("you work for island 1");
    expect(a?.user).toContain("best from island 1: #3 donchian-breakout (breakout)");
    expect(b?.user).toContain("best from island 0: #3 donchian-breakout (breakout)");
    expect(a?.user).toContain("strategy: s3\ntimeframe: 4h");
    // The migrants sit after the island's own history and before the iteration's instructions.
    const at = (u: string | undefined, t: string) => u?.indexOf(t) ?? -1;
    expect(at(a?.user, "# History of this run")).toBeLessThan(at(a?.user, MIGRANTS_HEADING));
    expect(at(a?.user, MIGRANTS_HEADING)).toBeLessThan(at(a?.user, "# Iteration 5 of"));
  });
});
