import { describe, expect, it } from "vitest";
import { bool, choice, float, int, type ParamSpecs } from "../../src/backtest/strategy.ts";
import { parseStrategyConfig, resolveParams } from "../../src/backtest/strategy-config.ts";

const declared: ParamSpecs = {
  fast: int(5, 50, 12),
  slow: int(10, 200, 26),
  band: float(0.5, 3, 2),
  confirm: bool(false),
  ma: choice(["sma", "ema"], "ema"),
};

function errorsOf(yaml: string, params?: ParamSpecs) {
  const result = parseStrategyConfig(yaml, params);
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.config)}`);
  return result.errors;
}

describe("parseStrategyConfig", () => {
  it("parses a minimal config and fills schema and param defaults", () => {
    const result = parseStrategyConfig("strategy: ema-cross\ntimeframe: 1h\nparams:\n  fast: 8\n", declared);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.params).toEqual({ fast: 8, slow: 26, band: 2, confirm: false, ma: "ema" });
    expect(result.config.direction).toBe("long_only");
    expect(result.config.sizing.mode).toBe("fixed_fraction");
  });

  it("accepts a full config with risk and sizing", () => {
    const yaml = `
strategy: ema-cross
timeframe: 4h
direction: long_short
params: { fast: 10, slow: 40, band: 1.5, confirm: true, ma: sma }
risk:
  stop_loss: { atr: 2.5 }
  take_profit: { r_multiple: 3 }
  trailing_stop: { atr: 3, atr_period: 20 }
  time_stop_bars: 48
sizing: { mode: volatility_target, target_volatility: 0.2, max_leverage: 2 }
`;
    const result = parseStrategyConfig(yaml, declared);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.risk.stop_loss).toEqual({ atr: 2.5, atr_period: 14 });
    expect(result.config.risk.take_profit).toEqual({ r_multiple: 3 });
    expect(result.config.sizing.target_volatility).toBe(0.2);
    expect(result.config.params).toEqual({ fast: 10, slow: 40, band: 1.5, confirm: true, ma: "sma" });
  });

  it("reports a nested harness-owned key as a policy violation with its full path", () => {
    const errors = errorsOf("strategy: x\ntimeframe: 1h\nwindows:\n  search:\n    start: 2021-01-01\n");
    expect(errors).toEqual([
      {
        kind: "policy",
        path: "windows",
        message: expect.stringContaining("config sets windows.search.start — the harness owns dates"),
      },
    ]);
  });

  it("finds harness keys at any depth, in any spelling, and still reports other mistakes", () => {
    const yaml = `
strategy: x
timeframe: 1h
Fee-BPS: 1
risk:
  stop_loss: { percent: 2, slippage: 0.1 }
sizing: { fraction: 0.5, gates: { sharpe_min: 0.1 } }
params: { fast: 8, holdout: 3 }
direction: longonly
`;
    const errors = errorsOf(yaml, declared);
    const policy = errors.filter((e) => e.kind === "policy").map((e) => e.path);
    expect(policy.sort()).toEqual(["Fee-BPS", "params.holdout", "risk.stop_loss.slippage", "sizing.gates"]);
    // The policy keys are removed before the schema runs, so only the genuine schema error remains.
    const schema = errors.filter((e) => e.kind === "schema");
    expect(schema.map((e) => e.path)).toEqual(["direction"]);
  });

  it("lets a declared param use a name the harness owns elsewhere", () => {
    const withWindow: ParamSpecs = { window: int(2, 100, 20) };
    const ok = parseStrategyConfig("strategy: x\ntimeframe: 1h\nparams: { window: 30 }\n", withWindow);
    expect(ok.ok && ok.config.params).toEqual({ window: 30 });
    const errors = errorsOf("strategy: x\ntimeframe: 1h\nparams: { window: 30 }\n", { fast: int(1, 5, 2) });
    expect(errors.map((e) => [e.kind, e.path])).toEqual([["policy", "params.window"]]);
  });

  it("suggests the closest key for unknown keys, at every level", () => {
    const errors = errorsOf(
      "strategy: x\ntimefrme: 1h\nrisk:\n  stop_los: { percent: 2 }\n  trailing_stop: { atr: 2, atr_perod: 10 }\nsizing: { fracton: 0.5 }\n",
    );
    const messages = errors.map((e) => e.message);
    expect(messages).toContain("timefrme: unknown key; did you mean timeframe?");
    expect(messages).toContain("risk.stop_los: unknown key; did you mean stop_loss?");
    expect(messages).toContain("risk.trailing_stop.atr_perod: unknown key; did you mean atr_period?");
    expect(messages).toContain("sizing.fracton: unknown key; did you mean fraction?");
    expect(errors.every((e) => e.kind === "schema")).toBe(true);
  });

  it("explains unknown keys inside a union of shapes against every shape's keys", () => {
    const errors = errorsOf("strategy: x\ntimeframe: 1h\nrisk: { stop_loss: { atr_multiple: 2 } }\n");
    expect(errors).toEqual([
      {
        kind: "schema",
        path: "risk.stop_loss.atr_multiple",
        message: expect.stringMatching(/unknown key; /),
      },
    ]);
  });

  it("reports a wrong value inside a union at the value's own path", () => {
    const errors = errorsOf("strategy: x\ntimeframe: 1h\nrisk: { stop_loss: { percent: -2 } }\n");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe("risk.stop_loss.percent");
    expect(errors[0]?.message).toMatch(/^risk\.stop_loss\.percent: .*>0/);
  });

  it("names the accepted shapes when a union value matches none of them", () => {
    const errors = errorsOf("strategy: x\ntimeframe: 1h\nrisk: { stop_loss: {} }\n");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.message).toContain("{ percent } or { atr, atr_period }");
  });

  it("checks params against declared types and ranges", () => {
    const yaml =
      "strategy: x\ntimeframe: 1h\nparams: { fast: 60, slow: 20.5, band: 1, confirm: 1, ma: wma, fsat: 3 }\n";
    const byPath = Object.fromEntries(errorsOf(yaml, declared).map((e) => [e.path, e.message]));
    expect(byPath["params.fast"]).toBe("params.fast: 60 is outside the declared range [5, 50]");
    expect(byPath["params.slow"]).toBe("params.slow: must be an integer in [10, 200]; got 20.5");
    expect(byPath["params.band"]).toBeUndefined();
    expect(byPath["params.confirm"]).toBe("params.confirm: must be true or false; got 1");
    expect(byPath["params.ma"]).toBe('params.ma: must be one of "sma", "ema"; got "wma"');
    expect(byPath["params.fsat"]).toBe("params.fsat: unknown param; did you mean fast?");
  });

  it("rejects missing required keys, bad timeframes and non-mapping documents", () => {
    expect(errorsOf("timeframe: 1h\n").map((e) => e.path)).toEqual(["strategy"]);
    expect(errorsOf("strategy: x\ntimeframe: hourly\n")[0]?.message).toContain("timeframe");
    expect(errorsOf("- a\n- b\n")[0]?.message).toContain("mapping");
    expect(errorsOf("strategy: [unclosed\n")[0]?.message).toMatch(/^not valid YAML/);
  });

  it("rejects duplicate keys instead of letting the last one win silently", () => {
    expect(errorsOf("strategy: x\ntimeframe: 1h\ntimeframe: 4h\n")[0]?.message).toMatch(/not valid YAML/);
  });
});

describe("resolveParams", () => {
  it("fills defaults and keeps given values", () => {
    const result = resolveParams(declared, { slow: 100 });
    expect(result).toEqual({ ok: true, values: { fast: 12, slow: 100, band: 2, confirm: false, ma: "ema" } });
  });

  it("rejects NaN and infinities for numeric params", () => {
    const result = resolveParams(declared, { band: Number.NaN, fast: Number.POSITIVE_INFINITY });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.path).sort()).toEqual(["params.band", "params.fast"]);
  });
});
