/**
 * The model-free drivers in a miniature research loop, without the real loop module: propose →
 * evaluateCandidate → evaluateGates (DSR taken as 1: there is no ledger here) → decide, with the
 * history built the way the loop stores it. On synthetic bars every driver runs without crashing
 * and writes valid configs; on the bundled BTCUSDT 2019–2023 bars the heuristic reaches a gate pass
 * under the lenient preset.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../../src/backtest/strategy-config.ts";
import type { Bars } from "../../src/domain/bars.ts";
import type { IterationSummary } from "../../src/domain/run.ts";
import { type FrozenRunConfig, freezeRunConfig, loadRunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH, PROJECT_ROOT } from "../../src/loop/config-files.ts";
import {
  type CandidateOutcome,
  type DriverContext,
  driverView,
  type ProposedCandidate,
} from "../../src/loop/driver.ts";
import { createDriver, type ModelFreeDriverName } from "../../src/loop/drivers/index.ts";
import { type EvaluateContext, evaluateCandidate } from "../../src/loop/evaluate.ts";
import { evaluateGates } from "../../src/loop/gates.ts";
import { type Library, loadLibrary } from "../../src/loop/library.ts";
import { parseKlineCsv, readCsvText } from "../../src/market/binance-csv.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import { keptBars, validateRows } from "../../src/market/validate.ts";

const defaults = readFileSync(DEFAULT_CONFIG_PATH, "utf8");
const lenient = readFileSync(join(PROJECT_ROOT, "configs/presets/lenient.yaml"), "utf8");

function runConfig(windows: string, gates = lenient): FrozenRunConfig {
  return freezeRunConfig(
    loadRunConfig(defaults, [
      { text: gates, source: "configs/presets/lenient.yaml" },
      { text: windows, source: "test windows" },
    ]),
  );
}

function concat(parts: readonly Bars[]): Bars {
  const n = parts.reduce((s, b) => s + b.time.length, 0);
  const out: Bars = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  let at = 0;
  for (const b of parts) {
    for (const k of ["time", "open", "high", "low", "close", "volume"] as const) out[k].set(b[k], at);
    at += b.time.length;
  }
  return out;
}

function bundledBars(symbol: string, years: readonly number[]): Bars {
  return concat(
    years.map((y) => {
      const path = join(PROJECT_ROOT, "data", `${symbol}-1h-${y}.csv.gz`);
      const parsed = parseKlineCsv(readCsvText(path), path);
      return keptBars(parsed, validateRows(parsed, 3_600_000));
    }),
  );
}

interface LoopResult {
  readonly history: IterationSummary[];
  readonly candidates: ProposedCandidate[];
  readonly firstPass?: number;
}

/** A stand-in for the research loop: the parts that matter to a driver, nothing else. */
async function miniLoop(
  driverName: ModelFreeDriverName,
  library: Library,
  run: FrozenRunConfig,
  evalCtx: EvaluateContext,
  iterations: number,
  opts: { stopOnPass?: boolean } = {},
): Promise<LoopResult> {
  const driver = createDriver(driverName, { library });
  const history: IterationSummary[] = [];
  const candidates: ProposedCandidate[] = [];
  const seen = new Map<string, number>();
  let firstPass: number | undefined;
  for (let n = 1; n <= iterations; n++) {
    const ctx: DriverContext = {
      runId: `mini-${driverName}`,
      iteration: n,
      brief: "mine a BTC strategy",
      config: driverView(run.config),
      seed: run.config.loop.seed,
      history: [...history],
      nudges: [],
      signal: new AbortController().signal,
      evaluate: () => Promise.reject(new Error("the mini loop evaluates candidates itself")),
    };
    const proposal = await driver.propose(ctx);
    const candidate = proposal.candidate;
    if (!candidate) throw new Error(`${driverName} proposed nothing at #${n}`);
    candidates.push(candidate);
    const ev = await evaluateCandidate(candidate, evalCtx);
    let outcome: CandidateOutcome;
    if (ev.status !== "evaluated" || !ev.aggregate) {
      const reasons = [`${ev.error?.kind ?? "crash"}: ${ev.error?.message.split("\n")[0] ?? "no result"}`];
      outcome = {
        status: "crashed",
        reasons,
        gates: [],
        distance: 1,
        trialId: n,
        ...(ev.error ? { error: ev.error } : {}),
      };
    } else {
      const key = `${ev.codeHash}:${ev.configHash}`;
      const dup = seen.get(key);
      seen.set(key, seen.get(key) ?? n);
      const agg = ev.aggregate;
      const verdict = evaluateGates(
        {
          sharpe: agg.sharpe,
          maxDrawdown: agg.maxDrawdown,
          profitFactor: agg.profitFactor,
          tradeCount: agg.tradeCount,
          dsr: 1,
          foldsPositive: ev.folds.filter((f) => f.metrics.totalReturn > 0).length,
          metrics: { ...agg } as unknown as Record<string, number>,
          duplicateOf: dup === undefined ? undefined : { iteration: dup },
          policyViolations: ev.policyViolations,
        },
        run.config.gates,
      );
      outcome = {
        status: verdict.pass ? "passed" : "discarded",
        reasons: verdict.reasons,
        gates: verdict.results,
        distance: verdict.distance,
        metrics: { ...agg } as unknown as Record<string, number>,
        trialId: n,
        ...(ev.strategy ? { strategyName: ev.strategy.name, family: ev.strategy.family } : {}),
      };
    }
    if (outcome.status === "passed") firstPass ??= n;
    const decision = await driver.decide(ctx, candidate, outcome);
    history.push({
      n,
      name: outcome.strategyName ?? candidate.name ?? null,
      family: outcome.family ?? candidate.family ?? null,
      hypothesis: proposal.hypothesis ?? null,
      status: outcome.status,
      metrics: outcome.metrics ?? null,
      reasons: outcome.reasons,
      distance: outcome.distance,
      decision: decision.decision,
      nextHypothesis: decision.nextHypothesis,
      configYaml: candidate.configYaml,
    });
    if (opts.stopOnPass && outcome.status === "passed") break;
  }
  return { history, candidates, ...(firstPass === undefined ? {} : { firstPass }) };
}

function expectValidConfigs(library: Library, r: LoopResult): void {
  for (const c of r.candidates) {
    const entry = library.find((e) => e.name === c.name);
    expect(entry, c.name).toBeDefined();
    const parsed = parseStrategyConfig(c.configYaml, entry?.params);
    expect(
      parsed.ok,
      `${c.configYaml}\n${parsed.ok ? "" : parsed.errors.map((e) => e.message).join("\n")}`,
    ).toBe(true);
  }
}

describe("model-free drivers in a mini loop", () => {
  const sandbox = new Sandbox({ timeoutMs: 5000 });
  let library: Library;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(() => sandbox.dispose());

  describe("on synthetic bars", () => {
    const searchBars = syntheticBars({ n: 15_000, timeframe: "1h", start: "2020-01-01", seed: 11 });
    const run = runConfig(`
windows:
  search: { start: "2020-01-01", end: "2021-09-16" }
  holdout: { start: "2021-09-16", end: "2021-12-01" }
walk_forward: { folds: 4, warmup_bars: 300 }
`);
    const evalCtx: EvaluateContext = { run, searchBars, sandbox, lookaheadCuts: 0, resampled: new Map() };

    for (const name of ["heuristic", "random", "ga"] as const) {
      it(`${name}: 12 iterations, no crash, every config valid, every decision well-formed`, async () => {
        const r = await miniLoop(name, library, run, evalCtx, 12);
        expect(r.history).toHaveLength(12);
        expectValidConfigs(library, r);
        expect(r.history.filter((s) => s.status === "crashed")).toEqual([]);
        for (const s of r.history) {
          expect(["abandon", "fix", "tune", "new_approach"]).toContain(s.decision);
          expect(s.nextHypothesis?.length).toBeGreaterThan(10);
          expect(s.hypothesis?.length).toBeGreaterThan(10);
        }
        // Search, not repetition: most configs differ.
        expect(new Set(r.candidates.map((c) => c.configYaml)).size).toBeGreaterThanOrEqual(10);
        if (name === "random") expect(r.history.every((s) => s.decision === "new_approach")).toBe(true);
      });
    }

    it("resuming from a stored history proposes what the uninterrupted run proposed", async () => {
      const full = await miniLoop("heuristic", library, run, evalCtx, 6);
      const driver = createDriver("heuristic", { library });
      const ctx: DriverContext = {
        runId: "resume",
        iteration: 6,
        brief: "",
        config: driverView(run.config),
        seed: run.config.loop.seed,
        history: full.history.slice(0, 5),
        nudges: [],
        signal: new AbortController().signal,
        evaluate: () => Promise.reject(new Error("unused")),
      };
      const again = await driver.propose(ctx);
      expect(again.candidate?.configYaml).toBe(full.candidates[5]?.configYaml);
    });
  });

  describe("on the bundled BTCUSDT 1h bars", () => {
    it("the heuristic passes the lenient gates within 30 iterations", async () => {
      const searchBars = bundledBars("BTCUSDT", [2019, 2020, 2021, 2022, 2023]);
      const run = runConfig(`
windows:
  search: { start: "2019-01-01", end: "2024-01-01" }
  holdout: { start: "2024-01-01", end: "2026-01-01" }
`);
      const evalCtx: EvaluateContext = { run, searchBars, sandbox, lookaheadCuts: 0, resampled: new Map() };
      const r = await miniLoop("heuristic", library, run, evalCtx, 30, { stopOnPass: true });
      for (const s of r.history)
        console.log(
          `#${s.n} ${s.name} ${s.status} ${s.reasons.join("; ")} → ${s.decision}: ${s.nextHypothesis}`,
        );
      expectValidConfigs(library, r);
      expect(r.firstPass).toBeDefined();
      expect(r.firstPass).toBeLessThanOrEqual(30);
    });
  });
});
