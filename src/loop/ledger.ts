/**
 * What the loop needs from the trial ledger, as an interface: the store implements it
 * (src/store/trial-ledger.ts), tests can run it against PGlite or Postgres.
 */
export type TrialStatus = "passed" | "discarded" | "crashed";

export interface NewTrial {
  readonly dataset: string;
  readonly windowHash: string;
  readonly runId?: string;
  readonly iteration?: number;
  readonly driver: string;
  readonly strategyName?: string;
  readonly family?: string;
  readonly codeHash: string;
  readonly configHash: string;
  readonly status: TrialStatus;
  readonly independent: boolean;
  /** Per-day Sharpe of `daily`. */
  readonly sharpe?: number;
  readonly daily?: DailySeries;
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly reasons?: readonly string[];
  readonly idempotencyKey?: string;
}

/** Daily returns starting at `firstDay` (UTC midnight, ms), one value per calendar day. */
export interface DailySeries {
  readonly firstDay: number;
  readonly returns: Float32Array | Float64Array;
}

export interface LedgerTrial {
  readonly id: number;
  readonly runId: string | null;
  readonly iteration: number | null;
  readonly codeHash: string;
  readonly configHash: string;
  readonly sharpe: number | null;
  readonly daily: DailySeries | null;
}

export interface WindowStats {
  /** Independent evaluated trials on this dataset and window (the N of Deflated Sharpe). */
  readonly trials: number;
  readonly sharpes: number[];
}

export interface HoldoutRecord {
  readonly dataset: string;
  readonly holdoutHash: string;
  readonly trialId?: number;
  readonly runId?: string;
  readonly iteration?: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly idempotencyKey?: string;
}

export interface TrialLedger {
  /** Inserts a trial; with an idempotency key already present, returns the existing row's id. */
  record(trial: NewTrial): Promise<number>;
  windowStats(dataset: string, windowHash: string): Promise<WindowStats>;
  /** The most recent independent trials with returns on a window (for the correlation sample). */
  recentOnWindow(dataset: string, windowHash: string, limit: number): Promise<LedgerTrial[]>;
  /** Every trial of a run, in iteration order (for the duplicate check). */
  runTrials(runId: string): Promise<LedgerTrial[]>;
  /** Records a holdout evaluation and returns how many there have been on that holdout window. */
  recordHoldout(h: HoldoutRecord): Promise<number>;
  holdoutPeeks(dataset: string, holdoutHash: string): Promise<number>;
}
