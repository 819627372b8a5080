import type { Command } from "commander";
import { CliError } from "./cli-error.ts";
import {
  DEFAULT_LLM_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  failedChecks,
  formatChecks,
  runDoctor,
} from "./doctor.ts";

/**
 * `alphaloop doctor [--json] [--timeout ms] [--llm-timeout ms]`: one line per configured part, exit
 * code 1 when any configured check fails (skipped parts never fail).
 */

export interface DoctorCommandDeps {
  env?: NodeJS.ProcessEnv;
  write?: (text: string) => void;
  dbSchema?: string;
}

function positiveInt(label: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new CliError(`${label} must be a positive number of milliseconds`, 2);
    return n;
  };
}

export function register(program: Command, deps: DoctorCommandDeps = {}): void {
  program
    .command("doctor")
    .description(
      "check the store, Redis, the model endpoint (and its tool-call format), Discord and QuickChart",
    )
    .option("--json", "print the checks as JSON")
    .option("--timeout <ms>", "limit per service check", positiveInt("--timeout"), DEFAULT_TIMEOUT_MS)
    .option(
      "--llm-timeout <ms>",
      "limit per model request",
      positiveInt("--llm-timeout"),
      DEFAULT_LLM_TIMEOUT_MS,
    )
    .action(async (opts: { json?: boolean; timeout: number; llmTimeout: number }) => {
      const write = deps.write ?? ((t: string) => process.stdout.write(t));
      const checks = await runDoctor({
        timeoutMs: opts.timeout,
        llmTimeoutMs: opts.llmTimeout,
        ...(deps.env ? { env: deps.env } : {}),
        ...(deps.dbSchema ? { dbSchema: deps.dbSchema } : {}),
      });
      const failed = failedChecks(checks);
      if (opts.json) write(`${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
      else write(`${formatChecks(checks)}\n`);
      if (failed.length > 0) {
        throw new CliError(`doctor: ${failed.map((c) => c.name).join(", ")} failed`, 1);
      }
    });
}
