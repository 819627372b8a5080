/** `alphaloop worker` as its own process, for tests (until the lead wires it into program.ts). */
import { Command } from "commander";
import { register } from "../../src/cli/worker-command.ts";

const program = new Command();
register(program);
await program.parseAsync(process.argv.slice(2), { from: "user" });
process.exit(0);
