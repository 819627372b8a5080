/**
 * The whole Discord bot as `alphaloop bot` wires it (embedded mode: in-process worker), with a real
 * discord.js Client whose REST points at a fake Discord on loopback and whose gateway URL comes
 * from that API's /gateway/bot — a real WebSocket server fed scripted INTERACTION_CREATE and
 * MESSAGE_CREATE payloads. Real Postgres, real sandbox; the model is a scripted OpenAI-compatible
 * server. Assertions are on the exact REST calls the bot makes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMBED_LIMITS, type Embed, embedLength } from "../../src/bot/render/limits.ts";
import { type BotProcess, startBotProcess } from "../../src/cli/bot-command.ts";
import { LlmClient } from "../../src/llm/client.ts";
import type { Driver } from "../../src/loop/driver.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { llmDriver } from "../../src/loop/drivers/llm.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import type { RunRecord } from "../../src/loop/run-repository.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { PgWorkspaceFiles } from "../../src/store/workspace-files.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { FakeDiscord, type RecordedRequest } from "../support/fake-discord.ts";
import {
  button,
  FakeGateway,
  message,
  messageCommand,
  modalSubmit,
  type ScriptedInteraction,
  slash,
  snowflake,
  type Where,
  type Who,
} from "../support/fake-gateway.ts";
import { type FakeLlm, reply, startFakeLlm } from "../support/fake-llm.ts";
import { FakeQuickChart } from "../support/fake-quickchart.ts";
import { storeTrendBars } from "../support/store-bars.ts";

const GUILD = "900000000000000001";
const OTHER_GUILD = "900000000000000777";
const CHANNEL = "800000000000000001";
const ROLE = "700000000000000001";
const OWNER: Who = { id: "600000000000000001" };
const OPERATOR: Who = { id: "600000000000000002", roles: [ROLE] };
const STRANGER: Who = { id: "600000000000000666" };
const TOKEN = "fake-bot-token-0123456789abcdef";
const HERE: Where = { guildId: GUILD, channelId: CHANNEL };
const EPHEMERAL = 64;

const EMA = readFileSync("strategies/ema-cross.ts", "utf8").replace('name: "ema-cross"', 'name: "my-ema"');
const YAML = "strategy: my-ema\ntimeframe: 1h\nparams: { fast: 20, slow: 100 }\n";

/** One agent session: write both files and backtest them, then decide. */
function session(decision: string) {
  return [
    reply.toolCalls([
      { name: "write_file", arguments: { path: "strategies/my-ema.ts", content: EMA } },
      { name: "write_file", arguments: { path: "strategies/my-ema.yaml", content: YAML } },
      {
        name: "run_backtest",
        arguments: { strategy: "strategies/my-ema.ts", config: "strategies/my-ema.yaml" },
      },
    ]),
    reply.toolCalls([
      {
        name: "decide",
        arguments: { decision, rationale: `chose ${decision}`, next_hypothesis: "next idea" },
      },
    ]),
  ];
}

async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("alphaloop bot against a fake Discord", () => {
  let db: Db;
  let runs: PgRunRepository;
  const schema = testSchema("botdisc");
  const discord = new FakeDiscord();
  const gateway = new FakeGateway({ id: discord.applicationId, username: "alphaloop" }, [
    { id: GUILD },
    { id: OTHER_GUILD },
  ]);
  const charts = new FakeQuickChart();
  let llm: FakeLlm;
  let bot: BotProcess;
  let baseConfig = "";
  let env: NodeJS.ProcessEnv;
  let heuristic: Driver;

  async function startBot(): Promise<BotProcess> {
    return startBotProcess({
      db,
      env,
      configFiles: [baseConfig],
      pollMs: 50,
      outbox: { chartTimeoutMs: 2_000 },
      driverFor: async (run: RunRecord) =>
        run.driver === "llm"
          ? llmDriver({
              client: new LlmClient({ baseURL: llm.url, model: "fake-model" }),
              files: new PgWorkspaceFiles(db),
              allNudges: async (id) => (await runs.nudges(id)).map((n) => n.text),
            })
          : heuristic,
    });
  }

  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    await Promise.all([discord.start(), gateway.start(), charts.start(), storeTrendBars(db, "BOTDUSD")]);
    discord.gatewayUrl = gateway.url;
    llm = await startFakeLlm({ script: session("tune") });
    heuristic = createDriver("heuristic", { library: await loadLibrary() });
    baseConfig = join(mkdtempSync(join(tmpdir(), "alphaloop-bot-")), "base.yaml");
    writeFileSync(
      baseConfig,
      `dataset: { symbol: BOTDUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
loop: { seed: 3, max_fix_attempts: 5 }
`,
    );
    env = {
      DISCORD_TOKEN: TOKEN,
      DISCORD_API_URL: discord.url,
      QUICKCHART_URL: charts.url,
      ALPHALOOP_DISCORD_ACCESS: JSON.stringify({ guilds: { [GUILD]: { roles: [ROLE], users: [OWNER.id] } } }),
    };
    bot = await startBot();
  }, 60_000);

  afterAll(async () => {
    await bot?.close(1_000);
    await Promise.all([discord.close(), gateway.close(), charts.close(), llm?.close()]);
    await dropSchema(db, schema);
  });

  const callbacksOf = (i: ScriptedInteraction) =>
    discord.callbacks.filter((c) => c.interactionId === i.id).map((c) => c.body);
  const send = (i: ScriptedInteraction) => gateway.dispatch("INTERACTION_CREATE", i.payload);
  /** Sends an interaction and waits for its final answer: the @original edit, or an immediate reply. */
  async function ask(i: ScriptedInteraction): Promise<Record<string, unknown>> {
    send(i);
    return until(`an answer to interaction ${i.id}`, () => {
      const original = discord.originals.get(i.token);
      if (original) return original;
      const follow = discord.followups.find((f) => f.token === i.token);
      if (follow) return follow.body;
      const immediate = callbacksOf(i).find((b) => b["type"] === 4 || b["type"] === 8 || b["type"] === 9);
      return immediate ? (immediate["data"] as Record<string, unknown>) : undefined;
    });
  }
  const embedOf = (body: Record<string, unknown>) => (body["embeds"] as Embed[])[0] as Embed;
  const call = (r: RecordedRequest) => `${r.method} ${r.path}`;
  async function settled(runId: string): Promise<RunRecord> {
    const run = await until(
      `run ${runId} to finish`,
      async () => {
        const r = await runs.getRun(runId);
        return r && ["completed", "stopped", "failed"].includes(r.status) ? r : undefined;
      },
      90_000,
    );
    await until(`run ${runId}'s outbox to drain`, async () =>
      (await runs.pendingEvents(1, runId)).length === 0 ? true : undefined,
    );
    return run;
  }

  it("identifies with the token and intents over the gateway from GET /gateway/bot", () => {
    expect(discord.requests[0] ? call(discord.requests[0]) : "").toBe("GET /gateway/bot");
    expect(gateway.identifies).toHaveLength(1);
    expect(gateway.identifies[0]?.token).toBe(TOKEN);
    // Guilds (1<<0) | GuildMessages (1<<9) | MessageContent (1<<15)
    expect(gateway.identifies[0]?.intents).toBe(1 | (1 << 9) | (1 << 15));
  });

  it("runs /research start to the gate-pass ping: deferred reply, card, thread, posts, mention, DM", async () => {
    const reqStart = discord.requests.length;
    const start = slash(
      "start",
      { brief: "an EMA trend follower", preset: "lenient", driver: "llm", max_iterations: 1 },
      OWNER,
      HERE,
    );
    const answer = await ask(start);
    // Deferred first (public), then the @original edited — never a later post on the token.
    expect(callbacksOf(start)).toEqual([{ type: 5, data: { flags: 0 } }]);
    expect(String(answer["content"])).toMatch(
      new RegExp(
        `^▶ Run \`r-[0-9a-f]{8}\` started by <@${OWNER.id}>: BOTDUSD 1h, driver llm \\(as configured\\)`,
      ),
    );
    expect(answer["allowed_mentions"]).toEqual({ parse: [] });
    const runId = /`(r-[0-9a-f]{8})`/.exec(String(answer["content"]))?.[1] as string;
    const run = await settled(runId);
    expect(run).toMatchObject({
      status: "completed",
      passes: 1,
      owner: OWNER.id,
      guildId: GUILD,
      channelId: CHANNEL,
    });
    expect(run.config.gates.sharpe_min).toBe(0.3); // the lenient preset

    // The card in the channel, the thread started from it and joined.
    const card = discord.messagesIn(CHANNEL).filter((m) => embedOf(m.body).title === `Research run ${runId}`);
    expect(card).toHaveLength(1);
    const thread = card[0]?.id as string;
    expect(run.threadId).toBe(thread);
    const reqs = discord.requests.slice(reqStart).map(call);
    expect(reqs).toContain(`POST /channels/${CHANNEL}/messages/${thread}/threads`);
    expect(reqs).toContain(`PUT /channels/${thread}/thread-members/%40me`);
    expect(reqs.indexOf(`POST /channels/${CHANNEL}/messages/${thread}/threads`)).toBeLessThan(
      reqs.indexOf(`POST /channels/${thread}/messages`),
    );

    const posts = discord.messagesIn(thread);
    const iterationPost = posts.find((m) =>
      /^#1 /.test(embedOf({ embeds: m.body["embeds"] ?? [{}] }).title ?? ""),
    );
    const e = embedOf(iterationPost?.body ?? {});
    expect(e.title).toMatch(/^#1 my-ema · .* · PASS$/);
    expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
    expect(iterationPost?.files.map((f) => f.contentType)).toEqual(["image/png"]);
    const mention = posts.find((m) => String(m.body["content"] ?? "").includes(`<@${OWNER.id}>`));
    expect(mention?.body["allowed_mentions"]).toEqual({ parse: [], users: [OWNER.id] });
    // The owner's DM: a DM channel opened for them, the candidate's files attached.
    const dm = discord.messagesIn(discord.dmChannelOf(OWNER.id));
    expect(dm).toHaveLength(1);
    expect(dm[0]?.files.map((f) => f.name).sort()).toEqual(["my-ema-1.ts", "my-ema-1.yaml"]);
    // The token went out only as the Authorization header and in IDENTIFY.
    for (const r of discord.requests) expect(JSON.stringify(r.json ?? {})).not.toContain(TOKEN);
  }, 120_000);
});
