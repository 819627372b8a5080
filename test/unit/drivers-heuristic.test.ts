import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../../src/backtest/strategy-config.ts";
import type { IterationSummary, Nudge } from "../../src/domain/run.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import type { StrategyConfig } from "../../src/domain/strategy-config.ts";
import { timeframeMs } from "../../src/domain/timeframe.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import {
  type CandidateOutcome,
  type DriverContext,
  driverView,
  type ProposedCandidate,
} from "../../src/loop/driver.ts";
import { genomeYaml, randomGenome, shippedGenome } from "../../src/loop/drivers/genome.ts";
import { HeuristicDriver, isLookback } from "../../src/loop/drivers/heuristic.ts";
import { type Library, type LibraryEntry, loadLibrary } from "../../src/loop/library.ts";
import { createRandom } from "../../src/market/prng.ts";

const defaults = readFileSync(DEFAULT_CONFIG_PATH, "utf8");

function context(o: {
  history?: IterationSummary[];
  seed?: number;
  nudges?: string[];
  base?: string;
  iteration?: number;
}): DriverContext {
  const config = loadRunConfig(defaults, [
    { text: `dataset: { symbol: BTCUSDT, timeframe: ${o.base ?? "1h"} }`, source: "test" },
  ]);
  const history = o.history ?? [];
  return {
    runId: "r",
    iteration: o.iteration ?? history.length + 1,
    brief: "",
    config: driverView(config),
    seed: o.seed ?? 1,
    history,
    nudges: (o.nudges ?? []).map(
      (text, i): Nudge => ({
        id: i + 1,
        runId: "r",
        author: "ann",
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

function summary(
  n: number,
  entry: LibraryEntry,
  configYaml: string,
  s: Partial<IterationSummary>,
): IterationSummary {
  return {
    n,
    name: entry.name,
    family: entry.family,
    hypothesis: "h",
    status: "discarded",
    metrics: { sharpe: 0.5, maxDrawdown: 0.2, tradeCount: 50 },
    reasons: [],
    distance: 0.2,
    decision: null,
    nextHypothesis: null,
    configYaml,
    ...s,
  };
}

function parsed(library: Library, c: ProposedCandidate | undefined): StrategyConfig {
  const entry = library.find((e) => e.name === c?.name);
  if (!entry || !c) throw new Error("no candidate");
  const r = parseStrategyConfig(c.configYaml, entry.params);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
  return r.config;
}

const entryOf = (library: Library, name: string) => library.find((e) => e.name === name) as LibraryEntry;

describe("heuristic driver", () => {
  const sandbox = new Sandbox();
  let library: Library;
  let driver: HeuristicDriver;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
    driver = new HeuristicDriver(library);
  });
  afterAll(() => sandbox.dispose());

  it("starts on a library strategy's shipped config", async () => {
    const p = await driver.propose(context({}));
    const entry = entryOf(library, p.candidate?.name as string);
    expect(p.candidate?.code).toBe(entry.code);
    expect(parsed(library, p.candidate)).toEqual(entry.config);
    expect(p.hypothesis).toContain(entry.name);
  });

  it("too few trades on a 4h config → the same strategy on a lower timeframe", async () => {
    const ema = entryOf(library, "ema-cross");
    const yaml = genomeYaml(shippedGenome(ema, "1h"));
    expect(yaml).toContain("timeframe: 4h");
    const h = [summary(1, ema, yaml, { reasons: ["trades 12 < 30"], metrics: { tradeCount: 12 } })];
    const d = await decideAfter(driver, h, ema);
    expect(d.decision).toBe("tune");
    const next = parsed(
      library,
      (await driver.propose(context({ history: [{ ...h[0], decision: d.decision } as IterationSummary] })))
        .candidate,
    );
    expect(next.strategy).toBe("ema-cross");
    expect(timeframeMs(next.timeframe)).toBeLessThan(timeframeMs("4h"));
    expect(timeframeMs(next.timeframe)).toBeGreaterThanOrEqual(timeframeMs("1h"));
  });

  it("too few trades at the base timeframe → shorter lookbacks", async () => {
    const don = entryOf(library, "donchian-breakout");
    const yaml = genomeYaml(shippedGenome(don, "1h"));
    const h = [summary(1, don, yaml, { reasons: ["sharpe 0.41 < 1.00", "trades 12 < 30"] })];
    const p = await driver.propose(context({ history: h }));
    const next = parsed(library, p.candidate);
    expect(next.strategy).toBe("donchian-breakout");
    expect(next.timeframe).toBe("1h");
    expect(next.params["entry"]).toBeLessThan(48);
    expect(next.params["exit"]).toBeLessThan(24);
    expect(p.hypothesis).toMatch(/shorter lookbacks/);
  });

  it("never goes below the dataset's timeframe", async () => {
    const ema = entryOf(library, "ema-cross");
    const yaml = genomeYaml(shippedGenome(ema, "4h"));
    const h = [summary(1, ema, yaml, { reasons: ["trades 12 < 30"] })];
    const next = parsed(library, (await driver.propose(context({ history: h, base: "4h" }))).candidate);
    expect(next.timeframe).toBe("4h");
    expect(next.params["slow"]).toBeLessThan(26);
  });

  it("drawdown too deep → a tighter stop (ATR 3 → 2), or one added", async () => {
    const macd = entryOf(library, "macd-trend");
    const yaml = genomeYaml(shippedGenome(macd, "1h"));
    expect(yaml).toContain("atr: 3");
    const h = [
      summary(1, macd, yaml, {
        reasons: ["max_drawdown 0.31 > 0.25"],
        metrics: { sharpe: 1.2, maxDrawdown: 0.31 },
      }),
    ];
    const d = await decideAfter(driver, h, macd);
    expect(d.decision).toBe("tune");
    expect(d.nextHypothesis).toMatch(/tighter stop/);
    const next = parsed(library, (await driver.propose(context({ history: h }))).candidate);
    expect(next.strategy).toBe("macd-trend");
    expect(next.risk.stop_loss).toEqual({ atr: 2, atr_period: 14 });

    const ema = entryOf(library, "ema-cross");
    const noStop = genomeYaml(shippedGenome(ema, "1h"));
    const h2 = [summary(1, ema, noStop, { reasons: ["max_drawdown 0.61 > 0.25"] })];
    const next2 = parsed(library, (await driver.propose(context({ history: h2 }))).candidate);
    expect(next2.risk.stop_loss).toBeDefined();
  });

  it("a Sharpe near its gate with a deep drawdown is treated as a risk problem: smaller positions once the stop is tight", async () => {
    const macd = entryOf(library, "macd-trend");
    const g = shippedGenome(macd, "1h");
    const yaml = genomeYaml({ ...g, risk: { stop_loss: { atr: 2, atr_period: 14 } } });
    const h = [
      summary(1, macd, yaml, {
        reasons: ["sharpe 0.80 < 1.00", "max_drawdown 0.45 > 0.25"],
        metrics: { sharpe: 0.8, maxDrawdown: 0.45 },
      }),
    ];
    const d = await decideAfter(driver, h, macd);
    expect(d.decision).toBe("tune");
    const next = parsed(library, (await driver.propose(context({ history: h }))).candidate);
    expect(next.strategy).toBe("macd-trend");
    expect(next.sizing.fraction).toBe(0.5);
    // The same drawdown with a Sharpe nowhere near the gate: move on.
    const far = [
      {
        ...(h[0] as IterationSummary),
        reasons: ["sharpe 0.20 < 1.00", "max_drawdown 0.45 > 0.25"],
        metrics: { sharpe: 0.2 },
      },
    ];
    expect((await decideAfter(driver, far, macd)).decision).toBe("new_approach");
  });

  it("after maxTunes passes in a row on one strategy it looks elsewhere too", async () => {
    const don = entryOf(library, "donchian-breakout");
    const g = shippedGenome(don, "1h");
    const h = [48, 44, 40, 36].map((entry, i) =>
      summary(i + 1, don, genomeYaml({ ...g, params: { ...g.params, entry } }), {
        status: "passed",
        reasons: [],
        distance: 0,
      }),
    );
    expect((await decideAfter(driver, h.slice(0, 3), don)).decision).toBe("tune");
    expect((await decideAfter(driver, h, don)).decision).toBe("new_approach");
  });

  it("low Sharpe → new_approach with a strategy of a family not tried yet", async () => {
    const ema = entryOf(library, "ema-cross");
    const yaml = genomeYaml(shippedGenome(ema, "1h"));
    const h = [summary(1, ema, yaml, { reasons: ["sharpe 0.41 < 1.00"] })];
    const d = await decideAfter(driver, h, ema);
    expect(d.decision).toBe("new_approach");
    expect(d.rationale).toContain("sharpe 0.41 < 1.00");
    const p = await driver.propose(
      context({ history: [{ ...h[0], decision: "new_approach" } as IterationSummary] }),
    );
    const next = entryOf(library, p.candidate?.name as string);
    expect(next.family).not.toBe("trend");
    expect(p.hypothesis).toContain(next.name);
  });

  it("crashed → fix: back to the shipped config", async () => {
    const rsi = entryOf(library, "rsi-reversion");
    const tuned = genomeYaml({
      ...shippedGenome(rsi, "1h"),
      params: { period: 3, oversold: 10, exit: 70, trend: 60 },
    });
    const h = [
      summary(1, rsi, tuned, {
        status: "crashed",
        reasons: ["runtime (line 12): x is undefined"],
        metrics: null,
        distance: 1,
      }),
    ];
    const d = await decideAfter(driver, h, rsi);
    expect(d.decision).toBe("fix");
    const p = await driver.propose(context({ history: [{ ...h[0], decision: "fix" } as IterationSummary] }));
    expect(p.candidate?.name).toBe("rsi-reversion");
    expect(parsed(library, p.candidate)).toEqual(rsi.config);
  });

  it("crashed after the shipped config already ran → fix near it, not a duplicate rerun", async () => {
    const rsi = entryOf(library, "rsi-reversion");
    const shipped = genomeYaml(shippedGenome(rsi, "1h"));
    const tuned = genomeYaml({
      ...shippedGenome(rsi, "1h"),
      params: { period: 3, oversold: 10, exit: 70, trend: 60 },
    });
    const h = [
      summary(1, rsi, shipped, { reasons: ["trades 12 < 30"], decision: "tune" }),
      summary(2, rsi, tuned, {
        status: "crashed",
        reasons: ["runtime (line 12): boom"],
        metrics: null,
        distance: 1,
        decision: "fix",
      }),
    ];
    const p = await driver.propose(context({ history: h }));
    expect(p.candidate?.name).toBe("rsi-reversion");
    expect(p.candidate?.configYaml).not.toBe(shipped);
    expect(parsed(library, p.candidate).strategy).toBe("rsi-reversion");
    expect(p.hypothesis).toMatch(/near its shipped config/);
  });

  it("a crash on the shipped config itself → abandon to another strategy", async () => {
    const rsi = entryOf(library, "rsi-reversion");
    const yaml = genomeYaml(shippedGenome(rsi, "1h"));
    const h = [
      summary(1, rsi, yaml, { status: "crashed", reasons: ["timeout: took too long"], metrics: null }),
    ];
    const d = await decideAfter(driver, h, rsi);
    expect(d.decision).toBe("abandon");
    expect((await driver.propose(context({ history: h }))).candidate?.name).not.toBe("rsi-reversion");
  });

  it("look-ahead → abandon; duplicate → new_approach", async () => {
    const ema = entryOf(library, "ema-cross");
    const yaml = genomeYaml(shippedGenome(ema, "1h"));
    for (const [reason, kind] of [
      ["lookahead at 2021-03-04 05:00", "abandon"],
      ["duplicate of #3 (ρ 0.97)", "new_approach"],
    ] as const) {
      const h = [summary(4, ema, yaml, { reasons: [reason] })];
      const d = await decideAfter(driver, h, ema);
      expect(d.decision).toBe(kind);
      expect((await driver.propose(context({ history: h }))).candidate?.name).not.toBe("ema-cross");
    }
  });

  it("passed → tune: a small perturbation of the same strategy", async () => {
    const don = entryOf(library, "donchian-breakout");
    const yaml = genomeYaml(shippedGenome(don, "1h"));
    const h = [summary(1, don, yaml, { status: "passed", reasons: [], distance: 0 })];
    const d = await decideAfter(driver, h, don);
    expect(d.decision).toBe("tune");
    const p = await driver.propose(context({ history: h }));
    const next = parsed(library, p.candidate);
    expect(next.strategy).toBe("donchian-breakout");
    expect(p.candidate?.configYaml).not.toBe(yaml);
    const changed = Object.keys(next.params).filter((k) => next.params[k] !== don.config.params[k]);
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.length).toBeLessThanOrEqual(2);
  });

  it("moves on after maxTunes tuning rounds on one strategy", async () => {
    const don = entryOf(library, "donchian-breakout");
    const g = shippedGenome(don, "1h");
    const h = [48, 40, 34, 30, 26].map((entry, i) =>
      summary(i + 1, don, genomeYaml({ ...g, params: { ...g.params, entry } }), {
        reasons: ["folds_positive 1 < 3"],
        decision: "tune",
      }),
    );
    const d = await decideAfter(driver, h, don);
    expect(d.decision).toBe("new_approach");
  });

  it("a nudge naming donchian-breakout switches to it, and understands shorter / tighter stop / 4h", async () => {
    const ema = entryOf(library, "ema-cross");
    const h = [summary(1, ema, genomeYaml(shippedGenome(ema, "1h")), { reasons: ["sharpe 0.2 < 1.00"] })];
    const p = await driver.propose(context({ history: h, nudges: ["try donchian-breakout please"] }));
    expect(p.candidate?.name).toBe("donchian-breakout");
    expect(p.hypothesis).toMatch(/^Nudge "try donchian-breakout please"/);
    expect(parsed(library, p.candidate)).toEqual(entryOf(library, "donchian-breakout").config);

    const q = await driver.propose(
      context({ history: h, nudges: ["Donchian breakout on 4h, shorter lookbacks, tighter stop"] }),
    );
    const c = parsed(library, q.candidate);
    expect(c.strategy).toBe("donchian-breakout");
    expect(c.timeframe).toBe("4h");
    expect(c.params["entry"]).toBeLessThan(48);
    expect(c.risk.stop_loss).toEqual({ atr: 2, atr_period: 14 });

    const r = await driver.propose(context({ history: h, nudges: ["something mean reversion"] }));
    expect(entryOf(library, r.candidate?.name as string).family).toBe("mean-reversion");

    const s = await driver.propose(context({ history: h, nudges: ["what a lovely day"] }));
    expect(s.hypothesis).toContain("did not understand the nudge");
  });

  it("is deterministic: same seed and history, same proposal and decision, from a fresh driver too", async () => {
    const ema = entryOf(library, "ema-cross");
    const h = [
      summary(1, ema, genomeYaml(shippedGenome(ema, "1h")), { status: "passed", reasons: [], distance: 0 }),
    ];
    const a = await driver.propose(context({ history: h, seed: 9 }));
    const b = await new HeuristicDriver(library).propose(context({ history: h, seed: 9 }));
    expect(b).toEqual(a);
    const c = await driver.propose(context({ history: h, seed: 10 }));
    expect(c.candidate?.name).toBe("ema-cross");
  });

  it("property: over random histories every proposal parses, stays in range and on the dataset's grid", async () => {
    const reasons = [
      "sharpe 0.41 < 1.00",
      "trades 12 < 30",
      "max_drawdown 0.31 > 0.25",
      "profit_factor 0.90 < 1.20",
      "dsr 0.20 < 0.95",
      "folds_positive 1 < 3",
      "duplicate of #3 (ρ 0.97)",
      "lookahead at 2021-03-04 05:00",
      "policy: config sets fee_bps",
      "runtime (line 3): boom",
    ];
    const statuses = ["passed", "discarded", "crashed", "model_error"] as const;
    const decisions = [null, "abandon", "fix", "tune", "new_approach"] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(
          fc.record({
            strategy: fc.integer({ min: 0, max: 30 }),
            config: fc.constantFrom("random", "shipped", "null", "garbage", "foreign"),
            status: fc.constantFrom(...statuses),
            reasons: fc.subarray(reasons, { maxLength: 3 }),
            decision: fc.constantFrom(...decisions),
            rng: fc.integer(),
          }),
          { maxLength: 14 },
        ),
        fc.constantFrom("1h", "2h", "4h"),
        fc.option(
          fc.constantFrom(
            "go shorter",
            "tighter stop on 4h",
            "range fade",
            "scalp",
            "long short, smaller size",
            "longer, wider stop",
          ),
          { nil: undefined },
        ),
        async (seed, steps, base, nudge) => {
          const history: IterationSummary[] = steps.map((s, i) => {
            const entry = library[s.strategy % library.length] as LibraryEntry;
            const configYaml =
              s.config === "random"
                ? genomeYaml(randomGenome(entry, base, createRandom(s.rng)))
                : s.config === "shipped"
                  ? genomeYaml(shippedGenome(entry, base))
                  : s.config === "garbage"
                    ? "strategy: [oops"
                    : s.config === "foreign"
                      ? "strategy: my-own-thing\ntimeframe: 1h\n"
                      : null;
            return summary(i + 1, entry, configYaml as string, {
              name: s.config === "foreign" ? "my-own-thing" : entry.name,
              configYaml,
              status: s.status,
              reasons: s.status === "passed" ? [] : s.reasons,
              decision: s.decision,
            });
          });
          const ctx = context({ history, seed, base, nudges: nudge ? [nudge] : [] });
          const p = await driver.propose(ctx);
          const cfg = parsed(library, p.candidate);
          expect(timeframeMs(cfg.timeframe) % timeframeMs(base)).toBe(0);
          expect(p.hypothesis?.length).toBeGreaterThan(10);
          const out: CandidateOutcome = {
            status: "discarded",
            reasons: ["sharpe 0.1 < 1.00"],
            gates: [],
            distance: 0.5,
            trialId: 1,
          };
          const d = await driver.decide(ctx, p.candidate as ProposedCandidate, out);
          expect(["abandon", "fix", "tune", "new_approach"]).toContain(d.decision);
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });

  it("reads lookbacks by name and skips oscillator levels", () => {
    const rsi = entryOf(library, "rsi-reversion");
    expect(isLookback("period", rsi.params["period"] as never)).toBe(true);
    expect(isLookback("trend", rsi.params["trend"] as never)).toBe(true);
    expect(isLookback("exit", rsi.params["exit"] as never)).toBe(false);
    expect(isLookback("oversold", rsi.params["oversold"] as never)).toBe(false);
  });
});

/** decide() for the last summary of `h`, with the earlier ones as the stored history. */
function decideAfter(driver: HeuristicDriver, h: readonly IterationSummary[], entry: LibraryEntry) {
  const last = h.at(-1) as IterationSummary;
  return driver.decide(
    context({ history: h.slice(0, -1), iteration: last.n }),
    { code: entry.code, configYaml: last.configYaml as string, name: entry.name, family: entry.family },
    outcomeOf(last),
  );
}

function outcomeOf(s: IterationSummary | undefined): CandidateOutcome {
  if (!s) throw new Error("no summary");
  return {
    status: s.status === "model_error" ? "crashed" : s.status,
    reasons: s.reasons,
    gates: [],
    distance: s.distance ?? 1,
    ...(s.metrics ? { metrics: s.metrics } : {}),
    ...(s.name ? { strategyName: s.name } : {}),
    trialId: s.n,
  };
}
