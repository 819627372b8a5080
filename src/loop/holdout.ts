/**
 * The sealed holdout: evaluated once per candidate that passed every search gate, on bars the search
 * never saw. The result is for humans (thread, summary); it is never handed to a driver.
 */
import type { Sandbox } from "../backtest/sandbox/index.ts";
import type { FrozenRunConfig } from "../domain/run-config.ts";
import { windowMs } from "../domain/run-config.ts";
import { backtestOnce, type Candidate, type SingleBacktest } from "./evaluate.ts";
import type { RunWindows } from "./windows.ts";

export async function evaluateHoldout(
  candidate: Candidate,
  strategyTimeframe: string,
  ctx: { run: FrozenRunConfig; windows: RunWindows; sandbox: Sandbox },
): Promise<SingleBacktest> {
  const cfg = ctx.run.config;
  const { bars } = await ctx.windows.holdout(ctx.windows.warmupMs(strategyTimeframe));
  return backtestOnce(candidate, {
    bars,
    baseTimeframe: cfg.dataset.timeframe,
    startTime: windowMs(cfg.windows.holdout).start,
    feeBps: cfg.costs.fee_bps,
    slippageBps: cfg.costs.slippage_bps,
    sandbox: ctx.sandbox,
  });
}
