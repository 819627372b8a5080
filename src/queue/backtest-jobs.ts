/**
 * The `backtests` queue's jobs as data. A candidate's evaluation fans out as one BullMQ flow: a
 * `join` parent over a chain of one `fold` job per walk-forward fold, each fold the parent of the
 * one before. Ids follow
 * `run:iteration:step` (`r-1a2b:3:fold2-<key>`, `r-1a2b:3:join-<key>`, the key naming the
 * candidate), so adding the same flow twice adds nothing, and a redone iteration finds the folds
 * of a candidate it already sent. A fold job carries only what is needed to redo the fold from
 * data; the bars are loaded by whoever runs it, from the run's search window and nothing else.
 *
 * A fold's result is written by the job to its own Redis key (`foldResultKey`) as JSON with the
 * Float64 arrays in base64 (8 bytes a bar, not ~20 as decimal text; the bar times are not sent,
 * the caller has them); the job itself returns only a receipt. BullMQ puts every job's return
 * value into the queue's events stream, which every process's QueueEvents reads and parses:
 * results of a few hundred KB there would cost each worker the parsing of every other worker's
 * folds. The waiter reads the keys once the flow completes and lets them expire soon after.
 */
import { createHash } from "node:crypto";
import type { Trade } from "../backtest/simulate.ts";
import type { EvaluationError, FoldOutcome } from "../loop/evaluate.ts";
import type { FoldPart } from "../loop/fold-executor.ts";
import type { Fold } from "../loop/folds.ts";

export const BACKTESTS_QUEUE = "backtests";
export const FOLD_JOB = "fold";
export const JOIN_JOB = "join";

export interface FoldJobData {
  readonly runId: string;
  readonly iteration: number;
  /** Hash of the run's frozen config: the job is refused if the stored run says otherwise. */
  readonly configHash: string;
  readonly code: string;
  readonly configYaml: string;
  readonly timeframe: string;
  readonly fold: Fold;
  /**
   * The index of the fold whose job is this job's child in the candidate's chain (see
   * bull-fold-executor.ts), whose receipts this job passes on; unset for the chain's first fold.
   */
  readonly follows?: number;
}

export interface JoinJobData {
  readonly runId: string;
  readonly iteration: number;
  readonly folds: number;
}

export interface EncodedPart {
  readonly outcome: FoldOutcome;
  /** Little-endian Float64 bytes, base64. */
  readonly returns: string;
  readonly position: string;
  readonly trades: readonly Trade[];
  readonly turnover: number;
}

export type FoldJobResult =
  | { readonly index: number; readonly ok: true; readonly part: EncodedPart }
  | { readonly index: number; readonly ok: false; readonly error: EvaluationError };

/**
 * What a fold job returns for itself (the result itself is under `foldResultKey`); a job in a
 * chain returns its child's receipts followed by its own.
 */
export interface FoldJobReceipt {
  readonly index: number;
  readonly ok: boolean;
}

/** How long a fold's result waits for its reader; once read it expires after `RESULT_LINGER_S`. */
export const RESULT_TTL_S = 600;
/** Long enough for a second waiter on the same flow (a duplicate iteration) to read it too. */
export const RESULT_LINGER_S = 30;

export function foldResultKey(prefix: string, jobId: string): string {
  return `${prefix}:${BACKTESTS_QUEUE}:result:${jobId}`;
}

/** The candidate's part of a job id: ids must not contain `:` beyond the three parts. */
export function candidateKey(codeHash: string, configHash: string): string {
  return createHash("sha256").update(`${codeHash}/${configHash}`).digest("hex").slice(0, 16);
}

export function foldJobId(runId: string, iteration: number, key: string, fold: number): string {
  return `${runId}:${iteration}:fold${fold}-${key}`;
}

export function joinJobId(runId: string, iteration: number, key: string): string {
  return `${runId}:${iteration}:join-${key}`;
}

export function encodeFloat64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

export function decodeFloat64(s: string): Float64Array {
  const bytes = Buffer.from(s, "base64");
  if (bytes.byteLength % 8 !== 0) throw new Error(`not a Float64 array: ${bytes.byteLength} bytes`);
  // Copied into a fresh buffer: a Buffer's offset into its pool need not be 8-byte aligned.
  const out = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function encodePart(p: FoldPart): EncodedPart {
  return {
    outcome: p.outcome,
    returns: encodeFloat64(p.returns),
    position: encodeFloat64(p.position),
    trades: p.trades,
    turnover: p.turnover,
  };
}

export function decodePart(e: EncodedPart): FoldPart {
  return {
    outcome: e.outcome,
    returns: decodeFloat64(e.returns),
    position: decodeFloat64(e.position),
    trades: e.trades,
    turnover: e.turnover,
  };
}
