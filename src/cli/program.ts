import { Command } from "commander";
import { maskSecrets } from "../log/secrets.ts";
import { register as registerBacktest } from "./backtest-command.ts";
import { register as registerLlm } from "./llm-command.ts";
import { register as registerStats } from "./stats-command.ts";

/**
 * The `alphaloop` command tree. Each command group lives in its own module exporting
 * `register(program)`, so adding a group is one import and one call here.
 */
export function buildProgram(): Command {
  const program = new Command("alphaloop")
    .description("LLM autoresearch loop that mines crypto trading strategies")
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(maskSecrets(str)) });
  registerBacktest(program);
  registerStats(program);
  registerLlm(program);
  return program;
}
