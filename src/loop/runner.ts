/**
 * Wiring for one process that runs research: the store, the bars, the sandbox and a driver, put
 * together the same way for `alphaloop run`, the worker and the tests.
 */
import { randomBytes } from "node:crypto";
import { defaultSandbox, type Sandbox } from "../backtest/sandbox/index.ts";
import type { Bars } from "../domain/bars.ts";
import { type FrozenRunConfig, freezeRunConfig, type RunConfig } from "../domain/run-config.ts";
import { loadBars } from "../market/load.ts";
import type { Db } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { PgTrialLedger } from "../store/trial-ledger.ts";
import type { Driver } from "./driver.ts";
import type { FoldExecutors } from "./fold-executor.ts";
import type { TrialLedger } from "./ledger.ts";
import { type LoopDeps, ResearchLoop } from "./research-loop.ts";
import type { RunRecord, RunRepository } from "./run-repository.ts";
import { type BarRequest, type BarSource, RunWindows } from "./windows.ts";

/** Bars from the store through the window cache (so repeated runs never re-query Postgres). */
export class StoreBarSource implements BarSource {
  constructor(private readonly db: Db) {}
  async load(r: BarRequest): Promise<Bars> {
    return (await loadBars(this.db, r)).bars;
  }
}

export function newRunId(): string {
  return `r-${randomBytes(4).toString("hex")}`;
}

export interface StartRunOptions {
  readonly brief: string;
  readonly config: RunConfig;
  readonly driver: string;
  readonly owner?: string;
  readonly source?: string;
  readonly guildId?: string;
  readonly channelId?: string;
  readonly id?: string;
}

export async function createRun(runs: RunRepository, o: StartRunOptions): Promise<RunRecord> {
  const frozen = freezeRunConfig(o.config);
  return runs.createRun(
    {
      id: o.id ?? newRunId(),
      brief: o.brief,
      driver: o.driver,
      frozen,
      ...(o.owner ? { owner: o.owner } : {}),
      ...(o.source ? { source: o.source } : {}),
      ...(o.guildId ? { guildId: o.guildId } : {}),
      ...(o.channelId ? { channelId: o.channelId } : {}),
    },
    [],
  );
}

/** The frozen config of a stored run: re-hashed, so a tampered row cannot pass as the same config. */
export function frozenOf(run: RunRecord): FrozenRunConfig {
  const frozen = freezeRunConfig(run.config);
  if (frozen.hash !== run.configHash) {
    throw new Error(`run ${run.id}: stored config does not match its hash ${run.configHash.slice(0, 12)}`);
  }
  return frozen;
}

export interface LoopFactoryOptions {
  readonly db: Db;
  readonly driver: Driver;
  readonly sandbox?: Sandbox;
  readonly bars?: BarSource;
  /**
   * A ledger that outlives this loop (a queue worker builds a loop per iteration job): its
   * caches of what it read carry over. Default: a fresh one.
   */
  readonly ledger?: TrialLedger;
  /** The run's windows from an earlier loop over the same run, with its search bars loaded. */
  readonly windows?: RunWindows;
  readonly folds?: FoldExecutors;
  readonly onIteration?: LoopDeps["onIteration"];
}

export function buildLoop(run: RunRecord, o: LoopFactoryOptions): ResearchLoop {
  const frozen = frozenOf(run);
  return new ResearchLoop(
    {
      runs: new PgRunRepository(o.db),
      ledger: o.ledger ?? new PgTrialLedger(o.db),
      windows: o.windows ?? new RunWindows(o.bars ?? new StoreBarSource(o.db), frozen.config),
      sandbox: o.sandbox ?? defaultSandbox(),
      driver: o.driver,
      ...(o.folds ? { folds: o.folds } : {}),
      ...(o.onIteration ? { onIteration: o.onIteration } : {}),
    },
    frozen,
    run.id,
  );
}
