/**
 * The loop's ledger access pattern: the duplicate check reads every trial of the run (daily returns
 * included) on every iteration. Subject: one long-lived `PgTrialLedger`, which reads a run's trials
 * incrementally; baseline, same run: a full read every time (a fresh ledger per read), on embedded
 * PGlite as `alphaloop run` and `compare` use by default. Each "iteration" records one trial with
 * five years of daily returns and then reads the run's trials back, for a 200-backtest run.
 */
import { cpus, loadavg } from "node:os";
import type { NewTrial, TrialLedger } from "../src/loop/ledger.ts";
import { openDb } from "../src/store/db.ts";
import { PgTrialLedger } from "../src/store/trial-ledger.ts";
import { ratio } from "./timing.ts";

const BUDGET = 200;
const DAYS = 1826;

function trial(runId: string, n: number): NewTrial {
  const returns = new Float64Array(DAYS);
  for (let d = 0; d < DAYS; d++) returns[d] = Math.sin(n * 7 + d) * 0.01;
  return {
    dataset: "BENCH:1h",
    windowHash: "w",
    runId,
    iteration: n,
    driver: "bench",
    codeHash: `c${n}`,
    configHash: `k${n}`,
    status: "discarded",
    independent: true,
    sharpe: 0.1,
    daily: { firstDay: Date.UTC(2019, 0, 1), returns },
    idempotencyKey: `${runId}:${n}`,
  };
}

/** Wall time of one run's worth of record-then-read-the-run's-trials, and the rows read in total. */
async function run(ledger: () => TrialLedger, runId: string): Promise<{ ms: number; rows: number }> {
  let rows = 0;
  const t0 = performance.now();
  for (let n = 1; n <= BUDGET; n++) {
    await ledger().record(trial(runId, n));
    rows += (await ledger().runTrials(runId)).length;
  }
  return { ms: performance.now() - t0, rows };
}

export default async function bench(): Promise<void> {
  console.log(`cores ${cpus().length}, load ${loadavg()[0]?.toFixed(1)}`);
  const db = await openDb({ url: "", dataDir: "memory://" });
  try {
    // Alternate the two so load changes on the machine hit both alike.
    const fullMs: number[] = [];
    const incMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await run(() => new PgTrialLedger(db), `full-${i}`);
      const kept = new PgTrialLedger(db);
      const b = await run(() => kept, `inc-${i}`);
      if (a.rows !== b.rows) throw new Error(`the two read different trials: ${a.rows} vs ${b.rows} rows`);
      fullMs.push(a.ms);
      incMs.push(b.ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1] as number;
    const s = median(fullMs);
    const m = median(incMs);
    console.log(
      `${BUDGET} iterations (record a trial, read the run's trials): full reads ${s.toFixed(0)} ms, incremental ${m.toFixed(0)} ms → ${ratio(s, m)}`,
    );
  } finally {
    await db.close();
  }
}
