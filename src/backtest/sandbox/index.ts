/**
 * The strategy sandbox: compile strategy TypeScript with esbuild, run it in isolated-vm, get
 * validated signals or a structured error back.
 */
import { type DescribeResult, Sandbox } from "./sandbox.ts";

export { type CompiledStrategy, type CompileResult, compileStrategy } from "./compile.ts";
export type { StrategyMeta } from "./definition.ts";
export {
  DEFAULT_MEMORY_LIMIT_MB,
  DEFAULT_TIMEOUT_MS,
  type DescribeResult,
  type LoadResult,
  Sandbox,
  type SandboxOptions,
  type SignalsResult,
  type SignalsTimings,
  StrategyHandle,
} from "./sandbox.ts";
export type { SandboxError, SandboxErrorKind } from "./sandbox-error.ts";

let shared: Sandbox | undefined;

/** The process-wide sandbox with default limits (one isolate per process). */
export function defaultSandbox(): Sandbox {
  shared ??= new Sandbox();
  return shared;
}

/** Name, family, description and declared params of a strategy source, without running signals. */
export function describeStrategy(source: string): Promise<DescribeResult> {
  return defaultSandbox().describe(source);
}
