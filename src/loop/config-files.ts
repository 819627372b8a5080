import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadRunConfig, type RunConfig } from "../domain/run-config.ts";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEFAULT_CONFIG_PATH = join(PROJECT_ROOT, "configs", "default.yaml");

/** configs/default.yaml deep-merged with each override file in order (later wins). */
export function loadRunConfigFiles(overridePaths: readonly string[] = []): RunConfig {
  const overrides = overridePaths.map((p) => ({ text: readFileSync(p, "utf8"), source: p }));
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), overrides);
}
