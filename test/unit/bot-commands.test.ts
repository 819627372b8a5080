import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nudgeText } from "../../src/bot/nudge-intake.ts";
import { threadName } from "../../src/bot/outbox-consumer.ts";
import {
  leaderboardEmbed,
  runConfigEmbed,
  runListEmbed,
  runStatusEmbed,
} from "../../src/bot/render/command-replies.ts";
import { EMBED_LIMITS, type Embed, embedLength } from "../../src/bot/render/limits.ts";
import { runChoice } from "../../src/commands/autocomplete.ts";
import { commandDefinitions, researchCommand } from "../../src/commands/definitions.ts";
import { startOverrides, startRunConfig } from "../../src/commands/start.ts";
import { freezeRunConfig, loadRunConfig, RunConfigError } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import type { RunRecord } from "../../src/loop/run-repository.ts";

const BOT = "1000000000000000001";

function within(e: Embed): void {
  expect(e.title?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.title);
  expect(e.description?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.description);
  for (const f of e.fields ?? []) expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
  expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
}

function run(o: Partial<RunRecord> = {}): RunRecord {
  const config = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
  return {
    id: "r-0123abcd",
    brief: "trend following",
    driver: "heuristic",
    status: "running",
    statusReason: null,
    config,
    configHash: freezeRunConfig(config).hash,
    owner: "600000000000000001",
    source: "discord",
    guildId: "900000000000000001",
    channelId: "800000000000000001",
    threadId: "800000000000000002",
    iterationsDone: 3,
    passes: 1,
    bestDistance: 0,
    bestIteration: 2,
    tokensUsed: 0,
    stuck: false,
    createdAt: new Date("2026-01-02T03:04:00Z"),
    startedAt: null,
    finishedAt: null,
    ...o,
  };
}

describe("nudge text", () => {
  it("strips mentions of the bot and keeps the rest", () => {
    expect(nudgeText(`<@${BOT}> use a slower EMA`, BOT)).toBe("use a slower EMA");
    expect(nudgeText(`try <@!${BOT}> RSI`, BOT)).toBe("try   RSI");
    expect(nudgeText(`<@${BOT}>`, BOT)).toBeUndefined();
    expect(nudgeText("   ", BOT)).toBeUndefined();
    // Another user's mention is part of the text.
    expect(nudgeText("ask <@600000000000000001>", BOT)).toBe("ask <@600000000000000001>");
    expect(nudgeText("x".repeat(5000), BOT)?.length).toBe(1500);
  });
});

describe("/research start options", () => {
  it("map to run config keys, and only those given", () => {
    expect(startOverrides({})).toEqual({});
    expect(
      startOverrides({ symbol: " ethusdt ", timeframe: "4h", driver: "ga", maxIterations: 7, islands: 3 }),
    ).toEqual({
      dataset: { symbol: "ETHUSDT", timeframe: "4h" },
      loop: { driver: "ga", islands: 3 },
      budgets: { max_iterations: 7 },
    });
  });

  it("merge over the default, the bot's files and the preset, and fail clearly", () => {
    const c = startRunConfig([], { preset: "lenient", symbol: "ethusdt", maxIterations: 5 });
    expect(c.dataset.symbol).toBe("ETHUSDT");
    expect(c.budgets.max_iterations).toBe(5);
    expect(c.gates.sharpe_min).toBe(0.3);
    expect(() => startRunConfig([], { timeframe: "banana" })).toThrow(RunConfigError);
    expect(() => startRunConfig([], { preset: "nope" })).toThrow(/unknown preset "nope"/);
  });
});

describe("command definitions", () => {
  it("build valid /research and message-menu commands", () => {
    const [research, menu] = commandDefinitions();
    expect(research?.name).toBe("research");
    expect(menu).toMatchObject({ name: "Nudge this run", type: 3 });
    expect(JSON.stringify(research).length).toBeLessThan(8000);
  });

  it("bound /research start islands: and max_iterations: as the run config schema does", () => {
    const start = (researchCommand().toJSON().options ?? []).find((o) => o.name === "start") as {
      options?: { name: string; min_value?: number; max_value?: number }[];
    };
    const option = (name: string) => start.options?.find((o) => o.name === name);
    expect(option("islands")).toMatchObject({ min_value: 1, max_value: 16 });
    expect(option("max_iterations")).toMatchObject({ min_value: 1 });
    // The bounds are the schema's: the values just inside parse, the values just outside do not.
    const at = (islands: number) => () => startRunConfig([], { islands, maxIterations: 50 });
    expect(at(16)().loop.islands).toBe(16);
    expect(at(1)().loop.islands).toBe(1);
    expect(at(17)).toThrow(/loop\.islands: at most 16 islands/);
    expect(at(0)).toThrow(/loop\.islands: at least 1 island/);
  });
});

describe("thread names and run choices", () => {
  it("keep the run id and fit Discord's 100 characters", () => {
    expect(threadName({ id: "r-1", brief: "a\n b" })).toBe("r-1 · a b");
    expect(threadName({ id: "r-1", brief: "" })).toBe("r-1 · research run");
    expect(threadName({ id: "r-1", brief: "x".repeat(300) })).toHaveLength(100);
    const c = runChoice({ id: "r-0123abcd", status: "running", brief: "y".repeat(300) });
    expect(c.value).toBe("r-0123abcd");
    expect(c.name).toHaveLength(100);
    expect(c.name.startsWith("r-0123abcd · running · y")).toBe(true);
  });
});

describe("command replies", () => {
  it("render status, list, config and leaderboard within Discord's limits", () => {
    const long = run({ brief: "@everyone ".repeat(800), statusReason: "z".repeat(3000), stuck: true });
    for (const e of [
      runStatusEmbed(long),
      runListEmbed(Array.from({ length: 50 }, () => long)),
      runConfigEmbed(long),
      leaderboardEmbed(
        Array.from({ length: 200 }, (_, i) => ({
          runId: "r-0123abcd",
          n: i,
          name: "n".repeat(200),
          family: "trend",
          status: "passed",
          distance: 0,
          metrics: { sharpe: 1.5, maxDrawdown: 0.2, profitFactor: 1.3, tradeCount: 40, dsr: 0.97 },
        })),
        "this server",
      ),
    ]) {
      within(e);
      expect(JSON.stringify(e)).not.toContain("@everyone");
    }
  });

  it("say what a reader needs", () => {
    const s = runStatusEmbed(run());
    expect(s.title).toBe("Run r-0123abcd · running");
    expect(s.fields?.map((f) => [f.name, f.value])).toEqual([
      ["Iterations", "3 / 50"],
      ["Passed every gate", "1"],
      ["Best", "#2 (distance 0.000)"],
      ["Driver", "heuristic"],
      ["Data", "BTCUSDT 1h"],
      ["Owner", "<@600000000000000001>"],
      ["Thread", "<#800000000000000002>"],
    ]);
    const cfg = runConfigEmbed(run());
    expect(cfg.fields?.find((f) => f.name === "Config hash")?.value).toBe(`\`${run().configHash}\``);
    expect(cfg.fields?.find((f) => f.name === "Holdout (sealed)")?.value).toBe("2024-01-01 → 2026-01-01");
    expect(runListEmbed([]).description).toMatch(/^No runs in this server yet/);
    expect(leaderboardEmbed([], "run r-1").description).toBe("No evaluated iterations yet.");
  });

  it("name the islands of a run that has them, and only then", () => {
    const base = run();
    const islands = run({ config: { ...base.config, loop: { ...base.config.loop, islands: 3 } } });
    expect(runStatusEmbed(islands).fields?.find((f) => f.name === "Islands")?.value).toBe("3");
    expect(runStatusEmbed(base).fields?.some((f) => f.name === "Islands")).toBe(false);
    expect(runListEmbed([islands]).description).toContain("· heuristic · 3 islands ·");
    expect(runListEmbed([base]).description).not.toContain("islands");
  });
});
