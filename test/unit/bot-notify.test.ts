/**
 * Notification renderers, the run card, notification settings, the chart config and the push
 * webhook's format choice: all pure.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { notifyMode, parseNotifySettings } from "../../src/bot/notify-settings.ts";
import { EMBED_LIMITS, embedLength } from "../../src/bot/render/limits.ts";
import {
  gatePassDm,
  gatePassMention,
  gatePassPush,
  holdoutMessage,
  statusMessage,
  stuckPing,
} from "../../src/bot/render/notifications.ts";
import { gatePassedPayload, holdoutPayload } from "../../src/bot/render/payloads.ts";
import { runCardEmbed } from "../../src/bot/render/run-card.ts";
import { headerValue, looksLikeNtfy } from "../../src/bot/webhook.ts";
import { drawdownOf, equityChartConfig } from "../../src/charts/equity-chart.ts";
import { freezeRunConfig, loadRunConfig } from "../../src/domain/run-config.ts";

const OWNER = "123456789012345678";
const run = { id: "r7", owner: OWNER, guildId: "900000000000000001", threadId: "900000000000000002" };
const passedJson = {
  n: 7,
  name: "ema-atr",
  family: "momentum",
  metrics: { sharpe: 1.6, maxDrawdown: 0.18, profitFactor: 1.5, tradeCount: 64, dsr: 0.97, totalReturn: 0.8 },
  gates: [{ gate: "sharpe", value: 1.6, threshold: 1, op: ">=", pass: true, margin: 0.6 }],
  code: "export default function strategy() {}\n",
  configYaml: "timeframe: 1h\nparams: {}\n",
};
const passed = gatePassedPayload(passedJson);

describe("gate-pass notifications", () => {
  it("mentions the owner in content and lets exactly that user ping when on", () => {
    const m = gatePassMention(run, passed, "on");
    expect(m?.content?.startsWith(`<@${OWNER}> #7 ema-atr · momentum passed every gate.`)).toBe(true);
    expect(m?.content).toContain("Eligible, not proven alpha");
    expect(m?.allowed_mentions).toEqual({ parse: [], users: [OWNER] });
    expect(m?.flags).toBeUndefined();
  });

  it("keeps the mention text but pings nobody when silent, and posts nothing when off", () => {
    const m = gatePassMention(run, passed, "silent");
    expect(m?.content).toContain(`<@${OWNER}>`);
    expect(m?.allowed_mentions).toEqual({ parse: [] });
    expect(m?.flags).toBe(4096);
    expect(gatePassMention(run, passed, "off")).toBeUndefined();
  });

  it("never mentions an owner that is not a Discord user id", () => {
    const m = gatePassMention({ ...run, owner: "cli-user" }, passed, "on");
    expect(m?.content).not.toContain("<@");
    expect(m?.allowed_mentions).toEqual({ parse: [] });
  });

  it("DMs a summary with the thread link and the code and YAML as files", () => {
    const dm = gatePassDm(run, passed);
    expect(dm.files?.map((f) => [f.name, new TextDecoder().decode(f.data)])).toEqual([
      ["ema-atr-7.ts", "export default function strategy() {}\n"],
      ["ema-atr-7.yaml", "timeframe: 1h\nparams: {}\n"],
    ]);
    expect(dm.embeds?.[0]?.description).toContain(
      `https://discord.com/channels/${run.guildId}/${run.threadId}`,
    );
    expect(dm.embeds?.[0]?.fields?.[0]).toEqual({ name: "sharpe", value: "1.60 ≥ 1.00 ✓", inline: true });
    expect(dm.allowed_mentions).toEqual({ parse: [] });
  });

  it("names the island of a pass in a run with islands, in the ping, the DM and the push", () => {
    const onIsland = gatePassedPayload({ ...passedJson, island: 3 });
    expect(gatePassMention(run, onIsland, "on")?.content).toContain(
      "#7 ema-atr · momentum · island 3 passed every gate.",
    );
    expect(gatePassDm(run, onIsland).embeds?.[0]?.title).toBe(
      "#7 ema-atr · momentum · island 3 passed every gate",
    );
    expect(gatePassPush(run, onIsland).title).toBe(
      "alphaloop: #7 ema-atr · momentum · island 3 passed every gate",
    );
    expect(gatePassMention(run, passed, "on")?.content).not.toContain("island");
  });

  it("writes a plain push text without Discord markup", () => {
    const push = gatePassPush(run, passed);
    expect(push.title).toBe("alphaloop: #7 ema-atr · momentum passed every gate");
    expect(push.message).not.toMatch(/[<*`]/);
    expect(push.url).toBe(`https://discord.com/channels/${run.guildId}/${run.threadId}`);
  });
});

describe("holdout, stuck and status posts", () => {
  it("reports the holdout once with its sealed window and peek count", () => {
    const h = holdoutPayload({
      n: 7,
      name: "ema-atr",
      ok: true,
      metrics: { sharpe: 0.9, totalReturn: 0.1, tradeCount: 12 },
      from: Date.UTC(2024, 0, 1),
      to: Date.UTC(2025, 11, 31),
      peeks: 3,
    });
    const m = holdoutMessage(run, h, "silent");
    expect(m.embeds?.[0]?.description).toContain("2024-01-01 → 2025-12-31");
    expect(m.embeds?.[0]?.description).toContain("so far: 3");
    expect(m.content).toBeUndefined();
    expect(holdoutMessage(run, h, "on").allowed_mentions).toEqual({ parse: [], users: [OWNER] });
    const failed = holdoutMessage(
      run,
      holdoutPayload({ n: 7, ok: false, error: "sandbox timeout", peeks: 1 }),
      "on",
    );
    expect(failed.embeds?.[0]?.title).toContain("failed to evaluate");
  });

  it("asks the owner for a nudge when stuck", () => {
    const m = stuckPing(run, { n: 12, reason: "no improvement in 8 iterations" }, "on");
    expect(m?.content).toContain(`<@${OWNER}> the run looks stuck after #12: no improvement in 8 iterations`);
    expect(m?.content).toContain("Nudge");
    expect(m?.allowed_mentions.users).toEqual([OWNER]);
    expect(stuckPing(run, { n: 12, reason: "x" }, "off")).toBeUndefined();
  });

  it("summarises a finished run", () => {
    const m = statusMessage("run.finished", {
      status: "completed",
      reason: "reached max_iterations (50)",
      iterations: 50,
      passes: 2,
      bestIteration: 31,
      bestDistance: 0,
    });
    expect(m.content).toBe(
      "■ Run completed: reached max_iterations (50). 50 iterations, 2 passed the gates. Closest to the gates: #31 (distance 0.00).",
    );
  });
});

describe("run card", () => {
  it("shows brief, driver, windows with the holdout as dates only, gates, hash and owner", () => {
    const config = loadRunConfig(readFileSync("configs/default.yaml", "utf8"), []);
    const frozen = freezeRunConfig(config);
    const e = runCardEmbed({
      id: "r7",
      brief: "mean reversion on BTC 1h",
      driver: "llm",
      config,
      configHash: frozen.hash,
      owner: OWNER,
      status: "running",
    });
    const field = (n: string) => e.fields?.find((f) => f.name === n)?.value;
    expect(e.description).toBe("mean reversion on BTC 1h");
    expect(field("Holdout (sealed)")).toBe("2024-01-01 → 2026-01-01");
    expect(field("Search window")).toBe("2019-01-01 → 2024-01-01 · 4 rolling folds");
    expect(field("Gates")).toContain("sharpe ≥ 1");
    expect(field("Gates")).toContain("max drawdown ≤ 25.0 %");
    expect(field("Config")).toBe(`\`${frozen.hash.slice(0, 12)}\``);
    expect(field("Owner")).toBe(`<@${OWNER}>`);
    expect(field("Islands")).toBeUndefined();
    expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });

  it("shows the islands and their migration interval when the run has more than one", () => {
    const config = loadRunConfig(readFileSync("configs/default.yaml", "utf8"), [
      { text: "loop: { islands: 4, migrate_every: 6 }", source: "islands.yaml" },
    ]);
    const e = runCardEmbed({
      id: "r8",
      brief: "b",
      driver: "ga",
      config,
      configHash: freezeRunConfig(config).hash,
      owner: OWNER,
      status: "running",
    });
    expect(e.fields?.find((f) => f.name === "Islands")?.value).toBe(
      "4 (seeds 1…4) · best of each shown to the others every 6 iterations",
    );
    expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });
});

describe("notification settings", () => {
  it("resolves guild over default over built-in", () => {
    const s = parseNotifySettings(
      JSON.stringify({
        default: { "run.stuck": "silent" },
        guilds: { g1: { "run.stuck": "off", "gate.passed": "silent" } },
      }),
    );
    expect(notifyMode(s, "g1", "run.stuck")).toBe("off");
    expect(notifyMode(s, "g2", "run.stuck")).toBe("silent");
    expect(notifyMode(s, null, "gate.passed")).toBe("on");
    expect(notifyMode(s, "g1", "gate.passed")).toBe("silent");
    expect(notifyMode(parseNotifySettings(undefined), "g1", "holdout.evaluated")).toBe("silent");
  });

  it("rejects unknown modes and keys with the setting's name", () => {
    expect(() => parseNotifySettings('{"default": {"gate.passed": "loud"}}')).toThrow(/ALPHALOOP_NOTIFY/);
    expect(() => parseNotifySettings('{"defaults": {}}')).toThrow(/ALPHALOOP_NOTIFY/);
    expect(() => parseNotifySettings("{nope")).toThrow(/not JSON/);
  });
});

describe("equity chart config", () => {
  it("draws candidate, buy-and-hold and drawdown below, thinned to a few hundred points", () => {
    const n = 2000;
    const t = Array.from({ length: n }, (_, i) => Date.UTC(2020, 0, 1) + i * 3_600_000);
    const equity = t.map((_, i) => 1 + 0.2 * Math.sin(i / 100));
    const benchmark = t.map((_, i) => 1 + i / n);
    const c = equityChartConfig({ t, equity, benchmark }, "#7 ema-atr") as {
      data: { labels: string[]; datasets: { label: string; data: number[]; yAxisID: string }[] };
      options: { scales: Record<string, { stack?: string; stackWeight?: number }> };
    };
    expect(c.data.datasets.map((d) => [d.label, d.yAxisID])).toEqual([
      ["candidate", "equity"],
      ["buy & hold", "equity"],
      ["drawdown", "drawdown"],
    ]);
    expect(c.data.labels.length).toBeLessThanOrEqual(301);
    expect(c.data.labels[0]).toBe("2020-01-01");
    expect(c.data.datasets[0]?.data.at(-1)).toBeCloseTo(equity.at(-1) as number, 4);
    expect(Math.min(...(c.data.datasets[2]?.data ?? []))).toBeLessThan(-10);
    expect(Math.max(...(c.data.datasets[2]?.data ?? []))).toBe(0);
    expect(c.options.scales["equity"]?.stack).toBe(c.options.scales["drawdown"]?.stack);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });

  it("computes drawdown from the running peak", () => {
    expect(drawdownOf([1, 2, 1, 3, 1.5])).toEqual([0, 0, -0.5, 0, -0.5]);
  });
});

describe("push webhook format", () => {
  it("treats ntfy hosts and bare topic paths as ntfy, other webhooks as JSON", () => {
    expect(looksLikeNtfy("https://ntfy.sh/alphaloop-alerts")).toBe(true);
    expect(looksLikeNtfy("http://ntfy.lan:8080/runs")).toBe(true);
    expect(looksLikeNtfy("http://10.0.0.5/alphaloop")).toBe(true);
    expect(looksLikeNtfy("https://hooks.slack.com/services/T0/B0/xyz")).toBe(false);
    expect(looksLikeNtfy("https://example.com/webhook")).toBe(false);
    expect(looksLikeNtfy("https://example.com/api/notify")).toBe(false);
  });

  it("encodes non-ASCII header values as RFC 2047 words", () => {
    expect(headerValue("plain title")).toBe("plain title");
    const v = headerValue("#7 ema · PASS 🎯");
    expect(v).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    expect(Buffer.from(v.slice(10, -2), "base64").toString("utf8")).toBe("#7 ema · PASS 🎯");
  });
});
