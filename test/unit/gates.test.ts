import { describe, expect, it } from "vitest";
import { GatesSchema } from "../../src/domain/run-config.ts";
import { evaluateGates, formatBarTime, type GateInput } from "../../src/loop/gates.ts";

const gates = GatesSchema.parse({
  sharpe_min: 1,
  max_drawdown_max: 0.25,
  profit_factor_min: 1.2,
  trades_min: 30,
  dsr_min: 0.95,
  folds_positive_min: 3,
});

const passing: GateInput = {
  sharpe: 1.8,
  maxDrawdown: 0.12,
  profitFactor: 1.6,
  tradeCount: 85,
  dsr: 0.97,
  foldsPositive: 4,
  metrics: { sortino: 2.1, exposure: 0.4 },
};

describe("gates", () => {
  it("passes a candidate that clears every gate, with positive margins and zero distance", () => {
    const v = evaluateGates(passing, gates);
    expect(v.pass).toBe(true);
    expect(v.reasons).toEqual([]);
    expect(v.distance).toBe(0);
    expect(v.results.map((r) => r.gate)).toEqual([
      "sharpe",
      "max_drawdown",
      "profit_factor",
      "trades",
      "dsr",
      "folds_positive",
    ]);
    expect(v.results.find((r) => r.gate === "max_drawdown")?.margin).toBeCloseTo(0.13, 12);
  });

  it("writes DISCARD reasons a person reads at a glance, in gate order", () => {
    const v = evaluateGates({ ...passing, sharpe: 0.41, tradeCount: 12 }, gates);
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual(["sharpe 0.41 < 1.00", "trades 12 < 30"]);
    expect(v.results.find((r) => r.gate === "sharpe")).toMatchObject({
      value: 0.41,
      threshold: 1,
      pass: false,
    });
  });

  it("reports a maximum gate with >", () => {
    expect(evaluateGates({ ...passing, maxDrawdown: 0.31 }, gates).reasons).toEqual([
      "max_drawdown 0.31 > 0.25",
    ]);
  });

  it("puts look-ahead, duplicate and policy checks first and fails on them whatever the numbers", () => {
    const v = evaluateGates(
      {
        ...passing,
        lookahead: { time: Date.UTC(2023, 3, 2, 13) },
        duplicateOf: { iteration: 12, correlation: 0.971 },
        policyViolations: ["config sets windows.search.start"],
      },
      gates,
    );
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual([
      "policy: config sets windows.search.start",
      "lookahead at 2023-04-02 13:00",
      "duplicate of #12 (ρ 0.97)",
    ]);
    expect(v.distance).toBeGreaterThanOrEqual(1);
  });

  it("gates any metric by name with min and max", () => {
    const g = GatesSchema.parse({ ...gates, metrics: { sortino: { min: 2.5 }, exposure: { max: 0.3 } } });
    const v = evaluateGates(passing, g);
    expect(v.reasons).toEqual(["sortino 2.10 < 2.50", "exposure 0.40 > 0.30"]);
  });

  it("refuses to pass a gate on a metric that does not exist", () => {
    const g = GatesSchema.parse({ ...gates, metrics: { sortinoo: { min: 1 } } });
    const v = evaluateGates(passing, g);
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual(["gate on unknown metric sortinoo"]);
  });

  it("gate distance shrinks as a candidate gets closer to passing", () => {
    const far = evaluateGates({ ...passing, sharpe: 0.1, tradeCount: 3, dsr: 0.1 }, gates).distance;
    const near = evaluateGates({ ...passing, sharpe: 0.9, tradeCount: 28, dsr: 0.9 }, gates).distance;
    expect(far).toBeGreaterThan(near);
    expect(near).toBeGreaterThan(0);
    expect(far).toBeLessThanOrEqual(1);
  });

  it("treats a non-finite value as failing", () => {
    const v = evaluateGates({ ...passing, sharpe: Number.NaN }, gates);
    expect(v.pass).toBe(false);
  });

  it("formats bar times in UTC", () => {
    expect(formatBarTime(Date.UTC(2024, 0, 5, 7, 30))).toBe("2024-01-05 07:30");
  });
});
