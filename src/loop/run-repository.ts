/**
 * What the loop, the terminal front end and the bot need from storage for runs, as an interface;
 * src/store/run-repository.ts implements it over Postgres or PGlite.
 */

import type {
  Decision,
  IterationStatus,
  IterationSummary,
  Nudge,
  RunEvent,
  RunStatus,
  StageTimings,
  TokenUsage,
} from "../domain/run.ts";
import type { FrozenRunConfig, RunConfig } from "../domain/run-config.ts";

export interface RunRecord {
  readonly id: string;
  readonly brief: string;
  readonly driver: string;
  readonly status: RunStatus;
  readonly statusReason: string | null;
  readonly config: RunConfig;
  readonly configHash: string;
  readonly owner: string | null;
  readonly source: string;
  readonly guildId: string | null;
  readonly channelId: string | null;
  readonly threadId: string | null;
  readonly iterationsDone: number;
  readonly passes: number;
  readonly bestDistance: number | null;
  readonly bestIteration: number | null;
  readonly tokensUsed: number;
  readonly stuck: boolean;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export interface NewRun {
  readonly id: string;
  readonly brief: string;
  readonly driver: string;
  readonly frozen: FrozenRunConfig;
  readonly owner?: string;
  readonly source?: string;
  readonly guildId?: string;
  readonly channelId?: string;
}

export interface IterationWrite {
  readonly runId: string;
  readonly n: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly hypothesis: string | null;
  readonly code: string | null;
  readonly configYaml: string | null;
  readonly status: IterationStatus;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly folds: unknown;
  readonly gates: unknown;
  readonly reasons: readonly string[];
  readonly distance: number | null;
  readonly decision: Decision | null;
  /** Set when loop policy overrode the driver's decision, saying why. */
  readonly forced: string | null;
  readonly nudgeIds: readonly number[];
  readonly tokens: TokenUsage;
  readonly timings: StageTimings;
  readonly trialIds: readonly number[];
  readonly backtests: number;
  readonly error: unknown;
  readonly rawOutput: string | null;
  /** Sealed: for humans only. */
  readonly holdout: unknown;
}

/** A full iteration row, holdout included: for people (`runs show`, the thread), never for drivers. */
export interface IterationRecord extends IterationWrite {
  readonly createdAt: Date;
}

export interface RunProgress {
  readonly passesDelta: number;
  readonly bestDistance: number | null;
  readonly bestIteration: number | null;
  readonly tokens: number;
  readonly stuck: boolean;
}

export interface NewNudge {
  readonly runId: string;
  readonly author: string;
  readonly source: string;
  readonly text: string;
  readonly externalId?: string;
}

export interface OutboxRow extends RunEvent {
  readonly id: number;
  readonly createdAt: Date;
}

export interface RunRepository {
  createRun(run: NewRun, events: readonly RunEvent[]): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  listRuns(limit?: number): Promise<RunRecord[]>;
  /** Runs a process should pick up again after a restart. */
  runsInStatus(statuses: readonly RunStatus[]): Promise<RunRecord[]>;
  /**
   * Moves a run to `status` if it is currently in one of `from` (all statuses when omitted) and
   * writes `events` in the same transaction. Returns false (and writes nothing) otherwise.
   */
  setStatus(
    id: string,
    status: RunStatus,
    reason: string | null,
    events: readonly RunEvent[],
    from?: readonly RunStatus[],
  ): Promise<boolean>;
  setThread(id: string, thread: { guildId?: string; channelId?: string; threadId: string }): Promise<void>;
  /** Stores a nudge; a repeated externalId returns undefined (already stored). */
  addNudge(nudge: NewNudge): Promise<Nudge | undefined>;
  /** Nudges not yet claimed by any iteration, oldest first. */
  pendingNudges(runId: string): Promise<Nudge[]>;
  nudges(runId: string): Promise<Nudge[]>;
  /**
   * Writes an iteration, claims its nudges (only those still unclaimed), updates the run's progress
   * and writes its events — one transaction. Returns false if iteration n was already committed.
   */
  commitIteration(
    write: IterationWrite,
    progress: RunProgress,
    events: readonly RunEvent[],
  ): Promise<boolean>;
  /** Driver-facing history: no holdout column is even read. Oldest first; `limit` keeps the last ones. */
  history(runId: string, limit?: number): Promise<IterationSummary[]>;
  iterations(runId: string): Promise<IterationRecord[]>;
  lastIteration(runId: string): Promise<number>;
  appendEvents(events: readonly RunEvent[]): Promise<void>;
  pendingEvents(limit: number, runId?: string): Promise<OutboxRow[]>;
  markDelivered(eventId: string, delivery: Readonly<Record<string, unknown>>): Promise<void>;
}
