/**
 * The Discord renderers are pure: these tests hold every post within Discord's limits on
 * adversarial input (30 gates, 10k-character reasons, unicode) and check what the thread shows.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iterationEmbed, iterationMessage, iterationTitle } from "../../src/bot/render/iteration-embed.ts";
import {
  EMBED_LIMITS,
  type Embed,
  embedLength,
  fitEmbed,
  fitEmbeds,
  MESSAGE_LIMITS,
  truncate,
} from "../../src/bot/render/limits.ts";
import { iterationPayload } from "../../src/bot/render/payloads.ts";
import { parseRunControlId, runControls } from "../../src/bot/render/run-controls.ts";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

function expectWithinLimits(e: Embed): void {
  expect(e.title?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.title);
  expect(e.description?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.description);
  expect(e.fields?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.fields);
  for (const f of e.fields ?? []) {
    expect(f.name.length).toBeGreaterThan(0);
    expect(f.name.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldName);
    expect(f.value.length).toBeGreaterThan(0);
    expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
  }
  expect(e.footer?.text.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.footerText);
  expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  // No lone surrogate: a cut never lands inside a pair.
  const all = [
    e.title,
    e.description,
    e.footer?.text,
    ...(e.fields ?? []).flatMap((f) => [f.name, f.value]),
  ].join("");
  expect(wellFormed(all)).toBe(true);
}

const gate = (i: number, pass: boolean) => ({
  gate: `gate_${i}`,
  value: i / 10,
  threshold: 1,
  op: ">=",
  pass,
  margin: i / 10 - 1,
});

const basePayload = {
  n: 7,
  name: "ema-atr",
  family: "momentum",
  status: "discarded",
  hypothesis: "EMA cross filtered by ATR expansion catches trend starts",
  metrics: { sharpe: 0.8, maxDrawdown: 0.31, profitFactor: 1.1, tradeCount: 42, dsr: 0.4, totalReturn: 0.12 },
  gates: [
    { gate: "sharpe", value: 0.8, threshold: 1, op: ">=", pass: false, margin: -0.2 },
    { gate: "max_drawdown", value: 0.31, threshold: 0.25, op: "<=", pass: false, margin: -0.06 },
    { gate: "trades", value: 42, threshold: 30, op: ">=", pass: true, margin: 12 },
  ],
  reasons: ["sharpe 0.80 < 1.00", "max_drawdown 31.0% > 25.0%"],
  decision: {
    decision: "tune",
    rationale: "drawdown from late exits",
    nextHypothesis: "tighter ATR stop at 2x",
  },
  forced: null,
  nudges: [{ id: 3, author: "alice", text: "try a volatility filter" }],
  tokens: { promptTokens: 12_345, completionTokens: 2_100, cachedTokens: 11_000, calls: 3 },
  timings: { proposeMs: 8_200, compileMs: 40, backtestMs: 310, gateMs: 2, decideMs: 1_500 },
  curve: { t: [0, 86_400_000, 172_800_000], equity: [1, 1.05, 0.98], benchmark: [1, 1.02, 1.01] },
};

describe("truncate and fitEmbed", () => {
  it("cuts with an ellipsis and never splits a surrogate pair", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 3)).toBe("abc");
    const emoji = "😀".repeat(10); // 20 code units
    const cut = truncate(emoji, 6);
    expect(cut.length).toBeLessThanOrEqual(6);
    expect(wellFormed(cut)).toBe(true);
    expect(wellFormed(truncate(`a${emoji}`, 6))).toBe(true);
    expect(cut.endsWith("…")).toBe(true);
  });

  it("holds every limit for arbitrary embeds", () => {
    const text = (max: number) => fc.string({ unit: "grapheme", maxLength: max });
    const embed = fc.record({
      title: text(400),
      description: fc.oneof(text(200), fc.string({ unit: "binary", minLength: 3000, maxLength: 9000 })),
      fields: fc.array(
        fc.record({ name: text(300), value: fc.string({ unit: "binary", maxLength: 2000 }) }),
        { maxLength: 40 },
      ),
      footer: fc.record({ text: text(3000) }),
    });
    fc.assert(
      fc.property(embed, (e) => {
        expectWithinLimits(fitEmbed(e));
      }),
      { numRuns: 150 },
    );
  });

  it("shares the 6000 budget across the embeds of one message", () => {
    const big: Embed = {
      title: "x",
      description: "d".repeat(4096),
      fields: [{ name: "f", value: "v".repeat(1024) }],
    };
    const fitted = fitEmbeds([big, big, big]);
    expect(fitted.reduce((n, e) => n + embedLength(e), 0)).toBeLessThanOrEqual(EMBED_LIMITS.total);
    expect(fitted[0]?.description).toBe("d".repeat(4096));
  });

  it("keeps the title and the first fields when the total is too long", () => {
    const e = fitEmbed({
      title: "keep me",
      description: "d".repeat(4000),
      fields: Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, value: "v".repeat(1000) })),
    });
    expect(e.title).toBe("keep me");
    expect(e.fields?.[0]?.value).toBe("v".repeat(1000));
    expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });
});

describe("iteration embed", () => {
  it("titles #n name · family · verdict and shows each gate with value, threshold and ✓/✗", () => {
    const p = iterationPayload(basePayload);
    expect(iterationTitle(p)).toBe("#7 ema-atr · momentum · DISCARD");
    expect(iterationTitle(iterationPayload({ ...basePayload, status: "passed" }))).toBe(
      "#7 ema-atr · momentum · PASS",
    );
    const e = iterationEmbed(p, "r1");
    const field = (name: string) => e.fields?.find((f) => f.name === name)?.value;
    expect(field("sharpe")).toBe("0.80 ≥ 1.00 ✗");
    expect(field("max_drawdown")).toBe("31.0 % ≤ 25.0 % ✗");
    expect(field("trades")).toBe("42 ≥ 30 ✓");
    expect(e.description).toContain("• sharpe 0.80 < 1.00");
    expect(e.description).toContain("• max_drawdown 31.0% > 25.0%");
    expect(field("Decision")).toBe("**tune** — drawdown from late exits");
    expect(field("Next hypothesis")).toBe("tighter ATR stop at 2x");
    expect(field("Nudge applied")).toBe("> try a volatility filter — alice");
    expect(field("Tokens")).toBe("12k in (11k cached) · 2100 out · 3 calls");
    expect(field("Time")).toBe("10.1 s (propose 8.2 s, backtest 310 ms, decide 1.5 s)");
    expectWithinLimits(e);
  });

  it("stays within limits with 30 gates, 10k-character reasons and unicode everywhere", () => {
    const wide = "🧪ñ̃ع中𝕏".repeat(2000);
    const p = iterationPayload({
      ...basePayload,
      name: `ema-${wide}`,
      family: wide,
      hypothesis: wide,
      gates: Array.from({ length: 30 }, (_, i) => ({
        ...gate(i, i % 3 !== 0 && i > 0),
        gate: `g${i}-${wide.slice(0, 500)}`,
      })),
      reasons: Array.from({ length: 40 }, (_, i) => `${i}: ${"r".repeat(10_000)}`),
      decision: { decision: "fix", rationale: wide, nextHypothesis: wide },
      forced: wide,
      nudges: Array.from({ length: 12 }, (_, i) => ({ id: i, author: wide.slice(0, 50), text: wide })),
      island: 15,
      migrants: Array.from({ length: 15 }, (_, i) => ({ island: i, n: 1000 + i, name: wide })),
    });
    const e = iterationEmbed(p, "r".repeat(200));
    expectWithinLimits(e);
    expect(e.title?.startsWith("#7 ema-")).toBe(true);
    // The island and verdict are what a reader scans for: a long name never pushes them out.
    expect(e.title?.endsWith(" · island 15 · DISCARD")).toBe(true);
    const migrantsIn = e.fields?.find((f) => f.name === "Migrants in")?.value ?? "";
    expect(migrantsIn).toMatch(/^island 0: #1000 /);
    // Whole migrants while they fit, then a count of the rest, so 15 long names stay short.
    expect(migrantsIn).toMatch(/ · \+\d+ more$/);
    expect(migrantsIn.length).toBeLessThanOrEqual(300);
    // Every failing gate gets its own field before any passing one; the rest are summed up.
    const gateFields = (e.fields ?? []).filter((f) => /^g\d+-/.test(f.name));
    const failing = gateFields.filter((f) => f.value.endsWith("✗"));
    expect(failing).toHaveLength(10);
    expect(gateFields.slice(0, 10)).toEqual(failing);
    const summary = e.fields?.find((f) => /^\+\d+ gates$/.test(f.name));
    expect(Number(summary?.name.slice(1, -6)) + gateFields.length).toBe(30);
    expect(e.fields).toHaveLength(25);
    // Long text does not crowd out the verdict: reasons, decision and cost all survive.
    expect(e.description).toContain("• 0: rrr");
    expect(e.description).toMatch(/…and \d+ more$/);
    for (const name of ["Migrants in", "Decision", "Next hypothesis", "Tokens", "Time"]) {
      expect(e.fields?.some((f) => f.name === name)).toBe(true);
    }
  });

  it("names the island (0-based, like the terminal's isl column) and the migrants it was shown", () => {
    const p = iterationPayload({
      ...basePayload,
      island: 2,
      migrants: [
        { island: 0, n: 4, name: "ema-cross" },
        { island: 1, n: 6, name: null },
      ],
    });
    expect(iterationTitle(p)).toBe("#7 ema-atr · momentum · island 2 · DISCARD");
    const e = iterationEmbed(p, "r1");
    expect(e.fields?.find((f) => f.name === "Migrants in")?.value).toBe(
      "island 0: #4 ema-cross · island 1: #6 unnamed",
    );
    expectWithinLimits(e);
    // A run without islands: no island in the title, no migrants field.
    const plain = iterationEmbed(iterationPayload(basePayload), "r1");
    expect(plain.title).toBe("#7 ema-atr · momentum · DISCARD");
    expect(plain.fields?.some((f) => f.name === "Migrants in")).toBe(false);
    // Island 0 is still an island; a mistyped island or migrant is left out, not shown as NaN.
    expect(iterationTitle(iterationPayload({ ...basePayload, island: 0 }))).toBe(
      "#7 ema-atr · momentum · island 0 · DISCARD",
    );
    const odd = iterationPayload({ ...basePayload, island: "2", migrants: [{ island: -1 }, "x", { n: 3 }] });
    expect(odd.island).toBeNull();
    expect(odd.migrants).toEqual([]);
  });

  it("reads a payload with missing or mistyped fields without throwing", () => {
    const p = iterationPayload({ n: "x", gates: "nope", reasons: [1, { a: 2 }], metrics: null, decision: 5 });
    const e = iterationEmbed(p, "r");
    expect(e.title).toBe("#0 unnamed · unknown · DISCARD");
    expectWithinLimits(e);
  });

  it("attaches the chart by filename when there is one, and neutralises @everyone from the model", () => {
    const p = iterationPayload({ ...basePayload, hypothesis: "ping @everyone and @here" });
    const png = new Uint8Array([1, 2, 3]);
    const m = iterationMessage(p, "r1", "running", png);
    expect(m.files?.[0]?.name).toBe("equity-7.png");
    expect(m.embeds?.[0]?.image?.url).toBe("attachment://equity-7.png");
    expect(m.embeds?.[0]?.description).not.toMatch(/@everyone|@here/);
    expect(m.allowed_mentions).toEqual({ parse: [] });
    const without = iterationMessage(p, "r1", "running");
    expect(without.files).toBeUndefined();
    expect(without.embeds?.[0]?.image).toBeUndefined();
  });
});

describe("run controls", () => {
  it("offers Stop, Pause or Resume by state, and Nudge, with parseable custom ids", () => {
    const running = runControls("r42", "running")[0]?.components ?? [];
    expect(running.map((b) => [b.label, b.custom_id])).toEqual([
      ["Stop", "run:r42:stop"],
      ["Pause", "run:r42:pause"],
      ["Nudge", "run:r42:nudge"],
    ]);
    expect(runControls("r42", "paused")[0]?.components[1]?.custom_id).toBe("run:r42:resume");
    expect(runControls("r42", "finished")).toEqual([]);
    expect(parseRunControlId("run:a:b:stop")).toEqual({ runId: "a:b", action: "stop" });
    expect(parseRunControlId("run:x:explode")).toBeUndefined();
    for (const b of running) expect(b.custom_id.length).toBeLessThanOrEqual(MESSAGE_LIMITS.customId);
  });
});
