import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import {
  BRIEF_ANGLES,
  briefVariant,
  buildPrompt,
  COVERAGE_HEADING,
  NUDGES_HEADING,
  type PromptRunState,
  promptRunStateOf,
  shuffleLibraryIndex,
  systemPrompt,
} from "../../src/llm/prompt.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { createRandom } from "../../src/market/prng.ts";

const config = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));

function state(iteration: number, nextHypothesis?: string): PromptRunState {
  return promptRunStateOf(config, {
    runId: "run-9",
    iteration,
    brief: briefVariant("trend strategies on 4h", 42),
    ...(nextHypothesis ? { nextHypothesis } : {}),
  });
}

const history = (n: number) =>
  Array.from({ length: n }, (_, i) => `${i + 1} | ema-v${i} | trend | discarded | 0.${i} | -`).join("\n");
const coverage = (n: number) =>
  `trend · 1h · mid | ${n} | 0.40 (iteration 1)\nuntried: breakout·4h, range·1d`;
const whole = (p: { system: string; user: string }) => `${p.system}\n${p.user}`;

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The library index rows of a system prompt, in the order shown. */
const indexRows = (s: string) => s.split("\n").filter((l) => /^\|\s*`[^`]+`/.test(l));

const SEEDS = Array.from({ length: 40 }, (_, i) => i * 7919 + 1);

describe("prompt jitter", () => {
  it("keeps ≥ 90 % shared prefix between consecutive iterations of one seeded run, coverage included", () => {
    for (const n of [1, 5, 30]) {
      const before = whole(
        buildPrompt({
          state: state(n),
          history: history(n - 1),
          coverage: coverage(n - 1),
          nudges: [],
          seed: 42,
        }),
      );
      const after = whole(
        buildPrompt({
          state: state(n + 1, "Donchian breakout on 4h"),
          history: history(n),
          coverage: coverage(n),
          nudges: ["try breakouts"],
          seed: 42,
        }),
      );
      const shared = commonPrefix(before, after);
      expect(shared / Math.max(before.length, after.length), `iteration ${n}`).toBeGreaterThanOrEqual(0.9);
      expect(after.slice(0, shared)).toContain(systemPrompt(42));
    }
  });

  it("gives different seeds different system prompts that keep every rule and the whole library", () => {
    const canonical = systemPrompt();
    const canonicalRows = indexRows(canonical);
    expect(canonicalRows.length).toBeGreaterThanOrEqual(5);
    const prompts = new Set<string>();
    const orders = new Set<string>();
    for (const seed of SEEDS) {
      const s = systemPrompt(seed);
      expect(systemPrompt(seed)).toBe(s); // stable for the run
      prompts.add(s);
      const rows = indexRows(s);
      orders.add(rows.join("\n"));
      expect([...rows].sort()).toEqual([...canonicalRows].sort());
      // The rules each wording must keep (line breaks inside a sentence vary with the wording).
      const flat = s.replace(/\s+/g, " ");
      expect(flat, `seed ${seed}`).toMatch(/holdout period/i);
      expect(flat).toContain("never shown to you");
      expect(flat).toContain("passes every gate");
      expect(flat).toContain("Do not try to guess or target it.");
      expect(flat).toContain("You only ever see the search window.");
      expect(flat).toMatch(/frozen for the whole run/);
      expect(flat).toContain("policy violation: it is reported and never applied.");
      expect(flat).toMatch(/trial ledger/);
      expect(flat).toMatch(/Deflated Sharpe gate/);
      expect(flat).toMatch(/ONE idea/);
      for (const d of [
        "abandon: drop this idea",
        "fix: the code or the config errored",
        "tune: same idea",
        "new_approach: a different family",
      ]) {
        expect(s).toContain(`- ${d}`);
      }
      expect(s).toMatch(/decide/);
      expect(s).toContain("next_hypothesis");
      // Jitter only touches the wording and the index order, never the generated reference.
      expect(s.slice(s.indexOf("# Strategy API"), s.indexOf("# The strategy library"))).toBe(
        canonical.slice(canonical.indexOf("# Strategy API"), canonical.indexOf("# The strategy library")),
      );
    }
    expect(prompts.size).toBeGreaterThan(SEEDS.length / 2);
    expect(orders.size).toBeGreaterThan(SEEDS.length / 2);
    expect(systemPrompt(1)).not.toBe(systemPrompt(2));
  });

  it("shuffles only the index rows of the library README", () => {
    const readme =
      "intro\n\n| strategy | family |\n| --- | --- |\n| `a` | x |\n| `b` | y |\n| `c` | z |\n\nafter";
    const out = shuffleLibraryIndex(readme, createRandom(3));
    const lines = out.split("\n");
    expect(lines.slice(0, 4)).toEqual(["intro", "", "| strategy | family |", "| --- | --- |"]);
    expect(lines.slice(-2)).toEqual(["", "after"]);
    expect([...lines.slice(4, 7)].sort()).toEqual(["| `a` | x |", "| `b` | y |", "| `c` | z |"]);
    const seen = new Set(Array.from({ length: 30 }, (_, s) => shuffleLibraryIndex(readme, createRandom(s))));
    expect(seen.size).toBeGreaterThan(2);
  });

  it("puts the coverage map in the user message, after the history and before the iteration line", () => {
    const p = buildPrompt({
      state: state(3),
      history: history(2),
      coverage: coverage(2),
      nudges: ["x"],
      seed: 5,
    });
    expect(p.system).not.toContain(COVERAGE_HEADING);
    const at = p.user.indexOf(COVERAGE_HEADING);
    expect(at).toBeGreaterThan(p.user.indexOf("# History of this run"));
    expect(at).toBeLessThan(p.user.indexOf("# Iteration 3 of"));
    expect(at).toBeLessThan(p.user.indexOf(NUDGES_HEADING));
    expect(p.user).toContain(`${COVERAGE_HEADING}\n\n${coverage(2)}`);
    const none = buildPrompt({ state: state(1), history: "", nudges: [] });
    expect(none.user).not.toContain(COVERAGE_HEADING);
  });

  it("adds a seeded angle line to the brief: stable per seed, varied across seeds", () => {
    const v = briefVariant("  trend strategies on 4h ", 42);
    expect(v).toBe(briefVariant("trend strategies on 4h", 42));
    const [brief, angle] = v.split("\n");
    expect(brief).toBe("trend strategies on 4h");
    expect(angle?.startsWith("Angle for this run: ")).toBe(true);
    expect(BRIEF_ANGLES).toContain(angle?.slice("Angle for this run: ".length));
    const angles = new Set(SEEDS.map((s) => briefVariant("b", s).split("\n")[1]));
    expect(angles.size).toBeGreaterThanOrEqual(BRIEF_ANGLES.length - 2);
    expect(briefVariant("", 1).split("\n")[0]).toBe("find a strategy that clears every gate");
    const user = buildPrompt({ state: state(1), history: "", nudges: [] }).user;
    expect(user).toContain(`Brief: ${briefVariant("trend strategies on 4h", 42)}`);
  });
});
