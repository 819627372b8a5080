/**
 * simulate + metrics on 1M synthetic 1m bars with a precomputed EMA(100/400) cross, against a plain
 * baseline written the obvious way (an object per bar, arrays grown with push, reduce-based
 * metrics) that implements the same rules for this case: next-open fills, fees and slippage per
 * side, a 2 % stop loss, mark-to-market equity, Sharpe and max drawdown. Both must agree on the
 * final equity, so the ratio compares equal work.
 */
import { metrics } from "../src/backtest/metrics.ts";
import { simulate } from "../src/backtest/simulate.ts";
import type { EventSignals } from "../src/domain/signals.ts";
import { syntheticBars } from "../src/market/synthetic.ts";
import { medianMs, ratio } from "./timing.ts";

const N = 1_000_000;
const FEE_BPS = 4;
const SLIP_BPS = 2;
const STOP = 0.02;

function emaCross(close: Float64Array, fast: number, slow: number): EventSignals {
  const n = close.length;
  const enterLong = new Uint8Array(n);
  const exitLong = new Uint8Array(n);
  const af = 2 / (fast + 1);
  const as = 2 / (slow + 1);
  let f = close[0]!;
  let s = close[0]!;
  for (let i = 1; i < n; i++) {
    const pf = f;
    const ps = s;
    f += af * (close[i]! - f);
    s += as * (close[i]! - s);
    if (f > s && pf <= ps) enterLong[i] = 1;
    if (f < s && pf >= ps) exitLong[i] = 1;
  }
  return { kind: "events", enterLong, exitLong };
}

interface NaiveBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  enter: boolean;
  exit: boolean;
}

interface NaiveTrade {
  entryTime: number;
  entryPrice: number;
  exitTime: number;
  exitPrice: number;
  pnl: number;
}

/** The plain version: same rules, written without regard for speed. */
function naive(rows: NaiveBar[]): {
  finalEquity: number;
  sharpe: number;
  maxDrawdown: number;
  trades: number;
} {
  const fee = FEE_BPS / 1e4;
  const slip = SLIP_BPS / 1e4;
  const k = slip + (1 + slip) * fee; // cost per unit of notional on a buy
  let cash = 1;
  let pos: { units: number; entryPrice: number; entryTime: number; before: number; stop: number } | null =
    null;
  let pending: "enter" | "exit" | null = null;
  const trades: NaiveTrade[] = [];
  const equity: number[] = [];
  const close = (bar: NaiveBar, ref: number, p: NonNullable<typeof pos>) => {
    const px = ref * (1 - slip);
    cash += p.units * px * (1 - fee);
    trades.push({
      entryTime: p.entryTime,
      entryPrice: p.entryPrice,
      exitTime: bar.time,
      exitPrice: px,
      pnl: cash / p.before - 1,
    });
  };
  rows.forEach((bar, i) => {
    if (pending === "enter" && !pos) {
      const units = cash / (bar.open * (1 + k));
      const px = bar.open * (1 + slip);
      const before = cash;
      cash -= units * px * (1 + fee);
      pos = { units, entryPrice: px, entryTime: bar.time, before, stop: px * (1 - STOP) };
    } else if (pending === "exit" && pos) {
      close(bar, bar.open, pos);
      pos = null;
    }
    pending = null;
    if (pos) {
      if (bar.open <= pos.stop) {
        close(bar, bar.open, pos);
        pos = null;
      } else if (bar.low <= pos.stop) {
        close(bar, pos.stop, pos);
        pos = null;
      }
    }
    if (i === rows.length - 1 && pos) {
      close(bar, bar.close, pos);
      pos = null;
    }
    equity.push(cash + (pos ? pos.units * bar.close : 0));
    if (pos && bar.exit) pending = "exit";
    else if (!pos && bar.enter && !bar.exit) pending = "enter";
  });
  const returns = equity.map((e, i) => e / (i === 0 ? 1 : equity[i - 1]!) - 1);
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const sd = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / (returns.length - 1));
  let peak = 1;
  const drawdowns = equity.map((e) => {
    peak = Math.max(peak, e);
    return 1 - e / peak;
  });
  return {
    finalEquity: equity[equity.length - 1]!,
    sharpe: (mean / sd) * Math.sqrt(525_600),
    maxDrawdown: drawdowns.reduce((a, b) => Math.max(a, b), 0),
    trades: trades.length,
  };
}

/** Median CPU time (user + system) of `fn`: steadier than wall time on a shared, loaded VM. */
async function medianCpuMs(fn: () => unknown, runs = 7, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

export default async function bench(): Promise<void> {
  // A small gap between a bar's open and the previous close, so next-open fills differ from the
  // signal bar's close as they do on real data.
  const bars = syntheticBars({ n: N, timeframe: "1m", seed: 7, openGap: 0.0001 });
  const signals = emaCross(bars.close, 100, 400);
  const opts = {
    direction: "long_only" as const,
    risk: { stop_loss: { percent: STOP * 100 } },
    feeBps: FEE_BPS,
    slippageBps: SLIP_BPS,
    timeframe: "1m",
  };
  const ours = () => metrics(simulate(bars, signals, opts), { timeframe: "1m" });
  const allRisk = () =>
    simulate(bars, signals, {
      ...opts,
      risk: {
        stop_loss: { atr: 3, atr_period: 14 },
        trailing_stop: { atr: 4, atr_period: 14 },
        time_stop_bars: 500,
      },
      sizing: { mode: "volatility_target", target_volatility: 0.5, vol_lookback: 60, max_leverage: 2 },
    });
  const m = ours();

  // Ours first: the baseline's million live objects would slow every later GC, ours included.
  const simWall = await medianMs(() => simulate(bars, signals, opts), 7, 2);
  const fullWall = await medianMs(ours, 7, 2);
  const riskWall = await medianMs(allRisk, 7, 2);
  const fullCpu = await medianCpuMs(ours);
  const simCpu = await medianCpuMs(() => simulate(bars, signals, opts));
  const riskCpu = await medianCpuMs(allRisk);

  let rows: NaiveBar[] | null = Array.from({ length: N }, (_, i) => ({
    time: bars.time[i]!,
    open: bars.open[i]!,
    high: bars.high[i]!,
    low: bars.low[i]!,
    close: bars.close[i]!,
    enter: signals.enterLong[i] === 1,
    exit: signals.exitLong[i] === 1,
  }));
  const naiveRows = rows;
  const base = naive(naiveRows);
  const baseWall = await medianMs(() => naive(naiveRows), 5, 1);
  const baseCpu = await medianCpuMs(() => naive(naiveRows), 5, 1);
  rows = null;

  const agree = Math.abs(m.totalReturn + 1 - base.finalEquity) <= 1e-9 * base.finalEquity;
  console.log(
    `1M bars, ${m.tradeCount} trades (baseline ${base.trades}); final equity ${(m.totalReturn + 1).toFixed(6)} vs ${base.finalEquity.toFixed(6)}: ${agree ? "agree" : "DISAGREE"}; sharpe ${m.sharpe.toFixed(3)} vs ${base.sharpe.toFixed(3)}; max dd ${m.maxDrawdown.toFixed(4)} vs ${base.maxDrawdown.toFixed(4)}`,
  );
  console.log(`simulate                         ${simWall.toFixed(1)} ms wall, ${simCpu.toFixed(1)} ms CPU`);
  console.log(
    `simulate + metrics               ${fullWall.toFixed(1)} ms wall, ${fullCpu.toFixed(1)} ms CPU`,
  );
  console.log(
    `simulate, ATR+trailing+time+vol  ${riskWall.toFixed(1)} ms wall, ${riskCpu.toFixed(1)} ms CPU`,
  );
  console.log(
    `naive baseline (object per bar)  ${baseWall.toFixed(1)} ms wall, ${baseCpu.toFixed(1)} ms CPU`,
  );
  console.log(
    `speed-up simulate+metrics vs baseline: ${ratio(baseWall, fullWall)} wall, ${ratio(baseCpu, fullCpu)} CPU`,
  );
}
