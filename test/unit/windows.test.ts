import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { emptyBars } from "../../src/domain/bars.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/loop/config-files.ts";
import { type BarRequest, RunWindows } from "../../src/loop/windows.ts";

const config = loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), []);

describe("run windows", () => {
  it("loads the search window once, and again after a load that failed", async () => {
    const requests: BarRequest[] = [];
    let down = true;
    const windows = new RunWindows(
      {
        load: async (r) => {
          requests.push(r);
          if (down) throw new Error("database unreachable");
          return emptyBars(0);
        },
      },
      config,
    );
    await expect(windows.search()).rejects.toThrow(/unreachable/);
    down = false;
    const bars = await windows.search();
    expect(await windows.search()).toBe(bars);
    expect(requests).toHaveLength(2);
    expect(requests[1]).toEqual(requests[0]);
  });
});
