import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { register } from "../../src/cli/backtest-command.ts";
import { CliError } from "../../src/cli/cli-error.ts";
import { importFiles } from "../../src/market/import.ts";
import type { Db } from "../../src/store/db.ts";
import { captureStdout } from "../support/capture-stdout.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";

const postgres = backends[0];

describe("alphaloop backtest", () => {
  let db: Db;
  const schema = testSchema("backtest_cli");
  beforeAll(async () => {
    db = await postgres.open(schema);
    const r = await importFiles(db, ["data/BTCUSDT-1h-2022.csv.gz", "data/BTCUSDT-1h-2023.csv.gz"]);
    expect(r.ok).toBe(true);
  });
  afterAll(() => dropSchema(db, schema));

  async function run(args: string[]): Promise<{ out: string; stdout: string; error?: unknown }> {
    let out = "";
    const program = new Command().exitOverride();
    // The command closes the store it is given; hand it a view whose close is a no-op.
    register(program, { openDb: async () => ({ ...db, close: async () => {} }), write: (t) => (out += t) });
    const { stdout, error } = await captureStdout(() =>
      program.parseAsync(["backtest", ...args], { from: "user" }),
    );
    return { out, stdout, error };
  }

  it("prints a metrics table, trades by exit reason and the look-ahead verdict", async () => {
    const { out } = await run([
      "strategies/bollinger-reversion.ts",
      "--from",
      "2022-06-01",
      "--to",
      "2023-06-01",
    ]);
    expect(out).toMatch(
      /^bollinger-reversion · mean-reversion · BTCUSDT 1h · 2022-06-01 00:00 → 2023-05-31 23:00/,
    );
    expect(out).toMatch(/Sharpe\s+-?\d+\.\d\d/);
    expect(out).toMatch(/stop_loss\s+\d+/);
    expect(out).toMatch(/look-ahead: none found \(\d+ cuts\); warm-up \d+ bars/);
  });

  it("prints one JSON object with metrics, trades and the look-ahead verdict", async () => {
    const { stdout } = await run([
      "strategies/ema-cross.ts",
      "--from",
      "2022-03-01",
      "--to",
      "2023-12-01",
      "--timeframe",
      "1h",
      "--json",
    ]);
    const j = JSON.parse(stdout) as {
      metrics: { tradeCount: number; sharpe: number };
      trades: { reason: string; entryTime: number }[];
      lookahead: { ok: boolean; warmup_bars: number };
      config: { timeframe: string };
    };
    expect(j.config.timeframe).toBe("1h");
    expect(j.metrics.tradeCount).toBe(j.trades.length);
    expect(j.trades.length).toBeGreaterThan(20);
    expect(j.trades.every((t) => t.entryTime >= Date.UTC(2022, 2, 1))).toBe(true);
    expect(j.lookahead.ok).toBe(true);
    expect(j.lookahead.warmup_bars).toBeGreaterThan(0);
  });

  it("reports a strategy error as JSON with its line and exits non-zero", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(`${tmpdir()}/alphaloop-bt-`);
    writeFileSync(
      `${dir}/bad.ts`,
      'import { defineStrategy } from "alphaloop/strategy";\nexport default defineStrategy({ name: "bad", family: "x", description: "d", params: {},\n  signals(bars) {\n    return (bars as any).nope.x;\n  } });\n',
    );
    writeFileSync(`${dir}/bad.yaml`, "strategy: bad\ntimeframe: 1h\n");
    const r = await run([`${dir}/bad.ts`, "--from", "2023-01-01", "--to", "2023-03-01", "--json"]);
    expect(r.error).toBeInstanceOf(CliError);
    expect((r.error as CliError).exitCode).toBe(1);
    const j = JSON.parse(r.stdout) as { error: { kind: string; message: string; line?: number } };
    expect(j.error.kind).toBe("runtime");
    expect(j.error.line).toBe(4);
  });
});
