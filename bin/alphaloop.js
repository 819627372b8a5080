#!/usr/bin/env node
// Entry point: re-executes Node with the flags isolated-vm needs on Node 20
// (no startup snapshot) and the tsx loader, so the CLI runs straight from src/
// without a build step.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Resolved from this file, not the working directory, so the command works from any folder.
const tsx = import.meta.resolve("tsx");
const child = spawn(
  process.execPath,
  ["--no-node-snapshot", "--import", tsx, join(root, "src/cli/main.ts"), ...process.argv.slice(2)],
  { stdio: "inherit" },
);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => child.kill(sig));
}
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal === "SIGINT" ? 130 : 143);
});
