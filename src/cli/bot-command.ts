/**
 * `alphaloop bot`: the Discord-only process — gateway, interactions and the outbox consumer.
 * With REDIS_URL it only enqueues: `alphaloop worker` processes run the iterations. Without it
 * (the embedded default) nobody else would run them, so the bot runs an in-process worker itself:
 * one process, one command, the whole thing on one machine.
 */
import type { Command } from "commander";
import { type AccessPolicy, parseAccessPolicy } from "../bot/access.ts";
import { type DiscordBotOptions, type RunningBot, startDiscordBot } from "../bot/discord-bot.ts";
import { DiscordRest } from "../bot/discord-rest.ts";
import { parseMessageContent } from "../bot/message-content.ts";
import type { OutboxSetupOptions } from "../bot/outbox-setup.ts";
import { outboxConsumerFromEnv } from "../bot/outbox-setup.ts";
import { startRunConfig } from "../commands/start.ts";
import { log } from "../log/logger.ts";
import type { Driver } from "../loop/driver.ts";
import type { RunRecord } from "../loop/run-repository.ts";
import { ensureBundledData } from "../market/bundled.ts";
import { BullTransport } from "../queue/bull-transport.ts";
import { InProcessTransport } from "../queue/in-process-transport.ts";
import type { ResearchTransport } from "../queue/transport.ts";
import { type RunningWorker, startWorker } from "../queue/worker.ts";
import { type Db, openDb } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { CliError } from "./cli-error.ts";
import { makeDriver, resolveDriverName } from "./driver-choice.ts";

export interface BotSettings {
  readonly token: string;
  readonly api: string | undefined;
  readonly access: AccessPolicy;
  readonly messageContent: boolean;
  readonly redisUrl: string | undefined;
  readonly queuePrefix: string;
}

/** Everything `alphaloop bot` reads from the environment, checked before anything is opened. */
export function botSettings(env: NodeJS.ProcessEnv): BotSettings {
  const token = env["DISCORD_TOKEN"]?.trim();
  if (!token) throw new CliError("DISCORD_TOKEN is not set: the bot cannot log in (see .env.example)", 2);
  let access: AccessPolicy;
  try {
    access = parseAccessPolicy(env["ALPHALOOP_DISCORD_ACCESS"]);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  let messageContent: boolean;
  try {
    messageContent = parseMessageContent(env["ALPHALOOP_DISCORD_MESSAGE_CONTENT"]);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  return {
    token,
    api: env["DISCORD_API_URL"]?.trim() || undefined,
    access,
    messageContent,
    redisUrl: env["REDIS_URL"]?.trim() || undefined,
    queuePrefix: env["ALPHALOOP_QUEUE_PREFIX"] ?? "alphaloop",
  };
}

export interface BotProcessOptions {
  readonly db: Db;
  readonly env: NodeJS.ProcessEnv;
  /** Run config files every Discord run starts from (over configs/default.yaml). */
  readonly configFiles?: readonly string[];
  /** Embedded mode: how the in-process worker gets a run's driver (default: makeDriver). */
  readonly driverFor?: (run: RunRecord) => Promise<Driver>;
  readonly pollMs?: number;
  readonly outbox?: OutboxSetupOptions;
  readonly write?: (text: string) => void;
  readonly resolveDriver?: DiscordBotOptions["resolveDriver"];
}

export interface BotProcess {
  readonly bot: RunningBot;
  readonly transport: ResearchTransport;
  /** The in-process worker (embedded mode only). */
  readonly worker: RunningWorker | undefined;
  close(timeoutMs?: number): Promise<void>;
}

export async function startBotProcess(o: BotProcessOptions): Promise<BotProcess> {
  const s = botSettings(o.env);
  const files = o.configFiles ?? [];
  // A bad base config is a start-up error, not a surprise at the first /research start.
  startRunConfig(files, {});
  const write = o.write ?? (() => undefined);
  const runs = new PgRunRepository(o.db);
  let transport: ResearchTransport;
  let worker: RunningWorker | undefined;
  if (s.redisUrl) {
    transport = new BullTransport({ redisUrl: s.redisUrl, prefix: s.queuePrefix });
    write("REDIS_URL is set: iterations run in alphaloop worker processes\n");
  } else {
    const seeded = await ensureBundledData(o.db);
    if (seeded) write(`imported the bundled market data (${seeded.files.length} files)\n`);
    transport = new InProcessTransport();
    const drivers = new Map<string, Promise<Driver>>();
    worker = await startWorker({
      db: o.db,
      transport,
      driverFor:
        o.driverFor ??
        ((run) => {
          let d = drivers.get(run.id);
          if (!d) {
            d = makeDriver(run.driver, { db: o.db, runs });
            drivers.set(run.id, d);
          }
          return d;
        }),
      onIteration: (runId, it) =>
        log().info({ run: runId, n: it.n, status: it.status }, "iteration committed"),
    });
    write("REDIS_URL is not set: this process also runs the iterations (in-process worker)\n");
  }
  const discord = new DiscordRest({ token: s.token, ...(s.api ? { api: s.api } : {}) });
  const consumer = outboxConsumerFromEnv(o.db, o.env, o.outbox);
  let bot: RunningBot;
  try {
    bot = await startDiscordBot({
      db: o.db,
      runs,
      token: s.token,
      api: s.api,
      transport,
      access: s.access,
      messageContent: s.messageContent,
      discord,
      consumer,
      runConfig: (opts) => startRunConfig(files, opts),
      resolveDriver: o.resolveDriver ?? ((requested) => resolveDriverName(requested, o.env)),
      ...(o.pollMs ? { pollMs: o.pollMs } : {}),
    });
  } catch (err) {
    await (worker ? worker.close(1_000) : transport.close(1_000));
    throw err;
  }
  write(
    `bot ready as ${bot.client.user?.tag ?? "?"}: ${Object.keys(s.access.guilds).length} allowed server(s), message content ${s.messageContent ? "on" : "off"}\n`,
  );
  return {
    bot,
    transport,
    worker,
    async close(timeoutMs = 30_000) {
      await bot.close();
      await (worker ? worker.close(timeoutMs) : transport.close(timeoutMs));
    },
  };
}

export interface BotCommandDeps {
  openDb?: () => Promise<Db>;
  write?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  until?: Promise<void>;
}

function signalled(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

export function register(program: Command, deps: BotCommandDeps = {}): void {
  const open = deps.openDb ?? (() => openDb());
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const env = deps.env ?? process.env;
  program
    .command("bot")
    .description("run the Discord bot: slash commands, thread nudges and thread posts (until SIGTERM/SIGINT)")
    .option(
      "--config <file...>",
      "run config files every /research start begins from (over configs/default.yaml)",
    )
    .option(
      "--shutdown-timeout <s>",
      "how long SIGTERM waits for in-process iterations (embedded mode)",
      "30",
    )
    .action(async (o: { config?: string[]; shutdownTimeout: string }) => {
      botSettings(env);
      startRunConfig(o.config ?? [], {});
      const db = await open();
      try {
        const p = await startBotProcess({ db, env, configFiles: o.config ?? [], write });
        const why = await (deps.until ? deps.until.then(() => "done") : signalled());
        write(`bot ${process.pid}: ${why}, closing\n`);
        await p.close(Math.max(0, Number(o.shutdownTimeout) || 30) * 1000);
      } finally {
        await db.close();
      }
    });
}
