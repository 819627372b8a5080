/**
 * The bot's CLI: `alphaloop discord register` against the fake Discord REST API, `alphaloop bot`'s
 * start-up checks, and `alphaloop bot` with REDIS_URL — it only enqueues (real Redis), and an
 * `alphaloop worker` transport in this process runs what it enqueued.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { register as registerBot } from "../../src/cli/bot-command.ts";
import { CliError } from "../../src/cli/cli-error.ts";
import { register as registerDiscord } from "../../src/cli/discord-command.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import { BullTransport } from "../../src/queue/bull-transport.ts";
import { startWorker } from "../../src/queue/worker.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { FakeDiscord } from "../support/fake-discord.ts";
import { FakeGateway, slash } from "../support/fake-gateway.ts";
import { storeTrendBars } from "../support/store-bars.ts";

const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
const GUILD = "900000000000000001";
const CHANNEL = "800000000000000001";
const OWNER = { id: "600000000000000001" };
const TOKEN = "fake-bot-token-cli-0123456789";

async function cli(reg: (p: Command) => void, args: string[]): Promise<{ error: unknown }> {
  const program = new Command().exitOverride();
  reg(program);
  try {
    await program.parseAsync(args, { from: "user" });
    return { error: undefined };
  } catch (error) {
    return { error };
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("alphaloop discord register", () => {
  const discord = new FakeDiscord();
  beforeAll(async () => {
    await discord.start();
  });
  afterAll(async () => {
    await discord.close();
  });

  const env = () => ({ DISCORD_TOKEN: TOKEN, DISCORD_API_URL: discord.url });

  it("overwrites the guild's commands with /research and the message menu", async () => {
    let out = "";
    const start = discord.requests.length;
    const { error } = await cli(
      (p) => registerDiscord(p, { env: env(), write: (t) => (out += t) }),
      ["discord", "register", "--guild", GUILD],
    );
    expect(error).toBeUndefined();
    const reqs = discord.requests.slice(start);
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /applications/@me",
      `PUT /applications/${discord.applicationId}/guilds/${GUILD}/commands`,
    ]);
    expect(reqs[1]?.headers.authorization).toBe(`Bot ${TOKEN}`);
    const saved = discord.commands.get(`/applications/${discord.applicationId}/guilds/${GUILD}/commands`) as {
      name: string;
      type: number;
      options?: { name: string; type: number; options?: { name: string; autocomplete?: boolean }[] }[];
    }[];
    expect(saved.map((c) => [c.name, c.type])).toEqual([
      ["research", 1],
      ["Nudge this run", 3],
    ]);
    const subs = saved[0]?.options ?? [];
    expect(subs.map((s) => s.name)).toEqual([
      "start",
      "stop",
      "pause",
      "resume",
      "status",
      "list",
      "leaderboard",
      "nudge",
      "config",
    ]);
    expect(subs.find((s) => s.name === "start")?.options?.map((o) => o.name)).toEqual([
      "brief",
      "preset",
      "symbol",
      "timeframe",
      "driver",
      "max_iterations",
      "islands",
    ]);
    // Every run: option completes run ids.
    for (const s of subs) {
      for (const o of s.options ?? []) if (o.name === "run") expect(o.autocomplete).toBe(true);
    }
    expect(out).toBe(
      `registered 2 commands for fake-app in guild ${GUILD}: /research, "Nudge this run" (message menu)\n`,
    );
  });

  it("registers globally without --guild", async () => {
    let out = "";
    const { error } = await cli(
      (p) => registerDiscord(p, { env: env(), write: (t) => (out += t) }),
      ["discord", "register"],
    );
    expect(error).toBeUndefined();
    expect(discord.commands.has(`/applications/${discord.applicationId}/commands`)).toBe(true);
    expect(out).toMatch(/globally \(may take up to an hour to appear\)/);
  });

  it("says what is missing instead of calling Discord", async () => {
    const start = discord.requests.length;
    const noToken = await cli((p) => registerDiscord(p, { env: {} }), ["discord", "register"]);
    expect(noToken.error).toBeInstanceOf(CliError);
    expect((noToken.error as Error).message).toBe(
      "DISCORD_TOKEN is not set: the bot token is needed to register commands",
    );
    const badGuild = await cli(
      (p) => registerDiscord(p, { env: env() }),
      ["discord", "register", "--guild", "abc"],
    );
    expect((badGuild.error as Error).message).toBe('--guild must be a guild id (digits), got "abc"');
    expect(discord.requests.length).toBe(start);
  });
});

describe("alphaloop bot", () => {
  let db: Db;
  const schema = testSchema("botcli");
  const prefix = `t-bot-${randomBytes(4).toString("hex")}`;
  const discord = new FakeDiscord();
  const gateway = new FakeGateway({ id: discord.applicationId, username: "alphaloop" }, [{ id: GUILD }]);
  let base = "";

  beforeAll(async () => {
    db = await backends[0].open(schema);
    await Promise.all([discord.start(), gateway.start(), storeTrendBars(db, "BOTCUSD")]);
    discord.gatewayUrl = gateway.url;
    base = join(mkdtempSync(join(tmpdir(), "alphaloop-botcli-")), "base.yaml");
    writeFileSync(
      base,
      `dataset: { symbol: BOTCUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
`,
    );
  });
  afterAll(async () => {
    await Promise.all([discord.close(), gateway.close()]);
    await dropSchema(db, schema);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it("refuses to start without a token or with a malformed access policy, before opening the store", async () => {
    let opened = 0;
    const open = async () => {
      opened++;
      return db;
    };
    const noToken = await cli((p) => registerBot(p, { env: {}, openDb: open }), ["bot"]);
    expect((noToken.error as Error).message).toBe(
      "DISCORD_TOKEN is not set: the bot cannot log in (see .env.example)",
    );
    const badAccess = await cli(
      (p) =>
        registerBot(p, {
          env: { DISCORD_TOKEN: TOKEN, ALPHALOOP_DISCORD_ACCESS: '{"guilds": [1]}' },
          openDb: open,
        }),
      ["bot"],
    );
    expect((badAccess.error as Error).message).toMatch(/^ALPHALOOP_DISCORD_ACCESS: guilds: /);
    const badIntent = await cli(
      (p) =>
        registerBot(p, {
          env: { DISCORD_TOKEN: TOKEN, ALPHALOOP_DISCORD_MESSAGE_CONTENT: "maybe" },
          openDb: open,
        }),
      ["bot"],
    );
    expect((badIntent.error as Error).message).toBe(
      'ALPHALOOP_DISCORD_MESSAGE_CONTENT must be on or off, not "maybe"',
    );
    const badConfig = await cli(
      (p) => registerBot(p, { env: { DISCORD_TOKEN: TOKEN }, openDb: open }),
      ["bot", "--config", join(tmpdir(), "no-such-alphaloop-config.yaml")],
    );
    expect((badConfig.error as Error).message).toMatch(/no such file/);
    expect(opened).toBe(0);
  });

  it("stops with a clear error when Discord refuses the MessageContent intent (4014)", async () => {
    const strict = await new FakeGateway(
      { id: discord.applicationId, username: "alphaloop" },
      [{ id: GUILD }],
      1 << 15,
    ).start();
    const strictDiscord = await new FakeDiscord().start();
    strictDiscord.gatewayUrl = strict.url;
    try {
      const { error } = await cli(
        (p) =>
          registerBot(p, {
            env: {
              DISCORD_TOKEN: TOKEN,
              DISCORD_API_URL: strictDiscord.url,
              REDIS_URL,
              ALPHALOOP_QUEUE_PREFIX: prefix,
            },
            openDb: () => backends[0].open(schema),
          }),
        ["bot", "--config", base],
      );
      expect((error as Error).message).toMatch(
        /MessageContent intent \(4014\).*ALPHALOOP_DISCORD_MESSAGE_CONTENT=off/,
      );
      expect(strict.identifies).toHaveLength(1);
    } finally {
      await Promise.all([strict.close(), strictDiscord.close()]);
    }
  }, 60_000);

  it("with REDIS_URL only enqueues; an alphaloop worker runs the run", async () => {
    let out = "";
    let stop: () => void = () => undefined;
    const until$ = new Promise<void>((r) => {
      stop = r;
    });
    const runs = new PgRunRepository(db);
    const running = cli(
      (p) =>
        registerBot(p, {
          env: {
            DISCORD_TOKEN: TOKEN,
            DISCORD_API_URL: discord.url,
            REDIS_URL,
            ALPHALOOP_QUEUE_PREFIX: prefix,
            ALPHALOOP_DISCORD_ACCESS: JSON.stringify({ guilds: { [GUILD]: { users: [OWNER.id] } } }),
            ALPHALOOP_DISCORD_MESSAGE_CONTENT: "off",
          },
          // Its own connection to this schema: the command closes the store it opened.
          openDb: () => backends[0].open(schema),
          write: (t) => (out += t),
          until: until$,
        }),
      ["bot", "--config", base],
    );
    await until("the bot to be ready", async () => (out.includes("bot ready") ? true : undefined));
    expect(out).toContain("REDIS_URL is set: iterations run in alphaloop worker processes");
    expect(out).toMatch(/bot ready as alphaloop.*: 1 allowed server\(s\), message content off/);
    // Without MessageContent: Guilds | GuildMessages only.
    expect(gateway.identifies.at(-1)?.intents).toBe(1 | (1 << 9));

    const start = slash(
      "start",
      { brief: "distributed", preset: "lenient", driver: "heuristic", max_iterations: 1 },
      OWNER,
      { guildId: GUILD, channelId: CHANNEL },
    );
    gateway.dispatch("INTERACTION_CREATE", start.payload);
    const answer = await until("the start reply", async () => discord.originals.get(start.token));
    const runId = /`(r-[0-9a-f]{8})`/.exec(String(answer["content"]))?.[1] as string;
    const peer = new BullTransport({ redisUrl: REDIS_URL, prefix });
    try {
      // Enqueued, and nothing in the bot runs it.
      expect(await peer.depth()).toBe(1);
      expect((await runs.getRun(runId))?.iterationsDone).toBe(0);
      const worker = await startWorker({
        db,
        transport: peer,
        driverFor: async () => createDriver("heuristic", { library: await loadLibrary() }),
      });
      try {
        const done = await until("the worker to finish the run", async () => {
          const r = await runs.getRun(runId);
          return r?.status === "completed" ? r : undefined;
        });
        expect(done.iterationsDone).toBe(1);
      } finally {
        await worker.close(1_000);
      }
    } finally {
      stop();
      await running;
    }
    expect(out).toMatch(/bot \d+: done, closing/);
  }, 120_000);
});
