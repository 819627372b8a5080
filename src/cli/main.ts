import { RunConfigError } from "../domain/run-config.ts";
import { log } from "../log/logger.ts";
import { maskSecrets } from "../log/secrets.ts";
import { CliError } from "./cli-error.ts";
import { buildProgram } from "./program.ts";

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError || err instanceof RunConfigError) {
    // A person's mistake (a flag, a config file): the message says what to change; no stack.
    if (err.message) process.stderr.write(`${maskSecrets(err.message)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 2;
  } else {
    log().error({ err }, "alphaloop failed");
    process.exitCode = 1;
  }
}
