import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { summaryMetrics } from "../../src/backtest/metrics.ts";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { simulate, type Trade } from "../../src/backtest/simulate.ts";
import { sliceBars } from "../../src/domain/bars.ts";
import { freezeRunConfig, loadRunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type EvaluateContext, evaluateCandidate } from "../../src/loop/evaluate.ts";
import { planFolds } from "../../src/loop/folds.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import { strategyWith } from "../support/sandbox-fixtures.ts";

const run = freezeRunConfig(
  loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    { text: "walk_forward: { folds: 4, warmup_bars: 300 }\n", source: "test" },
  ]),
);
const searchBars = syntheticBars({ n: 12_000, timeframe: "1h", start: "2020-01-01", seed: 7 });
const sandbox = new Sandbox({ timeoutMs: 2000 });
const ctx: EvaluateContext = { run, searchBars, sandbox, resampled: new Map() };
afterAll(() => sandbox.dispose());

const emaCode = readFileSync("strategies/ema-cross.ts", "utf8");
const emaYaml = "strategy: ema-cross\ntimeframe: 1h\nparams: { fast: 10, slow: 40 }\n";

describe("evaluateCandidate", () => {
  it("backtests every fold out of sample and stitches them into one record", async () => {
    const ev = await evaluateCandidate({ code: emaCode, configYaml: emaYaml }, ctx);
    expect(ev.status).toBe("evaluated");
    expect(ev.folds).toHaveLength(4);
    // Folds are contiguous, in order, and inside the search window.
    for (let k = 1; k < ev.folds.length; k++) {
      expect(ev.folds[k]?.from).toBeGreaterThan(ev.folds[k - 1]?.to as number);
    }
    expect(ev.folds[0]?.from).toBe(searchBars.time[300]);
    expect(ev.folds.at(-1)?.to).toBe(searchBars.time.at(-1));
    const foldTrades = ev.folds.reduce((s, f) => s + f.metrics.tradeCount, 0);
    expect(ev.aggregate?.tradeCount).toBe(foldTrades);
    expect(ev.aggregate?.tradeCount).toBeGreaterThan(10);
    // The stitched equity compounds the folds' returns.
    const compounded = ev.folds.reduce((e, f) => e * (1 + f.metrics.totalReturn), 1) - 1;
    expect(ev.aggregate?.totalReturn).toBeCloseTo(compounded, 9);
    expect(ev.returns?.length).toBe(12_000 - 300);
    expect(ev.time).toEqual(searchBars.time.subarray(300));
    expect(ev.lookahead?.ok).toBe(true);
    expect(ev.strategy?.name).toBe("ema-cross");
  });

  it("folds reusing the full-window signals give exactly what running the strategy per fold gives", async () => {
    const bollinger = readFileSync("strategies/bollinger-reversion.ts", "utf8");
    const cases = [
      { code: emaCode, configYaml: emaYaml, shared: 4 },
      {
        code: bollinger,
        configYaml:
          "strategy: bollinger-reversion\ntimeframe: 1h\nrisk:\n  stop_loss: { atr: 2, atr_period: 14 }\n",
        shared: 4,
      },
      // Needs more history than the folds' 300 warm-up bars: every fold runs on its own.
      // (the first fold's history starts at the window's first bar, so it still shares).
      { code: emaCode, configYaml: emaYaml.replace("slow: 40", "slow: 200"), shared: 1 },
    ];
    for (const candidate of cases) {
      const reused = await evaluateCandidate(candidate, ctx);
      const perFold = await evaluateCandidate(candidate, { ...ctx, lookaheadCuts: 0 });
      expect(reused.status).toBe("evaluated");
      expect(reused.lookahead?.ok).toBe(true);
      expect(reused.sharedSignalFolds).toBe(candidate.shared);
      expect(perFold.sharedSignalFolds).toBe(0);
      expect(reused.folds).toEqual(perFold.folds);
      expect(reused.aggregate).toEqual(perFold.aggregate);
      expect(reused.returns).toEqual(perFold.returns);
      expect(reused.trades).toEqual(perFold.trades);
    }
  });

  it("stitches exactly what each fold simulated on its own arrays gives, rolling and anchored", async () => {
    const bollinger = readFileSync("strategies/bollinger-reversion.ts", "utf8");
    const configYaml =
      "strategy: bollinger-reversion\ntimeframe: 1h\nrisk:\n  stop_loss: { atr: 2, atr_period: 14 }\n";
    for (const scheme of ["rolling", "anchored"] as const) {
      const schemeRun = freezeRunConfig(
        loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
          { text: `walk_forward: { folds: 4, warmup_bars: 300, scheme: ${scheme} }\n`, source: "test" },
        ]),
      );
      const ev = await evaluateCandidate({ code: bollinger, configYaml }, { ...ctx, run: schemeRun });
      expect(ev.status).toBe("evaluated");
      const loaded = await sandbox.load(bollinger);
      if (!loaded.ok) throw new Error(loaded.error.message);
      const folds = planFolds(searchBars.time.length, { folds: 4, scheme, warmupBars: 300 });
      const returns: number[] = [];
      const position: number[] = [];
      const trades: Trade[] = [];
      for (const f of folds) {
        const slice = sliceBars(searchBars, f.warmupStart, f.end);
        const r = await loaded.handle.signals(slice, {});
        if (!r.ok) throw new Error(r.error.message);
        const sim = simulate(slice, r.signals, {
          direction: "long_only",
          risk: { stop_loss: { atr: 2, atr_period: 14 } },
          feeBps: schemeRun.config.costs.fee_bps,
          slippageBps: schemeRun.config.costs.slippage_bps,
          timeframe: "1h",
          startIndex: f.start - f.warmupStart,
        });
        expect(ev.folds[f.index]?.metrics).toEqual(summaryMetrics(sim, { timeframe: "1h" }));
        returns.push(...sim.returns.subarray(sim.startIndex));
        position.push(...sim.position.subarray(sim.startIndex));
        trades.push(...sim.trades);
      }
      loaded.handle.dispose();
      expect(trades.length).toBeGreaterThan(10);
      expect(Array.from(ev.returns ?? [])).toEqual(returns);
      expect(ev.trades).toEqual(trades);
      let e = 1;
      expect(Array.from(ev.equity ?? [])).toEqual(returns.map((r) => (e *= 1 + r)));
      const held = position.filter((p) => p !== 0).length;
      expect(ev.aggregate?.exposure).toBe(held / position.length);
    }
  });

  it("gives the same result after an evaluation that held a position on every bar", async () => {
    // A sandbox's evaluations reuse the record's position column: nothing of the last one may show.
    const alwaysIn = strategyWith(
      "const n = bars.close.length;\n    const enter = new Uint8Array(n).fill(1);\n    return { enterLong: enter, exitLong: new Uint8Array(n) };",
    );
    const alone = new Sandbox({ timeoutMs: 2000 });
    try {
      const expected = await evaluateCandidate(
        { code: emaCode, configYaml: emaYaml },
        { ...ctx, sandbox: alone, resampled: new Map() },
      );
      const held = await evaluateCandidate(
        { code: alwaysIn, configYaml: "strategy: probe\ntimeframe: 1h\n" },
        ctx,
      );
      expect(held.status).toBe("evaluated");
      expect(held.aggregate?.exposure).toBeGreaterThan(0.99);
      const after = await evaluateCandidate({ code: emaCode, configYaml: emaYaml }, ctx);
      expect(expected.aggregate?.exposure).toBeLessThan(0.9);
      expect(after.aggregate).toEqual(expected.aggregate);
      expect(after.folds).toEqual(expected.folds);
    } finally {
      alone.dispose();
    }
  });

  it("resamples to the strategy's timeframe", async () => {
    const ev = await evaluateCandidate({ code: emaCode, configYaml: emaYaml.replace("1h", "4h") }, ctx);
    expect(ev.status).toBe("evaluated");
    expect(ev.folds[1]?.metrics.bars).toBeLessThan(12_000 / 4 / 4 + 1);
    expect(ctx.resampled?.has("4h")).toBe(true);
  });

  it("records a config that sets harness-owned keys as a policy violation and does not run it", async () => {
    const ev = await evaluateCandidate(
      { code: emaCode, configYaml: `${emaYaml}fee_bps: 0\nwindows:\n  search:\n    start: 2018-01-01\n` },
      ctx,
    );
    expect(ev.status).toBe("policy");
    expect(ev.policyViolations).toEqual(
      expect.arrayContaining(["config sets fee_bps", "config sets windows.search.start"]),
    );
    expect(ev.folds).toEqual([]);
  });

  it("returns a compile error with the strategy's line", async () => {
    const broken = emaCode.replace(
      "const slow = ta.ema(bars.close, p.slow);",
      "const slow = ta.ema(bars.close, p.slow;",
    );
    const ev = await evaluateCandidate({ code: broken, configYaml: emaYaml }, ctx);
    expect(ev.status).toBe("crash");
    expect(ev.error?.kind).toBe("compile");
    expect(ev.error?.line).toBe(emaCode.split("\n").findIndex((l) => l.includes("const slow")) + 1);
  });

  it("returns a runtime error instead of throwing", async () => {
    const throwing = emaCode.replace(
      "const fast =",
      'if (bars.close.length > 10) throw new Error("boom");\n    const fast =',
    );
    const ev = await evaluateCandidate({ code: throwing, configYaml: emaYaml }, ctx);
    expect(ev.status).toBe("crash");
    expect(ev.error).toMatchObject({ kind: "runtime" });
    expect(ev.error?.message).toContain("boom");
  });

  it("rejects params outside the declared range with the key named", async () => {
    const ev = await evaluateCandidate(
      { code: emaCode, configYaml: emaYaml.replace("fast: 10", "fast: 500") },
      ctx,
    );
    expect(ev.status).toBe("crash");
    expect(ev.error?.kind).toBe("config");
    expect(ev.error?.message).toContain("params.fast");
  });

  it("rejects a timeframe that is not a multiple of the dataset's", async () => {
    const ev = await evaluateCandidate({ code: emaCode, configYaml: emaYaml.replace("1h", "90m") }, ctx);
    expect(ev.status).toBe("crash");
    expect(ev.error?.message).toMatch(/not a multiple/);
  });

  it("catches a strategy that peeks at the next bar", async () => {
    const peeking = `import { defineStrategy, int } from "alphaloop/strategy";
export default defineStrategy({
  name: "peek", family: "cheat", description: "buys before up bars", params: { k: int(1, 5, 1) },
  signals(bars) {
    const n = bars.close.length;
    const enterLong = new Uint8Array(n);
    const exitLong = new Uint8Array(n);
    for (let i = 0; i < n - 1; i++) {
      const up = bars.close[i + 1] > bars.close[i];
      enterLong[i] = up ? 1 : 0;
      exitLong[i] = up ? 0 : 1;
    }
    return { enterLong, exitLong };
  },
});`;
    const ev = await evaluateCandidate({ code: peeking, configYaml: "strategy: peek\ntimeframe: 1h\n" }, ctx);
    expect(ev.status).toBe("evaluated");
    expect(ev.lookahead?.ok).toBe(false);
    expect(ev.lookahead?.firstBadBar?.time).toBeGreaterThan(0);
  });

  it("turns a risk config the simulator cannot honour into a config error, never a crash of the run", async () => {
    const ev = await evaluateCandidate(
      { code: emaCode, configYaml: `${emaYaml}risk:\n  take_profit: { r_multiple: 2 }\n` },
      ctx,
    );
    expect(ev.status).toBe("crash");
    expect(ev.error?.kind).toBe("config");
    expect(ev.error?.message).toContain(
      "risk.take_profit.r_multiple: take_profit.r_multiple needs a stop_loss",
    );
  });
});
