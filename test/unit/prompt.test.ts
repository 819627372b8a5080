import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { StrategyConfigSchema } from "../../src/domain/strategy-config.ts";
import {
  apiReference,
  buildPrompt,
  NUDGES_HEADING,
  type PromptRunState,
  promptRunStateOf,
  systemPrompt,
} from "../../src/llm/prompt.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";

const config = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));

function state(iteration: number, nextHypothesis?: string): PromptRunState {
  return promptRunStateOf(config, {
    runId: "run-7",
    iteration,
    brief: "trend strategies on 4h that survive 2022",
    ...(nextHypothesis ? { nextHypothesis } : {}),
  });
}

const line = (i: number) =>
  `#${i}  ema-cross-v${i}  trend  Sharpe ${(0.1 * i).toFixed(2)}  DD 18 %  trades 41  DISCARD sharpe<1.0  → tune`;
const history = (n: number) => Array.from({ length: n }, (_, i) => line(i + 1)).join("\n");
const whole = (p: { system: string; user: string }) => `${p.system}\n${p.user}`;

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Every way a date could be spelled in a prompt: ISO day, with a time, year-month, compact. */
function spellings(date: string): string[] {
  const d = new Date(Date.parse(`${date.slice(0, 10)}T00:00:00Z`));
  const iso = d.toISOString();
  return [iso.slice(0, 10), iso.slice(0, 16), iso.slice(0, 10).replace(/-/g, ""), String(d.getTime())];
}

describe("agent prompt", () => {
  it("keeps at least 90 % of the characters as an identical prefix between consecutive iterations", () => {
    for (const n of [1, 5, 30]) {
      const before = whole(buildPrompt({ state: state(n), history: history(n - 1), nudges: [] }));
      const after = whole(
        buildPrompt({
          state: state(n + 1, "EMA cross with an ADX filter"),
          history: history(n),
          nudges: ["stop using EMA crosses, try volatility breakouts"],
        }),
      );
      const shared = commonPrefix(before, after);
      expect(shared / Math.max(before.length, after.length), `iteration ${n}`).toBeGreaterThanOrEqual(0.9);
      // The history of the earlier prompt survives intact inside the shared prefix.
      expect(after.slice(0, shared)).toContain(history(n - 1));
    }
    expect(systemPrompt()).toBe(buildPrompt({ state: state(2), history: "", nudges: [] }).system);
  });

  it("never contains the holdout dates of the default config", () => {
    const { holdout, search } = config.windows;
    const p = whole(buildPrompt({ state: state(3, "tune"), history: history(2), nudges: ["be bold"] }));
    expect(holdout.start).toBe(search.end); // the case that matters: the search end bound is a holdout date
    for (const date of [holdout.start, holdout.end]) {
      for (const spelled of spellings(date)) expect(p).not.toContain(spelled);
    }
    expect(p).toContain("2019-01-01 to 2023-12-31 inclusive");
    expect(p.toLowerCase()).not.toMatch(/holdout (window|period|dates?) (is|are|:)/);
  });

  it("refuses a state with holdout or any other extra field, even through a cast", () => {
    const leaky = { ...state(1), holdout: config.windows.holdout } as unknown as PromptRunState;
    expect(() => buildPrompt({ state: leaky, history: "", nudges: [] })).toThrow(/holdout/);
    const wholeConfig = { ...state(1), windows: config.windows } as unknown as PromptRunState;
    expect(() => buildPrompt({ state: wholeConfig, history: "", nudges: [] })).toThrow(/windows/);
  });

  it("documents every ta function and every strategy config key, generated from the code", () => {
    const ref = apiReference();
    for (const name of Object.keys(ta)) expect(ref, name).toContain(`ta.${name}(`);
    const keys = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const n of node) collect(n);
        return;
      }
      if (node === null || typeof node !== "object") return;
      for (const [k, v] of Object.entries(node)) {
        if (k === "properties" && v && typeof v === "object") for (const key of Object.keys(v)) keys.add(key);
        collect(v);
      }
    };
    collect(StrategyConfigSchema.toJSONSchema());
    for (const k of [
      "strategy",
      "timeframe",
      "params",
      "direction",
      "risk",
      "sizing",
      "stop_loss",
      "atr_period",
      "r_multiple",
      "time_stop_bars",
      "vol_lookback",
      "max_leverage",
    ]) {
      expect(keys.has(k), k).toBe(true);
    }
    for (const k of keys) expect(ref, k).toContain(`"${k}"`);
    for (const fn of ["defineStrategy", "int(", "float(", "bool(", "choice(", "enterLong", "target"]) {
      expect(ref).toContain(fn);
    }
    expect(ref).toContain("| `supertrend-follow`");
    for (const name of [
      "list_files",
      "read_file",
      "write_file",
      "edit_file",
      "run_backtest",
      "get_history",
      "read_notes",
    ]) {
      expect(systemPrompt()).toContain(`- ${name}(`);
    }
    expect(systemPrompt()).toContain(
      'decide(decision: "abandon" | "fix" | "tune" | "new_approach", rationale: string',
    );
  });

  it("puts the nudges in a marked section that is always present and always last", () => {
    const none = buildPrompt({ state: state(1), history: "", nudges: [] }).user;
    expect(none).toContain(`${NUDGES_HEADING}\n\nNone so far.`);
    const p = buildPrompt({
      state: state(4),
      history: history(3),
      nudges: ["use 4h bars only", "  try range strategies  "],
    }).user;
    const at = p.indexOf(NUDGES_HEADING);
    expect(at).toBeGreaterThan(p.indexOf("# History of this run"));
    expect(at).toBeGreaterThan(p.indexOf("# Iteration 4 of 50"));
    expect(p.slice(at)).toContain("take priority");
    expect(p.trimEnd().endsWith("1. use 4h bars only\n2. try range strategies")).toBe(true);
    expect(p.indexOf("#", at + NUDGES_HEADING.length)).toBe(-1);
  });
});
