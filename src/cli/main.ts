import { log } from "../log/logger.ts";
import { maskSecrets } from "../log/secrets.ts";
import { CliError } from "./cli-error.ts";
import { buildProgram } from "./program.ts";

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    if (err.message) process.stderr.write(`${maskSecrets(err.message)}\n`);
    process.exitCode = err.exitCode;
  } else {
    log().error({ err }, "alphaloop failed");
    process.exitCode = 1;
  }
}
