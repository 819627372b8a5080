import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  durationMs,
  freezeRunConfig,
  loadRunConfig,
  RunConfigError,
  windowMs,
} from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH, loadRunConfigFiles } from "../../src/loop/config-files.ts";

const defaults = readFileSync(DEFAULT_CONFIG_PATH, "utf8");

function problemsOf(override: string): string[] {
  try {
    loadRunConfig(defaults, [{ text: override, source: "test.yaml" }]);
  } catch (err) {
    expect(err).toBeInstanceOf(RunConfigError);
    return [...(err as RunConfigError).problems];
  }
  throw new Error("expected the config to be rejected");
}

describe("run config", () => {
  it("loads the shipped default with every section filled", () => {
    const c = loadRunConfigFiles();
    expect(c.dataset).toEqual({ symbol: "BTCUSDT", timeframe: "1h" });
    expect(c.walk_forward.folds).toBe(4);
    expect(c.gates.sharpe_min).toBe(1);
    expect(windowMs(c.windows.search).end).toBe(Date.UTC(2024, 0, 1));
  });

  it("names an unknown key with its full path and the closest known key", () => {
    expect(problemsOf("gates:\n  sharpe_mn: 2\n")).toEqual([
      "gates.sharpe_mn: unknown key; did you mean sharpe_min?",
    ]);
    expect(problemsOf("budgetz: {}\n")[0]).toBe("budgetz: unknown key; did you mean budgets?");
  });

  it("lists the keys when nothing is close", () => {
    expect(problemsOf("costs:\n  zzzzzzzz: 1\n")[0]).toBe(
      "costs.zzzzzzzz: unknown key; expected one of fee_bps, slippage_bps",
    );
  });

  it("rejects a holdout before the search window, naming the keys", () => {
    const p = problemsOf('windows:\n  holdout: { start: "2018-01-01", end: "2018-06-01" }\n');
    expect(p.some((m) => m.startsWith("windows.holdout.start") && m.includes("windows.search.end"))).toBe(
      true,
    );
  });

  it("rejects an overlapping holdout", () => {
    const p = problemsOf('windows:\n  holdout: { start: "2023-06-01", end: "2025-01-01" }\n');
    expect(p.join("\n")).toMatch(/windows\.holdout\.start .*must not be before windows\.search\.end/);
  });

  it("rejects an end before its start", () => {
    const p = problemsOf('windows:\n  search: { start: "2022-01-01", end: "2021-01-01" }\n');
    expect(p.join("\n")).toContain(
      "windows.search.end (2021-01-01) must be after windows.search.start (2022-01-01)",
    );
  });

  it("rejects gates that cannot be met, naming the key", () => {
    expect(problemsOf("gates:\n  trades_min: -5\n")[0]).toMatch(/^gates\.trades_min: must be ≥ 0/);
    expect(problemsOf("gates:\n  dsr_min: 1.5\n")[0]).toMatch(/^gates\.dsr_min: a probability in \[0, 1\]/);
    expect(problemsOf("gates:\n  folds_positive_min: 9\n")[0]).toMatch(
      /^gates\.folds_positive_min: .*cannot exceed/,
    );
    expect(problemsOf("gates:\n  metrics:\n    sortino: { min: 3, max: 1 }\n")[0]).toMatch(
      /^gates\.metrics\.sortino/,
    );
  });

  it("accepts unquoted YAML dates", () => {
    const c = loadRunConfig(defaults, [
      { text: "windows:\n  search: { start: 2020-01-01, end: 2023-01-01 }\n", source: "t" },
    ]);
    expect(windowMs(c.windows.search).start).toBe(Date.UTC(2020, 0, 1));
  });

  it("reports malformed YAML as a config error", () => {
    expect(problemsOf("gates: [unclosed\n")[0]).toMatch(/^not valid YAML/);
  });

  it("freezes to canonical JSON whose hash ignores key order and changes with any value", () => {
    const a = loadRunConfig(defaults);
    const reordered = loadRunConfig(defaults, [
      { text: "loop: { seed: 1 }\ncosts: { slippage_bps: 5, fee_bps: 10 }\n", source: "t" },
    ]);
    const changed = loadRunConfig(defaults, [{ text: "costs: { fee_bps: 11 }\n", source: "t" }]);
    const fa = freezeRunConfig(a);
    expect(fa.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(freezeRunConfig(reordered).hash).toBe(fa.hash);
    expect(freezeRunConfig(changed).hash).not.toBe(fa.hash);
    expect(JSON.parse(fa.canonical)).toEqual(a);
    expect(Object.isFrozen(fa.config.gates)).toBe(true);
    expect(() => {
      (fa.config.gates as { sharpe_min: number }).sharpe_min = 0;
    }).toThrow(TypeError);
  });

  it("parses wall-clock budgets", () => {
    expect(durationMs("6h")).toBe(6 * 3_600_000);
    expect(durationMs("90m")).toBe(90 * 60_000);
    expect(durationMs(30)).toBe(30_000);
  });
});
