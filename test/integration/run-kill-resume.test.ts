/**
 * A real process killed with SIGKILL in the middle of a run, then `alphaloop run --resume`: the run
 * finishes with every iteration exactly once, one trial per backtest, and no event twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/store/db.ts";
import { backends, dropSchema, TEST_PG_URL, testSchema } from "../support/databases.ts";
import { exited, waitFor } from "../support/wait.ts";

function cli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ["--no-node-snapshot", "--import", "tsx", "src/cli/main.ts", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("kill -9 mid-run and resume", () => {
  let db: Db;
  const schema = testSchema("kill");
  const home = mkdtempSync(join(tmpdir(), "alphaloop-kill-"));
  // Every connection of the child processes lands in this test's schema.
  const url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema},public`)}`;
  const env = { DATABASE_URL: url, ALPHALOOP_HOME: home, LLM_BASE_URL: "", LOG_LEVEL: "warn" };

  beforeAll(async () => {
    db = await backends[0].open(schema);
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await dropSchema(db, schema);
  });

  it("resumes a killed run with no lost or duplicated iteration, trial or event", async () => {
    const first = cli(
      [
        "run",
        "--brief",
        "kill me",
        "--driver",
        "heuristic",
        "--preset",
        "lenient",
        "--max-iterations",
        "6",
        "--results",
        join(home, "r1.tsv"),
      ],
      env,
    );
    let out = "";
    first.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const iterations = async () =>
      Number((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM iterations")).rows[0]?.n ?? 0);
    await waitFor(async () => (await iterations()) >= 2, 240_000, "two iterations");
    first.kill("SIGKILL");
    await exited(first);
    const runId = /run (r-[0-9a-f]{8})/.exec(out)?.[1];
    expect(runId).toBeDefined();
    const before = await iterations();
    expect(before).toBeLessThan(6);
    const status = await db.query<{ status: string }>("SELECT status FROM runs WHERE id = $1", [runId]);
    expect(status.rows[0]?.status).toBe("running");

    const second = cli(["run", "--resume", runId as string, "--results", join(home, "r2.tsv")], env);
    expect(await exited(second)).toBe(0);

    const its = await db.query<{ n: number; trial_ids: number[] }>(
      "SELECT n, trial_ids FROM iterations WHERE run_id = $1 ORDER BY n",
      [runId],
    );
    expect(its.rows.map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6]);
    const trials = await db.query<{ n: number; distinct_keys: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT idempotency_key)::int AS distinct_keys FROM trials WHERE run_id = $1",
      [runId],
    );
    // One backtest per heuristic iteration; a half-done iteration's trial was reused, not doubled.
    expect(trials.rows[0]?.n).toBe(6);
    expect(its.rows.flatMap((r) => r.trial_ids)).toHaveLength(6);
    const events = await db.query<{ type: string; n: number }>(
      "SELECT type, count(*)::int AS n FROM outbox WHERE run_id = $1 GROUP BY type",
      [runId],
    );
    const byType = Object.fromEntries(events.rows.map((r) => [r.type, r.n]));
    expect(byType["iteration.completed"]).toBe(6);
    expect(byType["run.finished"]).toBe(1);
    const run = await db.query<{ status: string; iterations_done: number }>(
      "SELECT status, iterations_done FROM runs WHERE id = $1",
      [runId],
    );
    expect(run.rows[0]).toEqual({ status: "completed", iterations_done: 6 });
  }, 420_000);
});
