import pino, { type Logger } from "pino";
import { maskSecrets, scrub, secretValues } from "./secrets.ts";

export type { Logger };

/**
 * Structured logging: JSON lines when stdout is not a terminal (CI, containers), pretty output on a
 * terminal. Every record passes through `scrub` so a token can't leak through a log line.
 * Logs go to stderr so `--json` command output on stdout stays machine-readable.
 */
export function createLogger(options: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const level = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const pretty = options.pretty ?? (process.stderr.isTTY === true && process.env["LOG_FORMAT"] !== "json");
  const secrets = secretValues();
  const base = {
    level,
    name: options.name ?? "alphaloop",
    formatters: {
      log: (obj: Record<string, unknown>) => scrub(obj, secrets) as Record<string, unknown>,
    },
    hooks: {
      // The message string is not covered by `formatters.log`.
      logMethod(this: Logger, args: Parameters<Logger["info"]>, method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === "string" ? maskSecrets(a, secrets) : a)),
        );
      },
    },
  };
  if (pretty) {
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { destination: 2, colorize: true } },
    });
  }
  return pino(base, pino.destination(2));
}

let shared: Logger | undefined;

/** The process-wide logger, created on first use. */
export function log(): Logger {
  shared ??= createLogger();
  return shared;
}
