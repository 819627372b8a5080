/**
 * The strategy library (strategies/NAME.ts + NAME.yaml) as data for the model-free drivers: each
 * module is described in the sandbox (so the declared params are the ones the harness checks
 * configs against) and its shipped config is parsed with the same loader the loop uses. A library
 * entry that does not load is a bug in the repository, so it throws instead of being skipped.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultSandbox, type Sandbox } from "../backtest/sandbox/index.ts";
import type { ParamSpecs } from "../backtest/strategy.ts";
import { parseStrategyConfig } from "../backtest/strategy-config.ts";
import type { StrategyConfig } from "../domain/strategy-config.ts";
import { PROJECT_ROOT } from "./config-files.ts";

export interface LibraryEntry {
  readonly name: string;
  readonly family: string;
  readonly description: string;
  /** Declared params, as the sandbox reports them. */
  readonly params: ParamSpecs;
  /** Module source (TypeScript). */
  readonly code: string;
  /** The shipped config, verbatim. */
  readonly configYaml: string;
  /** The shipped config parsed and checked against the declared params (defaults filled). */
  readonly config: StrategyConfig;
}

export type Library = readonly LibraryEntry[];

// Describing a module costs a sandbox context; the library never changes while a process runs.
const cache = new Map<string, Promise<Library>>();

/** Library entries sorted by name; a relative `dir` is taken from the project root. */
export function loadLibrary(dir = "strategies", sandbox: Sandbox = defaultSandbox()): Promise<Library> {
  const abs = resolve(PROJECT_ROOT, dir);
  let pending = cache.get(abs);
  if (!pending) {
    pending = readLibrary(abs, sandbox);
    cache.set(abs, pending);
    // A failed load is not cached: the next call reports the problem again instead of a stale one.
    pending.catch(() => cache.delete(abs));
  }
  return pending;
}

async function readLibrary(dir: string, sandbox: Sandbox): Promise<Library> {
  const modules = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.endsWith(".test.ts"))
    .sort();
  const entries: LibraryEntry[] = [];
  for (const file of modules) {
    const base = file.slice(0, -3);
    const yamlPath = join(dir, `${base}.yaml`);
    if (!existsSync(yamlPath)) throw new Error(`strategy library: ${file} has no ${base}.yaml beside it`);
    const code = readFileSync(join(dir, file), "utf8");
    const configYaml = readFileSync(yamlPath, "utf8");
    const described = await sandbox.describe(code);
    if (!described.ok) throw new Error(`strategy library: ${file} does not load: ${described.error.message}`);
    const meta = described.meta;
    const parsed = parseStrategyConfig(configYaml, meta.params);
    if (!parsed.ok) {
      throw new Error(
        `strategy library: ${base}.yaml is invalid: ${parsed.errors.map((e) => e.message).join("; ")}`,
      );
    }
    entries.push({
      name: meta.name,
      family: meta.family,
      description: meta.description,
      params: meta.params,
      code,
      configYaml,
      config: parsed.config,
    });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
