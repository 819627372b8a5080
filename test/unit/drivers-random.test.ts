import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../../src/backtest/strategy-config.ts";
import type { IterationSummary, Nudge } from "../../src/domain/run.ts";
import { loadRunConfig, type RunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type DriverContext, driverView } from "../../src/loop/driver.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { type Library, type LibraryEntry, loadLibrary } from "../../src/loop/library.ts";

const defaults = readFileSync(DEFAULT_CONFIG_PATH, "utf8");
const configs = new Map<string, RunConfig>();
function runConfig(base: string): RunConfig {
  let c = configs.get(base);
  if (!c) {
    c = loadRunConfig(defaults, [
      { text: `dataset: { symbol: BTCUSDT, timeframe: ${base} }`, source: "test" },
    ]);
    configs.set(base, c);
  }
  return c;
}

function context(iteration: number, seed: number, base = "1h", nudges: string[] = []): DriverContext {
  const config = runConfig(base);
  const history: IterationSummary[] = [];
  return {
    runId: "r",
    iteration,
    brief: "",
    config: driverView(config),
    seed,
    history,
    nudges: nudges.map(
      (text, i): Nudge => ({
        id: i,
        runId: "r",
        author: "a",
        source: "cli",
        text,
        createdAt: new Date(0),
        claimedIteration: null,
      }),
    ),
    signal: new AbortController().signal,
    evaluate: () => Promise.reject(new Error("not used")),
  };
}

describe("random driver", () => {
  const sandbox = new Sandbox();
  let library: Library;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(() => sandbox.dispose());

  it("draws valid configs: params inside declared ranges, timeframe from base, 2×, 4×", async () => {
    const driver = createDriver("random", { library });
    const names = new Set<string>();
    const timeframes = new Set<string>();
    const stops = new Set<string>();
    for (const base of ["1h", "15m"]) {
      for (let seed = 1; seed <= 8; seed++) {
        for (let it = 1; it <= 25; it++) {
          const p = await driver.propose(context(it, seed, base));
          const entry = library.find((e) => e.name === p.candidate?.name) as LibraryEntry;
          expect(p.candidate?.code).toBe(entry.code);
          const r = parseStrategyConfig(p.candidate?.configYaml as string, entry.params);
          expect(r.ok, p.candidate?.configYaml).toBe(true);
          if (!r.ok) continue;
          const want = base === "1h" ? ["1h", "2h", "4h"] : ["15m", "30m", "1h"];
          expect(want).toContain(r.config.timeframe);
          for (const [k, spec] of Object.entries(entry.params)) {
            const v = r.config.params[k];
            if (spec.type === "int") expect(Number.isInteger(v)).toBe(true);
            if (spec.type === "int" || spec.type === "float") {
              expect(v).toBeGreaterThanOrEqual(spec.min);
              expect(v).toBeLessThanOrEqual(spec.max);
            }
          }
          names.add(entry.name);
          timeframes.add(r.config.timeframe);
          stops.add(r.config.risk.stop_loss ? (Object.keys(r.config.risk.stop_loss)[0] as string) : "none");
        }
      }
    }
    expect(names.size).toBe(library.length);
    expect(timeframes.size).toBe(5);
    expect(stops).toEqual(new Set(["none", "percent", "atr"]));
  });

  it("is deterministic per (seed, iteration) and differs across iterations", async () => {
    const a = createDriver("random", { library });
    const b = createDriver("random", { library });
    expect(await b.propose(context(5, 3))).toEqual(await a.propose(context(5, 3)));
    const draws = new Set<string>();
    for (let it = 1; it <= 10; it++)
      draws.add((await a.propose(context(it, 3))).candidate?.configYaml as string);
    expect(draws.size).toBe(10);
  });

  it("always decides new_approach and announces the next draw", async () => {
    const driver = createDriver("random", { library });
    const ctx = context(4, 2);
    const p = await driver.propose(ctx);
    const d = await driver.decide(ctx, p.candidate as never, {
      status: "discarded",
      reasons: ["trades 3 < 30"],
      gates: [],
      distance: 0.5,
      trialId: 1,
    });
    expect(d.decision).toBe("new_approach");
    expect(d.rationale).toContain("trades 3 < 30");
    expect(d.nextHypothesis).toBe((await driver.propose(context(5, 2))).hypothesis);
  });

  it("a nudge naming a strategy restricts the draw to it", async () => {
    const driver = createDriver("random", { library });
    for (let it = 1; it <= 5; it++) {
      const p = await driver.propose(context(it, 1, "1h", ["only supertrend follow for now"]));
      expect(p.candidate?.name).toBe("supertrend-follow");
    }
  });
});
