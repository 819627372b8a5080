import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadRunConfig, type RunConfig, RunConfigError } from "../domain/run-config.ts";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEFAULT_CONFIG_PATH = join(PROJECT_ROOT, "configs", "default.yaml");
export const PRESETS_DIR = join(PROJECT_ROOT, "configs", "presets");

/** The shipped presets, by name (configs/presets/NAME.yaml). */
export function presetNames(): string[] {
  return readdirSync(PRESETS_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
}

/** Path of a shipped preset; found from the package, whatever the working directory. */
export function presetPath(name: string): string {
  const path = join(PRESETS_DIR, `${name}.yaml`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(path)) {
    throw new RunConfigError(
      [`unknown preset "${name}"; available: ${presetNames().join(", ")}`],
      "--preset",
    );
  }
  return path;
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RunConfigError([code === "ENOENT" ? "no such file" : (err as Error).message], path);
  }
}

/** configs/default.yaml deep-merged with each override file in order (later wins). */
export function loadRunConfigFiles(overridePaths: readonly string[] = []): RunConfig {
  const overrides = overridePaths.map((p) => ({ text: readConfigFile(p), source: p }));
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), overrides);
}
