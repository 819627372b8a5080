/**
 * The `ta` library as one script the sandbox evaluates in each fresh context. Bundled once per
 * process (per entry file) because esbuild is the slow part; the isolate caches the compiled script.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The real indicator library; a test may point the sandbox at another file with the same shape. */
export function defaultTaEntry(): string {
  for (const name of ["../ta/index.ts", "../ta/index.js"]) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("ta library not found at src/backtest/ta/index.ts");
}

const bundles = new Map<string, Promise<string>>();

/** IIFE source that assigns the module namespace (with its `ta` export) to `var __alphaloopTa`. */
export function taBundle(entry: string = defaultTaEntry()): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "iife",
      globalName: "__alphaloopTa",
      platform: "neutral",
      target: "es2022",
      logLevel: "silent",
    }).then((out) => {
      const js = out.outputFiles[0];
      if (!js) throw new Error(`esbuild produced no output for ${entry}`);
      return js.text;
    });
    // A failed bundle is a harness bug; do not cache it so a fixed file is picked up on retry.
    bundle.catch(() => bundles.delete(entry));
    bundles.set(entry, bundle);
  }
  return bundle;
}
