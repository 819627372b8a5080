import { Command } from "commander";
import { maskSecrets } from "../log/secrets.ts";
import { importFiles } from "../market/import.ts";
import { openDb } from "../store/db.ts";
import { register as registerBacktest } from "./backtest-command.ts";
import { register as registerBot } from "./bot-command.ts";
import { register as registerCompare } from "./compare-command.ts";
import { dataCommand } from "./data-command.ts";
import { registerDataDownload } from "./data-download-command.ts";
import { register as registerDiscord } from "./discord-command.ts";
import { register as registerDoctor } from "./doctor-command.ts";
import { register as registerLlm } from "./llm-command.ts";
import { register as registerRun } from "./run-command.ts";
import { register as registerStats } from "./stats-command.ts";
import { register as registerWorker } from "./worker-command.ts";

/**
 * The `alphaloop` command tree. Each command group lives in its own module exporting
 * `register(program)`, so adding a group is one import and one call here.
 */
export function buildProgram(): Command {
  const program = new Command("alphaloop")
    .description("LLM autoresearch loop that mines crypto trading strategies")
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(maskSecrets(str)) });
  registerRun(program);
  registerWorker(program);
  registerBot(program);
  registerDiscord(program);
  registerBacktest(program);
  registerCompare(program);
  const data = dataCommand(program);
  registerDataDownload(data, {
    importFiles: async (paths) => {
      const db = await openDb();
      try {
        return await importFiles(db, paths);
      } finally {
        await db.close();
      }
    },
  });
  registerStats(program);
  registerLlm(program);
  registerDoctor(program);
  return program;
}
