/**
 * Starting, pausing, stopping and resuming a run from any process: the status changes in Postgres
 * first (the loop re-reads it before every iteration), then the transport tells every worker to
 * abort that run's in-flight iteration, so the change takes effect within one step.
 */
import { eventId } from "../domain/run.ts";
import type { RunRecord, RunRepository } from "../loop/run-repository.ts";
import type { ControlAction, ResearchTransport } from "./transport.ts";

/** Moves a created/paused run to running and enqueues its next iteration. False if it is finished. */
export async function submitRun(
  runs: RunRepository,
  transport: ResearchTransport,
  runId: string,
): Promise<boolean> {
  const started = await runs.setStatus(
    runId,
    "running",
    null,
    [{ eventId: eventId(runId, "run.started"), runId, type: "run.started", payload: {} }],
    ["created", "running"],
  );
  if (!started) return false;
  await transport.enqueueIteration({ runId, iteration: (await runs.lastIteration(runId)) + 1 });
  return true;
}

export async function resumeRun(
  runs: RunRepository,
  transport: ResearchTransport,
  runId: string,
  reason = "resumed",
): Promise<boolean> {
  const n = (await runs.lastIteration(runId)) + 1;
  const resumed = await runs.setStatus(
    runId,
    "running",
    null,
    [
      {
        eventId: eventId(runId, "run.resumed", n, String(Date.now())),
        runId,
        type: "run.resumed",
        payload: { reason },
      },
    ],
    ["paused"],
  );
  if (resumed) await transport.enqueueIteration({ runId, iteration: n });
  return resumed;
}

/** Pause or stop; returns false when the run was not running (or paused, for a stop). */
export async function controlRun(
  runs: RunRepository,
  transport: ResearchTransport,
  runId: string,
  action: ControlAction,
  reason: string,
): Promise<boolean> {
  const run = await runs.getRun(runId);
  if (!run) return false;
  const changed =
    action === "pause"
      ? await runs.setStatus(
          runId,
          "paused",
          reason,
          [
            {
              eventId: eventId(runId, "run.paused", run.iterationsDone + 1, String(Date.now())),
              runId,
              type: "run.paused",
              payload: { reason },
            },
          ],
          ["running"],
        )
      : await runs.setStatus(
          runId,
          "stopped",
          reason,
          [finishedEvent(run, reason)],
          ["running", "paused", "created"],
        );
  if (changed) await transport.publishControl({ runId, action });
  return changed;
}

function finishedEvent(run: RunRecord, reason: string) {
  return {
    eventId: eventId(run.id, "run.finished"),
    runId: run.id,
    type: "run.finished" as const,
    payload: {
      status: "stopped",
      reason,
      iterations: run.iterationsDone,
      passes: run.passes,
      bestIteration: run.bestIteration,
      bestDistance: run.bestDistance,
    },
  };
}
