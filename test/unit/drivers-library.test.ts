import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { parseStrategyConfig } from "../../src/backtest/strategy-config.ts";
import { loadLibrary } from "../../src/loop/library.ts";

describe("strategy library loader", () => {
  const sandbox = new Sandbox();
  afterAll(() => sandbox.dispose());

  it("loads every strategy with its declared params and shipped config, sorted by name, once per process", async () => {
    const lib = await loadLibrary("strategies", sandbox);
    expect(lib.length).toBe(11);
    expect(lib.map((e) => e.name)).toEqual([...lib.map((e) => e.name)].sort());
    const don = lib.find((e) => e.name === "donchian-breakout");
    expect(don?.family).toBe("breakout");
    expect(don?.params["entry"]).toEqual({ type: "int", min: 10, max: 100, default: 20 });
    expect(don?.config.params).toEqual({ entry: 48, exit: 24 });
    expect(don?.configYaml).toContain("trailing_stop");
    for (const e of lib) {
      expect(e.config.strategy).toBe(e.name);
      expect(parseStrategyConfig(e.configYaml, e.params).ok).toBe(true);
    }
    expect(await loadLibrary("strategies", sandbox)).toBe(lib);
  });

  it("refuses a library whose shipped config breaks the declared ranges", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alphaloop-lib-"));
    writeFileSync(
      join(dir, "x.ts"),
      `import { defineStrategy, int } from "alphaloop/strategy";
export default defineStrategy({ name: "x", family: "trend", description: "d", params: { n: int(1, 5, 2) },
  signals(bars) { return { target: new Float64Array(bars.close.length) }; } });`,
    );
    writeFileSync(join(dir, "x.yaml"), "strategy: x\ntimeframe: 1h\nparams: { n: 9 }\n");
    await expect(loadLibrary(dir, sandbox)).rejects.toThrow(/x\.yaml is invalid: params\.n/);
  });
});
