/**
 * `alphaloop run` and `alphaloop runs list|show` as a person uses them: the live table, a nudge
 * typed on stdin, the summary and results.tsv, then reading the run back.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { register } from "../../src/cli/run-command.ts";
import { syntheticBars } from "../../src/market/synthetic.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { captureStdout } from "../support/capture-stdout.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { storeBars } from "../support/store-bars.ts";

describe("alphaloop run / runs", () => {
  let db: Db;
  const schema = testSchema("run_cli");
  const dir = mkdtempSync(join(tmpdir(), "alphaloop-run-cli-"));
  const trend = { drift: 1.2, volScale: 0.7 };
  beforeAll(async () => {
    db = await backends[0].open(schema);
    await storeBars(
      db,
      "CLIUSD",
      "1h",
      syntheticBars({
        n: 24 * 700,
        timeframe: "1h",
        start: "2020-01-01",
        seed: 4,
        regimes: { bull: trend, bear: trend, sideways: trend },
      }),
    );
  });
  afterAll(() => dropSchema(db, schema));

  async function cli(args: string[], input: NodeJS.ReadableStream | null = null): Promise<string> {
    let out = "";
    const program = new Command().exitOverride();
    // The command closes the store it opens; hand it a view whose close is a no-op.
    register(program, {
      openDb: async () => ({ ...db, close: async () => {} }),
      write: (t) => (out += t),
      input,
    });
    const { stdout, error } = await captureStdout(() => program.parseAsync(args, { from: "user" }));
    if (error) throw error;
    return out + stdout;
  }

  it("prints a row per iteration, stores a typed nudge for the next iteration, and writes results.tsv", async () => {
    const override = join(dir, "cli.yaml");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(
      override,
      `dataset: { symbol: CLIUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
`,
    );
    const stdin = new PassThrough();
    stdin.write("try donchian-breakout next\n");
    const results = join(dir, "results.tsv");
    const out = await cli(
      [
        "run",
        "--brief",
        "cli test",
        "--preset",
        "lenient",
        "--config",
        override,
        "--driver",
        "heuristic",
        "--max-iterations",
        "3",
        "--results",
        results,
      ],
      stdin,
    );
    stdin.end();
    expect(out).toContain("driver: heuristic (as configured)");
    expect(out).toMatch(/run (r-[0-9a-f]{8}) · CLIUSD 1h · search 2020-01-01 → 2021-07-01 · holdout sealed/);
    const rows = out.split("\n").filter((l) => /^[123] {3}\S/.test(l));
    expect(rows).toHaveLength(3);
    expect(out).toContain("📥 nudge stored");
    expect(out).toMatch(/completed \(reached max_iterations \(3\)\): 3 iterations/);
    const tsv = readFileSync(results, "utf8").trim().split("\n");
    expect(tsv[0]).toBe(
      "iteration\tname\tfamily\tsharpe\tmax_dd\tprofit_factor\ttrades\tdsr\tstatus\tdescription",
    );
    expect(tsv.slice(1).map((l) => l.split("\t")[0])).toEqual(["1", "2", "3"]);
    for (const line of tsv.slice(1))
      expect(["pass", "keep", "discard", "crash"]).toContain(line.split("\t")[8]);

    const runId = /run (r-[0-9a-f]{8})/.exec(out)?.[1] as string;
    const nudges = await new PgRunRepository(db).nudges(runId);
    expect(nudges).toHaveLength(1);
    expect(nudges[0]?.text).toBe("try donchian-breakout next");
    expect(nudges[0]?.claimedIteration).not.toBeNull();

    const list = JSON.parse(await cli(["runs", "list", "--json"])) as {
      runs: { id: string; iterationsDone: number }[];
    };
    expect(list.runs.find((r) => r.id === runId)?.iterationsDone).toBe(3);
    const show = await cli(["runs", "show", runId]);
    expect(show).toContain("brief: cli test");
    expect(show.split("\n").filter((l) => /^[123] {3}\S/.test(l))).toHaveLength(3);
  });

  it("--islands runs sub-searches and shows each iteration's island, live and in runs show", async () => {
    const override = join(dir, "islands.yaml");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(
      override,
      `dataset: { symbol: CLIUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
loop: { migrate_every: 2 }
`,
    );
    const args = ["run", "--preset", "lenient", "--config", override, "--driver", "ga"];
    const out = await cli([
      ...args,
      "--islands",
      "2",
      "--max-iterations",
      "4",
      "--results",
      join(dir, "i.tsv"),
    ]);
    expect(out).toContain("2 islands (seeds 1…2), migrating each island's best every 2 iterations");
    expect(out).toMatch(/^# {3}isl name/m);
    const rows = out.split("\n").filter((l) => /^[1-4] {3}[01] {3}\S/.test(l));
    expect(rows.map((r) => r.slice(0, 8).replace(/\s+/g, " ").trim())).toEqual(["1 0", "2 1", "3 0", "4 1"]);
    const runId = /run (r-[0-9a-f]{8})/.exec(out)?.[1] as string;
    const show = await cli(["runs", "show", runId]);
    expect(show.split("\n").filter((l) => /^[1-4] {3}[01] {3}\S/.test(l))).toHaveLength(4);
    const json = JSON.parse(await cli(["runs", "show", runId, "--json"])) as {
      iterations: { n: number; island: number }[];
    };
    expect(json.iterations.map((i) => [i.n, i.island])).toEqual([
      [1, 0],
      [2, 1],
      [3, 0],
      [4, 1],
    ]);

    // Out of range: a clear error naming the key, and no run is created.
    const before = (await new PgRunRepository(db).listRuns(100)).length;
    await expect(cli([...args, "--islands", "17"])).rejects.toThrow(/loop\.islands: at most 16 islands/);
    await expect(cli([...args, "--islands", "two"])).rejects.toThrow(/loop\.islands/);
    expect((await new PgRunRepository(db).listRuns(100)).length).toBe(before);
  });

  it("names an unknown preset and a missing config file before touching the store", async () => {
    await expect(cli(["run", "--preset", "nope"])).rejects.toThrow(
      /unknown preset "nope"; available: lenient/,
    );
    await expect(cli(["run", "--config", join(dir, "missing.yaml")])).rejects.toThrow(
      /missing\.yaml is invalid:\n {2}no such file/,
    );
  });

  it("refuses to resume a run that does not exist", async () => {
    await expect(cli(["run", "--resume", "r-00000000"])).rejects.toThrow(/no run r-00000000/);
  });
});
