import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("bin/alphaloop.js", () => {
  it("runs from any working directory, not only the project's", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "alphaloop-cwd-"));
    const r = spawnSync(
      process.execPath,
      [
        join(process.cwd(), "bin/alphaloop.js"),
        "stats",
        "dsr",
        "--sharpe",
        "0.1",
        "--trials",
        "10",
        "--sharpe-variance",
        "0.001",
        "--observations",
        "500",
        "--json",
      ],
      {
        cwd: elsewhere,
        encoding: "utf8",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { dsr: number };
    expect(out.dsr).toBeGreaterThan(0);
    expect(out.dsr).toBeLessThan(1);
  });

  it("exits non-zero with a clear message on a bad command", () => {
    const r = spawnSync(process.execPath, ["bin/alphaloop.js", "nosuchcommand"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'nosuchcommand'/);
  });
});
