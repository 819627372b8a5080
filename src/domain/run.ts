/**
 * Runs, iterations, nudges, decisions and events: the vocabulary shared by the loop, the store,
 * the terminal front end and the Discord bot.
 */
export const RUN_STATUSES = ["created", "running", "paused", "completed", "stopped", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const DECISIONS = ["abandon", "fix", "tune", "new_approach"] as const;
export type DecisionKind = (typeof DECISIONS)[number];

export interface Decision {
  readonly decision: DecisionKind;
  readonly rationale: string;
  readonly nextHypothesis: string;
}

export type IterationStatus = "passed" | "discarded" | "crashed" | "model_error";

export interface Nudge {
  readonly id: number;
  readonly runId: string;
  readonly author: string;
  /** Where it came from: cli, discord-thread, discord-command, discord-modal, … */
  readonly source: string;
  readonly text: string;
  readonly createdAt: Date;
  readonly claimedIteration: number | null;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly calls: number;
}

export const NO_TOKENS: TokenUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 };

export interface StageTimings {
  proposeMs: number;
  compileMs: number;
  backtestMs: number;
  gateMs: number;
  decideMs: number;
}

export interface GateSummary {
  readonly gate: string;
  readonly value: number;
  readonly threshold: number;
  readonly op: ">=" | "<=";
  readonly pass: boolean;
}

/** What a driver (and the model) may see of a past iteration: never the holdout. */
export interface IterationSummary {
  readonly n: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly hypothesis: string | null;
  readonly status: IterationStatus;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly reasons: readonly string[];
  readonly distance: number | null;
  readonly decision: DecisionKind | null;
  readonly nextHypothesis: string | null;
  readonly configYaml: string | null;
}

export const EVENT_TYPES = [
  "run.started",
  "iteration.completed",
  "gate.passed",
  "holdout.evaluated",
  "run.stuck",
  "nudge.applied",
  "run.paused",
  "run.resumed",
  "run.finished",
] as const;
export type RunEventType = (typeof EVENT_TYPES)[number];

export interface RunEvent {
  /** Stable: `${runId}:${iteration ?? "run"}:${type}[:suffix]` — written once, delivered once. */
  readonly eventId: string;
  readonly runId: string;
  readonly type: RunEventType;
  readonly payload: Readonly<Record<string, unknown>>;
}

export function eventId(runId: string, type: RunEventType, iteration?: number, suffix?: string): string {
  return `${runId}:${iteration ?? "run"}:${type}${suffix ? `:${suffix}` : ""}`;
}
