/** The run config most loop tests use: the defaults, the lenient preset, then the test's own YAML. */
import { readFileSync } from "node:fs";
import { loadRunConfig, type RunConfig } from "../../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH, presetPath } from "../../src/loop/config-files.ts";

/** `overlays`: YAML texts applied in order after the lenient preset (dataset, windows, budgets…). */
export function lenientRunConfig(...overlays: string[]): RunConfig {
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    { text: readFileSync(presetPath("lenient"), "utf8"), source: "lenient" },
    ...overlays.map((text, i) => ({ text, source: `test overlay ${i + 1}` })),
  ]);
}
