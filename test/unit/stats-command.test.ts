import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CliError } from "../../src/cli/cli-error.ts";
import { register } from "../../src/cli/stats-command.ts";

const fixturePath = fileURLToPath(new URL("../fixtures/stats/trials.csv", import.meta.url));
const reference = JSON.parse(
  readFileSync(new URL("../fixtures/stats/reference.json", import.meta.url), "utf8"),
) as {
  cscv: { blocks: number; pbo: number; probabilityOfLoss: number; slope: number; lambdas: number[] }[];
  dsr: {
    sharpe: number;
    trials: number;
    sharpeVariance: number;
    observations: number;
    skew: number;
    kurtosis: number;
    dsr: number;
    sr0: number;
    psr: number;
  }[];
  mintrl: {
    sharpe: number;
    benchmark: number;
    skew: number;
    kurtosis: number;
    confidence: number;
    minTrl: number;
  }[];
};
const scratch = mkdtempSync(join(tmpdir(), "alphaloop-stats-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let output = "";
beforeEach(() => {
  output = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

async function run(...args: string[]): Promise<string> {
  const program = new Command("alphaloop").exitOverride();
  register(program);
  await program.parseAsync(["stats", ...args], { from: "user" });
  return output;
}

async function runJson(...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await run(...args, "--json")) as Record<string, unknown>;
}

describe("alphaloop stats dsr", () => {
  it("prints PSR, SR₀ and DSR for the DSR paper's example given annualised inputs", async () => {
    const text = await run(
      "dsr",
      "--sharpe",
      "2.5",
      "--sharpe-variance",
      "0.5",
      "--periods-per-year",
      "250",
      "--trials",
      "100",
      "--observations",
      "1250",
      "--skew",
      "-3",
      "--kurtosis",
      "10",
    );
    expect(text).toMatch(/SR₀ \(best of N by luck\)\s+0\.11317\d/);
    expect(text).toMatch(/PSR against SR₀ = DSR\s+0\.90039\d/);
    expect(text).toMatch(/PSR against 0\s+0\.99999\d/);
    expect(text).toContain("DSR < 0.95");
  });

  it("--json gives the same numbers as the scipy reference", async () => {
    for (const c of reference.dsr) {
      const json = await runJson(
        "dsr",
        "--sharpe",
        String(c.sharpe),
        "--trials",
        String(c.trials),
        "--sharpe-variance",
        String(c.sharpeVariance),
        "--observations",
        String(c.observations),
        "--skew",
        String(c.skew),
        "--kurtosis",
        String(c.kurtosis),
      );
      output = "";
      expect(Math.abs((json.dsr as number) - c.dsr)).toBeLessThan(1e-6);
      expect(Math.abs((json.sr0 as number) - c.sr0)).toBeLessThan(1e-6);
      expect(Math.abs((json.psr as number) - c.psr)).toBeLessThan(1e-6);
    }
  });

  it("--average-correlation shrinks N to N_eff and raises the DSR", async () => {
    const base = [
      "dsr",
      "--sharpe",
      "0.1",
      "--trials",
      "200",
      "--sharpe-variance",
      "0.002",
      "--observations",
      "750",
    ];
    const independent = await runJson(...base);
    output = "";
    const correlated = await runJson(...base, "--average-correlation", "0.5");
    expect(correlated.effectiveTrials).toBeCloseTo(100.5, 10);
    expect(correlated.dsr as number).toBeGreaterThan(independent.dsr as number);
  });

  it("rejects a non-number and explains an impossible input", async () => {
    await expect(
      run("dsr", "--sharpe", "abc", "--trials", "5", "--sharpe-variance", "0.1", "--observations", "100"),
    ).rejects.toThrow(/--sharpe expects a number, got "abc"/);
    await expect(
      run("dsr", "--sharpe", "0.1", "--trials", "5", "--sharpe-variance", "0.1", "--observations", "1"),
    ).rejects.toThrow(CliError);
    await expect(
      run(
        "dsr",
        "--sharpe",
        "0.1",
        "--trials",
        "5",
        "--sharpe-variance",
        "0.1",
        "--observations",
        "100",
        "--kurtosis",
        "0",
      ),
    ).rejects.toThrow(/add 3/);
  });
});

describe("alphaloop stats mintrl", () => {
  it("matches the scipy reference, in JSON and as text", async () => {
    const c = reference.mintrl[2] as (typeof reference.mintrl)[number];
    const args = [
      "mintrl",
      "--sharpe",
      String(c.sharpe),
      "--benchmark-sharpe",
      String(c.benchmark),
      "--skew",
      String(c.skew),
      "--kurtosis",
      String(c.kurtosis),
      "--confidence",
      String(c.confidence),
    ];
    const json = await runJson(...args);
    expect(Math.abs((json.minTrl as number) - c.minTrl)).toBeLessThan(1e-6);
    expect(json.minTrlObservations).toBe(Math.ceil(c.minTrl));
    output = "";
    const text = await run(...args);
    expect(text).toContain(`${c.minTrl.toFixed(2)} → ${Math.ceil(c.minTrl)}`);
  });

  it("defaults to SR* = 0, normal moments and 95%, and compares a given track record", async () => {
    const json = await runJson("mintrl", "--sharpe", "0.1", "--observations", "300");
    const expected = reference.mintrl[0] as (typeof reference.mintrl)[number];
    expect(Math.abs((json.minTrl as number) - expected.minTrl)).toBeLessThan(1e-6);
    expect(json.sufficient).toBe(true);
    expect(json.psr as number).toBeGreaterThan(0.95);
    output = "";
    const short = await run("mintrl", "--sharpe", "0.1", "--observations", "200");
    expect(short).toContain("The track record is too short.");
  });

  it("says no track record is enough when SR ≤ SR*", async () => {
    const json = await runJson("mintrl", "--sharpe", "0.05", "--benchmark-sharpe", "0.1");
    expect(json.minTrl).toBeNull();
    output = "";
    expect(await run("mintrl", "--sharpe", "0.05", "--benchmark-sharpe", "0.1")).toContain("∞ (SR ≤ SR*)");
  });
});

describe("alphaloop stats pbo", () => {
  it("prints PBO, degradation slope and P(OOS loss) matching the scipy reference", async () => {
    const ref = reference.cscv[1] as (typeof reference.cscv)[number];
    const json = await runJson("pbo", fixturePath, "--blocks", String(ref.blocks));
    expect(Math.abs((json.pbo as number) - ref.pbo)).toBeLessThan(1e-6);
    expect(Math.abs((json.probabilityOfLoss as number) - ref.probabilityOfLoss)).toBeLessThan(1e-6);
    expect(Math.abs(((json.degradation as { slope: number }).slope as number) - ref.slope)).toBeLessThan(
      1e-6,
    );
    expect((json.lambdas as number[]).length).toBe(ref.lambdas.length);
    expect((json.names as string[])[0]).toBe("trial_00");
    output = "";
    const text = await run("pbo", fixturePath, "--blocks", String(ref.blocks));
    expect(text).toMatch(new RegExp(`PBO\\s+${ref.pbo.toFixed(4)}`));
    expect(text).toMatch(new RegExp(`P\\(OOS loss\\)\\s+${ref.probabilityOfLoss.toFixed(4)}`));
    expect(text).toMatch(new RegExp(`degradation slope\\s+${ref.slope.toFixed(4)}`));
    expect(text).toContain("252 (all C(10, 5))");
  });

  it("samples splits when there are too many, and reports it", async () => {
    const text = await run("pbo", fixturePath, "--blocks", "12", "--max-splits", "100", "--seed", "7");
    expect(text).toContain("100 sampled of 924 (seed 7)");
    const ref = reference.cscv[2] as (typeof reference.cscv)[number];
    expect(text).toMatch(new RegExp(`PBO\\s+${ref.pbo.toFixed(4)}`));
  });

  it("reports unreadable files, bad CSVs and bad block counts as CLI errors", async () => {
    await expect(run("pbo", join(scratch, "missing.csv"))).rejects.toThrow(/cannot read .*ENOENT/);
    const bad = join(scratch, "bad.csv");
    writeFileSync(bad, "a,b\n0.1,0.2\n0.3,x\n");
    await expect(run("pbo", bad, "--blocks", "2")).rejects.toThrow(/line 3, column "b"/);
    await expect(run("pbo", fixturePath, "--blocks", "9")).rejects.toThrow(/even number of blocks/);
    await expect(run("pbo", fixturePath, "--blocks", "2.5")).rejects.toThrow(/whole number/);
  });
});
