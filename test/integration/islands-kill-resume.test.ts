/**
 * A run with islands killed with SIGKILL mid-run, then `alphaloop run --resume`: every island
 * continues exactly as an uninterrupted run with the same config does (same configs, same
 * hypotheses, migrants included), with one trial per backtest and no event twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

function stdoutOf(child: ChildProcess): () => string {
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  return () => out;
}

describe("kill -9 a run with islands and resume it", () => {
  let db: Db;
  const schema = testSchema("islkill");
  const home = mkdtempSync(join(tmpdir(), "alphaloop-islkill-"));
  const url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema},public`)}`;
  const env = { DATABASE_URL: url, ALPHALOOP_HOME: home, LLM_BASE_URL: "", LOG_LEVEL: "warn" };
  const migrate = join(home, "islands.yaml");

  beforeAll(async () => {
    db = await backends[0].open(schema);
    writeFileSync(migrate, "loop: { migrate_every: 2 }\n");
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await dropSchema(db, schema);
  });

  const args = (results: string) => [
    "run",
    "--driver",
    "heuristic",
    "--islands",
    "2",
    "--preset",
    "lenient",
    "--config",
    migrate,
    "--max-iterations",
    "10",
    "--results",
    join(home, results),
  ];
  const rows = (runId: string) =>
    db.query<{ n: number; config_yaml: string; hypothesis: string }>(
      "SELECT n, config_yaml, hypothesis FROM iterations WHERE run_id = $1 ORDER BY n",
      [runId],
    );

  it("every island continues exactly where it was", async () => {
    // The reference: the same run, never interrupted. (The lenient preset has no DSR gate, so the
    // second run's figures do not depend on the first one's trials in the shared ledger.)
    const straight = cli(args("a.tsv"), env);
    const straightOut = stdoutOf(straight);
    expect(await exited(straight)).toBe(0);
    const reference = /run (r-[0-9a-f]{8})/.exec(straightOut())?.[1] as string;
    expect((await rows(reference)).rows).toHaveLength(10);

    const first = cli(args("b.tsv"), env);
    const out = stdoutOf(first);
    const runId = async () => /run (r-[0-9a-f]{8})/.exec(out())?.[1];
    const done = async () => {
      const id = await runId();
      return id ? (await rows(id)).rows.length : 0;
    };
    await waitFor(async () => (await done()) >= 2, 240_000, "two iterations");
    first.kill("SIGKILL");
    await exited(first);
    const killed = (await runId()) as string;
    expect(await done()).toBeLessThan(10);

    const second = cli(["run", "--resume", killed, "--results", join(home, "c.tsv")], env);
    expect(await exited(second)).toBe(0);

    const a = (await rows(reference)).rows;
    const b = (await rows(killed)).rows;
    expect(b.map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.map((r) => r.config_yaml)).toEqual(a.map((r) => r.config_yaml));
    expect(b.map((r) => r.hypothesis)).toEqual(a.map((r) => r.hypothesis));
    const trials = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM trials WHERE run_id = $1", [
      killed,
    ]);
    expect(trials.rows[0]?.n).toBe(10);
    const events = await db.query<{ payload: { n: number; island: number } }>(
      "SELECT payload FROM outbox WHERE run_id = $1 AND type = 'iteration.completed' ORDER BY (payload->>'n')::int",
      [killed],
    );
    expect(events.rows.map((r) => [r.payload.n, r.payload.island])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => [n, (n - 1) % 2]),
    );
    // Migration happened, and identically in both runs: some island tuned from the other's best.
    expect(b.some((r) => /from island \d's best/.test(r.hypothesis))).toBe(true);
  }, 600_000);
});
