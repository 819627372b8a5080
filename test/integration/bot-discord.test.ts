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
import { startRunConfig } from "../../src/commands/start.ts";
import { LlmClient } from "../../src/llm/client.ts";
import type { Driver } from "../../src/loop/driver.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { llmDriver } from "../../src/loop/drivers/llm.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import type { RunRecord } from "../../src/loop/run-repository.ts";
import { createRun } from "../../src/loop/runner.ts";
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
    { id: GUILD, roles: [ROLE] },
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
loop: { seed: 3, max_fix_attempts: 5, migrate_every: 1 }
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
    // Once the run is over, the card loses its buttons.
    expect(reqs).toContain(`PATCH /channels/${CHANNEL}/messages/${thread}`);
    expect(card[0]?.body["components"]).toEqual([]);
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

  it("starts a run with islands: frozen in its config, on the card, and in every iteration post", async () => {
    const start = slash(
      "start",
      { brief: "three turns on two islands", driver: "heuristic", max_iterations: 3, islands: 2 },
      OWNER,
      HERE,
    );
    const answer = await ask(start);
    expect(String(answer["content"])).toMatch(/, up to 3 iterations on 2 islands, config `/);
    const runId = /`(r-[0-9a-f]{8})`/.exec(String(answer["content"]))?.[1] as string;
    const run = await settled(runId);
    expect(run.status).toBe("completed");
    expect(run.config.loop.islands).toBe(2);
    expect(run.config.loop.migrate_every).toBe(1); // the bot's base config

    const card = discord.messagesIn(CHANNEL).find((m) => embedOf(m.body).title === `Research run ${runId}`);
    expect(embedOf(card?.body ?? {}).fields?.find((f) => f.name === "Islands")?.value).toBe(
      "2 (seeds 3…4) · best of each shown to the others every iteration",
    );

    // Islands take turns: #1 island 0, #2 island 1, #3 island 0; each post says which.
    const history = await runs.history(runId);
    expect(history.map((h) => h.n)).toEqual([1, 2, 3]);
    const posts = discord
      .messagesIn(run.threadId as string)
      .map((m) => (m.body["embeds"] as Embed[] | undefined)?.[0])
      .filter((e): e is Embed => /^#\d+ /.test(e?.title ?? ""));
    expect(posts.map((e) => /^#\d+ .* · (island \d+) · [A-Z ]+$/.exec(e.title ?? "")?.[1])).toEqual([
      "island 0",
      "island 1",
      "island 0",
    ]);
    // Migration after every iteration: #2 is shown island 0's best so far (#1), #3 island 1's (#2).
    const migrants = posts.map((e) => e.fields?.find((f) => f.name === "Migrants in")?.value);
    const [first, second] = history;
    expect(first?.configYaml && second?.configYaml).toBeTruthy();
    expect(migrants).toEqual([undefined, `island 0: #1 ${first?.name}`, `island 1: #2 ${second?.name}`]);
  }, 120_000);

  it("refuses islands the budget cannot give a turn, privately and before creating anything", async () => {
    const before = (await runs.listRuns(1000)).length;
    const tooMany = slash(
      "start",
      { brief: "more islands than turns", driver: "heuristic", max_iterations: 3, islands: 5 },
      OWNER,
      HERE,
    );
    const err = await ask(tooMany);
    expect(err["flags"]).toBe(EPHEMERAL);
    expect(String(err["content"])).toContain(
      "loop.islands (5) exceeds budgets.max_iterations (3): islands take turns, so some would never run",
    );
    // Discord enforces the option's 16, but a stale registration or a raw API call may not.
    const over = await ask(
      slash("start", { brief: "seventeen", driver: "heuristic", islands: 17 }, OWNER, HERE),
    );
    expect(over["flags"]).toBe(EPHEMERAL);
    expect(String(over["content"])).toContain("loop.islands: at most 16 islands");
    expect((await runs.listRuns(1000)).length).toBe(before);
  }, 60_000);

  /** A Discord run of this guild with a thread, paused, ready to be steered. */
  async function pausedRun(brief: string, maxIterations = 1): Promise<{ run: RunRecord; thread: Where }> {
    const cfg = startRunConfig([baseConfig], {
      preset: "lenient",
      driver: "heuristic",
      maxIterations,
    });
    const run = await createRun(runs, {
      brief,
      config: cfg,
      driver: "heuristic",
      owner: OWNER.id,
      source: "discord",
      guildId: GUILD,
      channelId: CHANNEL,
    });
    const threadId = snowflake();
    await runs.setThread(run.id, { threadId });
    await runs.setStatus(run.id, "paused", "waiting for a nudge", []);
    return {
      run: (await runs.getRun(run.id)) as RunRecord,
      thread: { guildId: GUILD, channelId: threadId, parentId: CHANNEL },
    };
  }
  const reactions = (channel: string, messageId: string) =>
    discord.requests.filter(
      (r) => r.method === "PUT" && r.path.startsWith(`/channels/${channel}/messages/${messageId}/reactions/`),
    );
  const emoji = (r: RecordedRequest) =>
    decodeURIComponent(r.path.split("/reactions/")[1]?.split("/")[0] ?? "");

  it("takes thread replies as nudges once, ignores bots and strangers, and ✅s the reply when applied", async () => {
    const { run, thread } = await pausedRun("thread nudges");
    const reply1 = message({ content: "try a slower EMA pair", author: OWNER, where: thread });
    gateway.dispatch("MESSAGE_CREATE", reply1);
    await until("📥 on the reply", () =>
      reactions(thread.channelId, String(reply1["id"])).length > 0 ? true : undefined,
    );
    expect(emoji(reactions(thread.channelId, String(reply1["id"]))[0] as RecordedRequest)).toBe("📥");
    // The same message delivered again is the same nudge.
    gateway.dispatch("MESSAGE_CREATE", reply1);
    // An edit is a nudge of its own (the first may already be in an iteration's hands), once per
    // edit however often Discord delivers it; an update that is no edit (a link preview) is none.
    const edit = {
      ...reply1,
      content: "try a slower EMA pair, 50/200",
      edited_timestamp: "2026-11-30T12:00:00.000Z",
    };
    gateway.dispatch("MESSAGE_UPDATE", edit);
    gateway.dispatch("MESSAGE_UPDATE", edit);
    gateway.dispatch("MESSAGE_UPDATE", { ...reply1, embeds: [{ type: "link" }] });
    // Without the MessageContent intent only mentions carry text: the mention is stripped.
    const mentioned = message({
      content: `<@${discord.applicationId}> use RSI as a filter`,
      author: OPERATOR,
      where: thread,
    });
    gateway.dispatch("MESSAGE_CREATE", mentioned);
    // Without the intent Discord sends other messages with empty content: nothing to take.
    const contentless = message({ content: "", author: OWNER, where: thread });
    gateway.dispatch("MESSAGE_CREATE", contentless);
    const fromBot = message({
      content: "I am a bot",
      author: { id: "600000000000000777", bot: true },
      where: thread,
    });
    gateway.dispatch("MESSAGE_CREATE", fromBot);
    const stranger1 = message({ content: "buy the dip", author: STRANGER, where: thread });
    const stranger2 = message({ content: "really, buy it", author: STRANGER, where: thread });
    gateway.dispatch("MESSAGE_CREATE", stranger1);
    gateway.dispatch("MESSAGE_CREATE", stranger2);
    await until("the mention nudge", async () =>
      (await runs.nudges(run.id)).length === 3 ? true : undefined,
    );
    await bot.bot.idle();
    const nudges = await runs.nudges(run.id);
    expect(nudges.map((n) => [n.author, n.source, n.text])).toEqual([
      [OWNER.id, "discord-thread", "try a slower EMA pair"],
      [OWNER.id, "discord-thread", "(edited) try a slower EMA pair, 50/200"],
      [OPERATOR.id, "discord-thread", "use RSI as a filter"],
    ]);
    expect(reactions(thread.channelId, String(fromBot["id"]))).toHaveLength(0);
    expect(reactions(thread.channelId, String(contentless["id"]))).toHaveLength(0);
    expect(reactions(thread.channelId, String(stranger1["id"]))).toHaveLength(0);
    expect(reactions(thread.channelId, String(stranger2["id"]))).toHaveLength(0);
    // One notice for the stranger, a silent reply without pings, however often they write.
    const notices = discord.messagesIn(thread.channelId);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.body).toMatchObject({
      allowed_mentions: { parse: [] },
      message_reference: { message_id: stranger1["id"] },
      flags: 4096,
    });
    expect(String(notices[0]?.body["content"])).toMatch(/^Not used as a nudge: Only the run's owner/);

    // The Resume button: an ephemeral deferral, then the run goes on and applies both nudges.
    const resume = button(`run:${run.id}:resume`, OWNER, thread, snowflake());
    const answer = await ask(resume);
    expect(callbacksOf(resume)).toEqual([{ type: 5, data: { flags: EPHEMERAL } }]);
    expect(answer["content"]).toBe(`▶ Resumed run \`${run.id}\`.`);
    await settled(run.id);
    expect((await runs.nudges(run.id)).map((n) => n.claimedIteration)).toEqual([1, 1, 1]);
    const posts = discord.messagesIn(thread.channelId).map((m) => String(m.body["content"] ?? ""));
    expect(
      posts.some((c) => c.startsWith(`Nudge from <@${OWNER.id}> applied in #1: > try a slower EMA pair`)),
    ).toBe(true);
    expect(reactions(thread.channelId, String(reply1["id"])).map(emoji)).toContain("✅");
    expect(reactions(thread.channelId, String(mentioned["id"])).map(emoji)).toEqual(["📥", "✅"]);
  }, 120_000);

  it("answers list, status, config and leaderboard, and completes run ids", async () => {
    const { run } = await pausedRun("reading commands");
    const list = await ask(slash("list", {}, STRANGER, HERE));
    expect(embedOf(list).title).toBe("Research runs");
    expect(embedOf(list).description).toContain(`\`${run.id}\` **paused**`);

    const status = await ask(slash("status", { run: run.id }, STRANGER, HERE));
    expect(embedOf(status).title).toBe(`Run ${run.id} · paused`);
    expect(embedOf(status).fields?.find((f) => f.name === "Iterations")?.value).toBe("0 / 1");
    // In a run's thread, status without run: means that run.
    const inThread = await ask(
      slash("status", {}, STRANGER, { guildId: GUILD, channelId: run.threadId as string, parentId: CHANNEL }),
    );
    expect(embedOf(inThread).title).toBe(`Run ${run.id} · paused`);

    const config = await ask(slash("config", { run: run.id }, STRANGER, HERE));
    const fields = Object.fromEntries((embedOf(config).fields ?? []).map((f) => [f.name, f.value]));
    expect(fields["Config hash"]).toBe(`\`${run.configHash}\``);
    expect(fields["Search window"]).toBe("2020-01-01 → 2021-07-01 · 3 rolling folds");
    expect(fields["Holdout (sealed)"]).toBe("2021-07-01 → 2021-12-01");
    expect(fields["Costs"]).toBe("fee 10 bps · slippage 5 bps");
    expect(fields["Gates"]).toContain("sharpe ≥ 0.3");

    const board = await ask(slash("leaderboard", {}, STRANGER, HERE));
    expect(embedOf(board).title).toBe("Leaderboard · this server");
    expect(embedOf(board).description?.split("\n")[0]).toMatch(
      /^1\. `r-[0-9a-f]{8}` #\d+ \S+ \(\S+\) \*\*PASS\*\*/,
    );

    const typed = slash("status", { run: run.id.slice(0, 5) }, STRANGER, HERE, "run");
    const choices = await ask(typed);
    expect(callbacksOf(typed)[0]?.["type"]).toBe(8);
    const values = (choices["choices"] as { name: string; value: string }[]).map((c) => c.value);
    expect(values).toContain(run.id);
    expect((choices["choices"] as { name: string }[]).every((c) => c.name.length <= 100)).toBe(true);
  }, 60_000);

  it("refuses clearly and privately: unknown server, not allowed, bad options, unknown run", async () => {
    const other = slash("list", {}, OWNER, { guildId: OTHER_GUILD, channelId: snowflake() });
    const a = await ask(other);
    expect(callbacksOf(other)).toHaveLength(1);
    expect(callbacksOf(other)[0]).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(String(a["content"])).toContain(`not enabled in this server (id ${OTHER_GUILD})`);

    const startByStranger = slash("start", { brief: "mine now" }, STRANGER, HERE);
    expect(String((await ask(startByStranger))["content"])).toMatch(
      /^You are not allowed to start runs here/,
    );
    expect(callbacksOf(startByStranger)[0]).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });

    const { run } = await pausedRun("not yours");
    const stop = slash("stop", { run: run.id }, STRANGER, HERE);
    expect(String((await ask(stop))["content"])).toMatch(
      /^Only the run's owner or a member with an alphaloop role/,
    );
    expect(callbacksOf(stop)).toEqual([{ type: 5, data: { flags: EPHEMERAL } }]);
    expect((await runs.getRun(run.id))?.status).toBe("paused");

    // A config error after a public deferral: the "thinking" reply is deleted, the error is private.
    const before = (await runs.listRuns(1000)).length;
    const bad = slash("start", { brief: "bad timeframe", timeframe: "banana" }, OWNER, HERE);
    const err = await ask(bad);
    expect(callbacksOf(bad)).toEqual([{ type: 5, data: { flags: 0 } }]);
    expect(err["flags"]).toBe(EPHEMERAL);
    expect(String(err["content"])).toMatch(/dataset\.timeframe/);
    expect(discord.requests.some((r) => r.method === "DELETE" && r.path.includes(bad.token))).toBe(true);
    expect((await runs.listRuns(1000)).length).toBe(before);

    // Data the store does not hold: refused before anything is created.
    const noData = slash("start", { brief: "eth please", symbol: "ethusdt" }, OWNER, HERE);
    expect(String((await ask(noData))["content"])).toBe(
      "No ETHUSDT 1h bars in the store (it holds BOTDUSD 1h). An operator adds them with `alphaloop data download --symbol ETHUSDT --timeframe 1h --from YYYY-MM --to YYYY-MM`.",
    );
    expect((await runs.listRuns(1000)).length).toBe(before);

    const unknown = await ask(slash("pause", { run: "r-nothere" }, OWNER, HERE));
    expect(String(unknown["content"])).toMatch(/^No run `r-nothere`/);
  }, 60_000);

  it("takes nudges from /research nudge, the message menu and the Nudge button's modal", async () => {
    const { run, thread } = await pausedRun("other nudge paths");
    const cmd = slash("nudge", { run: run.id, text: "widen the stop" }, OPERATOR, HERE);
    expect(String((await ask(cmd))["content"])).toMatch(/^📥 Nudge stored for run/);
    expect(callbacksOf(cmd)).toEqual([{ type: 5, data: { flags: EPHEMERAL } }]);

    const target = message({ content: "fewer trades, please", author: STRANGER, where: thread });
    const menu = messageCommand("Nudge this run", target, OWNER, thread);
    expect(String((await ask(menu))["content"])).toMatch(/^📥 Nudge stored/);
    expect(reactions(thread.channelId, String(target["id"])).map(emoji)).toEqual(["📥"]);
    // The same message through the menu again stays one nudge.
    expect(String((await ask(messageCommand("Nudge this run", target, OWNER, thread)))["content"])).toMatch(
      /^📥 Already stored/,
    );

    const press = button(`run:${run.id}:nudge`, OWNER, thread, snowflake());
    const modal = await ask(press);
    expect(callbacksOf(press)[0]?.["type"]).toBe(9);
    expect(modal["custom_id"]).toBe(`nudge-modal:${run.id}`);
    const submitted = await ask(modalSubmit(`nudge-modal:${run.id}`, "try the 4h timeframe", OWNER, thread));
    expect(String(submitted["content"])).toMatch(/^📥 Nudge stored/);

    const strangerPress = button(`run:${run.id}:nudge`, STRANGER, thread, snowflake());
    expect(String((await ask(strangerPress))["content"])).toMatch(/^Only the run's owner/);
    expect(callbacksOf(strangerPress)[0]).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });

    expect((await runs.nudges(run.id)).map((n) => [n.author, n.source, n.text])).toEqual([
      [OPERATOR.id, "discord-command", "widen the stop"],
      [OWNER.id, "discord-thread", "fewer trades, please"],
      [OWNER.id, "discord-modal", "try the 4h timeframe"],
    ]);
  }, 60_000);

  it("posts nothing twice when the bot restarts mid-run", async () => {
    // The model answers each turn by what it was sent; the second session's first request is held
    // long enough for the bot to be killed in the middle of iteration 2.
    let sessions = 0;
    let midIteration: () => void = () => undefined;
    const reachedIteration2 = new Promise<void>((r) => {
      midIteration = r;
    });
    await llm.close();
    llm = await startFakeLlm({
      fallback: async (req) => {
        const messages = ((req.body as { messages?: { role: string }[] }).messages ?? []) as {
          role: string;
        }[];
        const [write, decide] = session("tune");
        if (messages.some((m) => m.role === "tool")) return decide as Record<string, unknown>;
        sessions++;
        if (sessions === 2) {
          midIteration();
          return { kind: "reply", completion: write as Record<string, unknown>, delayMs: 3_000 };
        }
        return write as Record<string, unknown>;
      },
    });
    const start = slash(
      "start",
      { brief: "restart me", preset: "lenient", driver: "llm", max_iterations: 3 },
      OWNER,
      HERE,
    );
    const runId = /`(r-[0-9a-f]{8})`/.exec(String((await ask(start))["content"]))?.[1] as string;
    await reachedIteration2;
    await bot.close(200);
    expect(gateway.connected).toBe(0);
    const mid = (await runs.getRun(runId)) as RunRecord;
    // Killed mid-run. (Iteration 2 is recorded only if it finished within the close's 200 ms bound;
    // one cut short commits nothing and is redone.)
    expect(mid.status).toBe("running");
    expect(mid.iterationsDone).toBeLessThan(3);
    bot = await startBot();
    expect(gateway.identifies.length).toBeGreaterThanOrEqual(2);
    const thread = await until("the thread", async () => (await runs.getRun(runId))?.threadId ?? undefined);
    const run = await settled(runId);
    expect(run.iterationsDone).toBe(3);
    // One card for this run, one thread from it.
    const cards = discord
      .messagesIn(CHANNEL)
      .filter((m) => embedOf(m.body).title === `Research run ${runId}`);
    expect(cards).toHaveLength(1);
    expect(
      discord.requests.filter((r) => r.path === `/channels/${CHANNEL}/messages/${thread}/threads`),
    ).toHaveLength(1);
    // Every thread post was sent exactly once, and each is a recorded delivery step.
    const posts = discord.requests.filter(
      (r) => r.method === "POST" && r.path === `/channels/${thread}/messages`,
    );
    const nonces = posts.map((r) => String(r.json?.["nonce"]));
    expect(new Set(nonces).size).toBe(nonces.length);
    expect(posts.every((r) => r.status === 200)).toBe(true);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM discord_deliveries WHERE run_id = $1 AND channel_id = $2 AND message_id IS NOT NULL AND step <> 'thread' AND step <> 'join'",
      [runId, thread],
    );
    expect(discord.messagesIn(thread)).toHaveLength(rows[0]?.n ?? -1);
    const iterationPosts = discord
      .messagesIn(thread)
      .filter((m) => /^#\d+ /.test(embedOf({ embeds: m.body["embeds"] ?? [{}] }).title ?? ""));
    expect(iterationPosts.map((m) => embedOf(m.body).title?.split(" ")[0])).toEqual(["#1", "#2", "#3"]);
  }, 180_000);
});
