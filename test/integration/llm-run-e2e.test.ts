/**
 * End to end: the research loop with the llm driver against a scripted OpenAI-compatible server
 * (the only fake: the model at its network edge), the real store, sandbox and ledger. The model
 * writes a strategy with a compile error, one that throws, a config that sets a fee, one that never
 * trades, and finally one that passes; a nudge arrives mid-run and must reach the next prompt.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { LlmClient } from "../../src/llm/client.ts";
import { llmDriver } from "../../src/loop/drivers/llm.ts";
import { buildLoop, createRun } from "../../src/loop/runner.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { PgWorkspaceFiles } from "../../src/store/workspace-files.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { type FakeLlm, fault, reply, startFakeLlm } from "../support/fake-llm.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeTrendBars } from "../support/store-bars.ts";

const EMA = readFileSync("strategies/ema-cross.ts", "utf8").replace('name: "ema-cross"', 'name: "my-ema"');
const BROKEN = EMA.replace(
  "const slow = ta.ema(bars.close, p.slow);",
  "const slow = ta.ema(bars.close, p.slow;",
);
const THROWS = EMA.replace("const fast =", 'throw new Error("oops");\n    const fast =');
const NEVER = EMA.replace(
  "return { enterLong: ta.crossover(fast, slow), exitLong: ta.crossunder(fast, slow) };",
  "return { enterLong: new Uint8Array(slow.length), exitLong: ta.crossunder(fast, slow) };",
);
const YAML = "strategy: my-ema\ntimeframe: 1h\nparams: { fast: 20, slow: 100 }\n";

/** Lenient gates on the E2EUSD search window; `extra` sets the budget and loop options of a test. */
function e2eConfig(extra: string) {
  return lenientRunConfig(
    `dataset: { symbol: E2EUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
`,
    extra,
  );
}

/** One agent session: write the two files and backtest them in one turn, then decide. */
function session(code: string, yaml: string, decision: string) {
  return [
    reply.toolCalls([
      { name: "write_file", arguments: { path: "strategies/my-ema.ts", content: code } },
      { name: "write_file", arguments: { path: "strategies/my-ema.yaml", content: yaml } },
      {
        name: "run_backtest",
        arguments: { strategy: "strategies/my-ema.ts", config: "strategies/my-ema.yaml" },
      },
    ]),
    // The decision as Hermes markup in content, the way a server without a tool parser returns it.
    reply.text(
      `<tool_call>\n${JSON.stringify({ name: "decide", arguments: { decision, rationale: `chose ${decision}`, next_hypothesis: "next idea" } })}\n</tool_call>`,
    ),
  ];
}

describe("llm-driven run end to end", () => {
  let db: Db;
  let llm: FakeLlm;
  const schema = testSchema("e2e");
  const sandbox = new Sandbox();
  let runs: PgRunRepository;
  let runId = "";

  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    await storeTrendBars(db, "E2EUSD");
    llm = await startFakeLlm({
      script: [
        ...session(BROKEN, YAML, "fix"),
        ...session(THROWS, YAML, "fix"),
        ...session(EMA, `${YAML}fee_bps: 0\n`, "fix"),
        // The nudge arrives while iteration 4 is running: it must wait for iteration 5.
        async (req) => {
          if (req.path.endsWith("/chat/completions")) {
            await runs.addNudge({
              runId,
              author: "alice",
              source: "discord-thread",
              text: "use a slower EMA pair",
            });
          }
          return session(NEVER, YAML, "new_approach")[0] as Record<string, unknown>;
        },
        session(NEVER, YAML, "new_approach")[1] as Record<string, unknown>,
        ...session(EMA, YAML, "tune"),
      ],
    });
  });
  afterAll(async () => {
    sandbox.dispose();
    await llm.close();
    await dropSchema(db, schema);
  });

  it("turns five flawed-then-good model sessions into five recorded iterations, one holdout peek and ordered events", async () => {
    const config = e2eConfig("budgets: { max_iterations: 5 }\nloop: { driver: llm, max_fix_attempts: 5 }\n");
    const run = await createRun(runs, {
      brief: "an EMA trend follower",
      config,
      driver: "llm",
      owner: "alice",
    });
    runId = run.id;
    const driver = llmDriver({
      client: new LlmClient({ baseURL: llm.url, model: "fake-model" }),
      files: new PgWorkspaceFiles(db),
      allNudges: async (id) => (await runs.nudges(id)).map((n) => n.text),
    });
    const end = await buildLoop(run, { db, driver, sandbox }).run(new AbortController().signal);
    expect(end.status).toBe("completed");

    const its = await runs.iterations(run.id);
    expect(its.map((i) => i.status)).toEqual(["crashed", "crashed", "crashed", "discarded", "passed"]);
    expect(its[0]?.error).toMatchObject({
      kind: "compile",
      line: EMA.split("\n").findIndex((l) => l.includes("const slow")) + 1,
    });
    expect(its[1]?.reasons[0]).toMatch(/^runtime \(line \d+\): .*oops/);
    expect(its[2]?.reasons).toEqual(["policy: config sets fee_bps"]);
    expect(its[3]?.reasons).toContain("trades 0 < 10");
    expect(its.map((i) => i.decision?.decision)).toEqual(["fix", "fix", "fix", "new_approach", "tune"]);
    expect(its.every((i) => i.tokens.calls === 2)).toBe(true);

    // The nudge: stored once, claimed by iteration 5, shown in its prompt and in no earlier one.
    const nudges = await runs.nudges(run.id);
    expect(nudges.map((n) => [n.text, n.claimedIteration])).toEqual([["use a slower EMA pair", 5]]);
    const prompts = llm.chatRequests().map((r) => llm.promptOf(r));
    expect(prompts).toHaveLength(10);
    expect(prompts.slice(0, 8).some((p) => p.includes("use a slower EMA pair"))).toBe(false);
    expect(prompts[8]).toContain("use a slower EMA pair");
    // The holdout never reaches the model.
    for (const p of prompts) {
      expect(p).not.toContain("2021-07-01");
      expect(p).not.toContain("2021-12-01");
    }

    // The pass: holdout evaluated exactly once, events in order, each once.
    expect(its[4]?.holdout).toMatchObject({ ok: true, peeks: 1 });
    const events = await runs.pendingEvents(100, run.id);
    const types = events.map((e) => e.type);
    expect(types).toEqual([
      "run.started",
      "iteration.completed",
      "iteration.completed",
      "iteration.completed",
      "iteration.completed",
      "iteration.completed",
      "nudge.applied",
      "gate.passed",
      "holdout.evaluated",
      "run.finished",
    ]);
    const trials = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM trials WHERE run_id = $1", [
      run.id,
    ]);
    expect(trials.rows[0]?.n).toBe(5);
  });

  it("pauses with a stated reason when the model endpoint stays down, and resumes by itself when it answers", async () => {
    const down = await startFakeLlm({
      script: [...Array.from({ length: 5 }, () => fault.serverError()), ...session(EMA, YAML, "tune")],
    });
    try {
      const config = e2eConfig(
        "budgets: { max_iterations: 1 }\nloop: { driver: llm, auto_resume_seconds: 1 }\n",
      );
      const run = await createRun(runs, { brief: "outage", config, driver: "llm" });
      const driver = llmDriver({
        client: new LlmClient({
          baseURL: down.url,
          model: "fake-model",
          retry: { baseDelayMs: 5, maxDelayMs: 20 },
        }),
        files: new PgWorkspaceFiles(db),
        allNudges: async () => [],
      });
      const end = await buildLoop(run, { db, driver, sandbox }).run(new AbortController().signal);
      expect(end.status).toBe("completed");
      const events = await runs.pendingEvents(100, run.id);
      const paused = events.find((e) => e.type === "run.paused");
      expect(paused?.payload["reason"]).toMatch(/^model endpoint unreachable since \d\d:\d\d UTC$/);
      const types = events.map((e) => e.type);
      expect(types.indexOf("run.resumed")).toBeGreaterThan(types.indexOf("run.paused"));
      // Nothing half-written: the failed attempt left no iteration; the resumed one is #1.
      expect((await runs.iterations(run.id)).map((i) => i.n)).toEqual([1]);
    } finally {
      await down.close();
    }
  });
});
