/**
 * Strategy TypeScript → one JavaScript function expression the sandbox can evaluate, plus the
 * source map that turns runtime stack positions back into the strategy's own lines.
 *
 * esbuild bundles the strategy with the real `src/backtest/strategy.ts` as `alphaloop/strategy`;
 * every other import (node builtins, packages, relative files, dynamic `import()` or `require()`
 * of a literal) is a policy error pointing at the import's line.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type Message, type Plugin } from "esbuild";
import { type Failure, failure } from "./sandbox-error.ts";
import { SourceMapLookup } from "./source-map.ts";

export const STRATEGY_MODULE = "alphaloop/strategy";
/** The file name compile and runtime errors are reported against. */
export const STRATEGY_FILE = "strategy.ts";
/** esbuild's name for the candidate source; distinct so the source map cannot confuse it with the API file. */
const CANDIDATE_FILE = "alphaloop-candidate-strategy.ts";
/** The file name the compiled script runs under inside the isolate. */
export const COMPILED_FILE = "strategy.js";
/** Strategies are a page or two of code; anything far bigger is not a strategy. */
export const DEFAULT_MAX_SOURCE_BYTES = 256 * 1024;

const POLICY = "policy";

export interface CompiledStrategy {
  /** sha256 of the source, hex. */
  readonly hash: string;
  /**
   * `(function (module, exports) { …cjs bundle… })`: evaluating the script yields a factory that
   * instantiates the module afresh, so no state survives between `signals` calls.
   */
  readonly code: string;
  /** Maps a position in `code` (1-based) to the strategy source (1-based), if it falls there. */
  originalPosition(line: number, column: number): { line: number; column: number } | undefined;
}

export type CompileResult = { readonly ok: true; readonly compiled: CompiledStrategy } | Failure;

const WRAP_PREFIX = '(function (module, exports) {"use strict";';
const WRAP_SUFFIX = "\n})";

function strategyApiPath(): string {
  // Under tsx/vitest the .ts file is there; a compiled build ships the .js beside this module.
  for (const name of ["../strategy.ts", "../strategy.js"]) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error("alphaloop strategy API module not found next to the sandbox");
}

let apiPath: string | undefined;

const importPolicy: Plugin = {
  name: "alphaloop-import-policy",
  setup(pluginBuild) {
    apiPath ??= strategyApiPath();
    const api = apiPath;
    pluginBuild.onResolve({ filter: /.*/ }, (args) => {
      if (args.path === STRATEGY_MODULE) return { path: api };
      // The API module itself only has type imports, which esbuild erases before resolving.
      return {
        errors: [
          {
            text: `import of '${args.path}' is not allowed: strategies may only import ${STRATEGY_MODULE}`,
            detail: POLICY,
          },
        ],
      };
    });
  },
};

export interface CompileOptions {
  readonly maxSourceBytes?: number;
}

const cache = new Map<string, CompileResult>();
const CACHE_LIMIT = 512;

/** Compiles (or returns the cached compile of) a strategy source. Never throws for bad input. */
export async function compileStrategy(source: string, options: CompileOptions = {}): Promise<CompileResult> {
  const maxBytes = options.maxSourceBytes ?? DEFAULT_MAX_SOURCE_BYTES;
  const bytes = Buffer.byteLength(source, "utf8");
  if (bytes > maxBytes) {
    return failure(
      POLICY,
      `strategy source is ${formatBytes(bytes)}; the limit is ${formatBytes(maxBytes)} — a strategy is one small module`,
    );
  }
  const hash = createHash("sha256").update(source).digest("hex");
  const cached = cache.get(hash);
  if (cached) return cached;
  const result = await compileUncached(source, hash);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(hash, result);
  return result;
}

async function compileUncached(source: string, hash: string): Promise<CompileResult> {
  let outputs: { path: string; text: string }[];
  try {
    const out = await build({
      stdin: { contents: source, loader: "ts", sourcefile: CANDIDATE_FILE, resolveDir: "/" },
      bundle: true,
      write: false,
      format: "cjs",
      platform: "neutral",
      target: "es2022",
      outfile: COMPILED_FILE,
      sourcemap: "external",
      sourcesContent: false,
      // Keep every import, even unused ones, so `import "fs"` cannot slip past the policy by
      // being elided; imports of types from alphaloop/strategy are still erased (esbuild treats a
      // missing export of a TypeScript module as a type).
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      logLevel: "silent",
      plugins: [importPolicy],
    });
    outputs = out.outputFiles;
  } catch (error) {
    return buildFailure(error);
  }
  const js = outputs.find((f) => f.path.endsWith(".js"));
  const map = outputs.find((f) => f.path.endsWith(".js.map"));
  if (!js || !map) return failure("compile", "esbuild produced no output");
  const lookup = new SourceMapLookup(JSON.parse(map.text) as { sources: string[]; mappings: string });
  const code = `${WRAP_PREFIX}${js.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n")}${WRAP_SUFFIX}`;
  return {
    ok: true,
    compiled: {
      hash,
      code,
      originalPosition(line, column) {
        const generatedColumn = line === 1 ? column - WRAP_PREFIX.length : column;
        const position = lookup.originalPosition(line, Math.max(1, generatedColumn));
        if (!position?.source.endsWith(CANDIDATE_FILE)) return undefined;
        return { line: position.line, column: position.column };
      },
    },
  };
}

function buildFailure(error: unknown): Failure {
  const messages = (error as { errors?: Message[] }).errors;
  // A forbidden import is the thing to report even when it also trips a syntax rule.
  const first = messages?.find((m) => m.detail === POLICY) ?? messages?.[0];
  if (!messages || !first) return failure("compile", error instanceof Error ? error.message : String(error));
  const kind = first.detail === POLICY ? POLICY : "compile";
  const more =
    messages.length > 1 ? ` (and ${messages.length - 1} more error${messages.length > 2 ? "s" : ""})` : "";
  const location = first.location;
  if (!location) return failure(kind, first.text + more);
  return failure(kind, first.text + more, location.line, location.column + 1);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
