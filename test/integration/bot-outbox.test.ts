/**
 * The outbox consumer against real Postgres, discord.js REST pointed at a fake Discord on
 * loopback, and a fake QuickChart: the exact REST calls (embed within limits, mention with
 * allowedMentions, multipart attachments, DM = create channel then message), ordering per run,
 * retries, outages, restarts that post nothing twice, and the degraded paths.
 */

import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PgDeliveryStore } from "../../src/bot/delivery-store.ts";
import { parseNotifySettings } from "../../src/bot/notify-settings.ts";
import type { OutboxConsumer, OutboxConsumerDeps } from "../../src/bot/outbox-consumer.ts";
import { outboxConsumerFromEnv } from "../../src/bot/outbox-setup.ts";
import { EMBED_LIMITS, type Embed, embedLength } from "../../src/bot/render/limits.ts";
import { eventId, type RunEvent, type RunEventType } from "../../src/domain/run.ts";
import { loadRunConfig } from "../../src/domain/run-config.ts";
import { createRun } from "../../src/loop/runner.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { FakeDiscord, type RecordedRequest } from "../support/fake-discord.ts";
import { FakeQuickChart, TINY_PNG } from "../support/fake-quickchart.ts";

const OWNER = "123456789012345678";
const GUILD = "900000000000000001";

/** Records what the push webhook receives. */
class WebhookSink {
  readonly hits: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  private server: Server | undefined;
  url = "";
  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      this.hits.push({
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.end("{}");
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

function embedsOf(q: { json?: Record<string, unknown> | undefined } | undefined): Embed[] {
  return (q?.json?.["embeds"] as Embed[] | undefined) ?? [];
}

function expectWithinLimits(e: Embed): void {
  expect(e.title?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.title);
  expect(e.description?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.description);
  expect(e.fields?.length ?? 0).toBeLessThanOrEqual(EMBED_LIMITS.fields);
  for (const f of e.fields ?? []) expect(f.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
  expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
}

const day = 86_400_000;
const curve = {
  t: Array.from({ length: 50 }, (_, i) => Date.UTC(2021, 0, 1) + i * day),
  equity: Array.from({ length: 50 }, (_, i) => 1 + 0.01 * i - (i > 30 ? 0.15 : 0)),
  benchmark: Array.from({ length: 50 }, (_, i) => 1 + 0.005 * i),
};

function iteration(n: number, status: "passed" | "discarded", extra: Record<string, unknown> = {}) {
  const pass = status === "passed";
  return {
    n,
    name: "ema-atr",
    family: "momentum",
    status,
    hypothesis: "EMA cross filtered by ATR expansion",
    metrics: {
      sharpe: pass ? 1.4 : 0.7,
      maxDrawdown: 0.2,
      profitFactor: 1.3,
      tradeCount: 40,
      dsr: 0.96,
      totalReturn: 0.3,
    },
    gates: [
      { gate: "sharpe", value: pass ? 1.4 : 0.7, threshold: 1, op: ">=", pass, margin: 0 },
      { gate: "max_drawdown", value: 0.2, threshold: 0.25, op: "<=", pass: true, margin: 0.05 },
    ],
    reasons: pass ? [] : ["sharpe 0.70 < 1.00"],
    decision: { decision: "tune", rationale: "close", nextHypothesis: "wider ATR stop" },
    forced: null,
    nudges: [],
    tokens: { promptTokens: 1000, completionTokens: 200, cachedTokens: 800, calls: 2 },
    timings: { proposeMs: 1200, compileMs: 20, backtestMs: 150, gateMs: 1, decideMs: 300 },
    curve,
    ...extra,
  };
}

function ev(runId: string, type: RunEventType, payload: Record<string, unknown>, n?: number): RunEvent {
  return { eventId: eventId(runId, type, n), runId, type, payload };
}

/** The events one run emits around a pass, in the loop's order. */
function passStory(runId: string): RunEvent[] {
  return [
    ev(runId, "run.started", {}),
    ev(runId, "iteration.completed", iteration(1, "discarded"), 1),
    ev(runId, "iteration.completed", iteration(2, "passed"), 2),
    ev(
      runId,
      "gate.passed",
      {
        n: 2,
        name: "ema-atr",
        family: "momentum",
        metrics: { sharpe: 1.4 },
        gates: iteration(2, "passed").gates,
        code: "export default () => ({ target: [] });\n",
        configYaml: "timeframe: 1h\n",
      },
      2,
    ),
    ev(
      runId,
      "holdout.evaluated",
      {
        n: 2,
        name: "ema-atr",
        ok: true,
        metrics: { sharpe: 0.9 },
        from: Date.UTC(2021, 6, 1),
        to: Date.UTC(2021, 11, 1),
        peeks: 1,
      },
      2,
    ),
    ev(runId, "run.stuck", { n: 2, reason: "no improvement in 3 iterations" }, 2),
    ev(runId, "run.finished", {
      status: "completed",
      reason: "reached max_iterations (2)",
      iterations: 2,
      passes: 1,
      bestIteration: 2,
      bestDistance: 0,
    }),
  ];
}

describe("discord outbox consumer", () => {
  let db: Db;
  let runs: PgRunRepository;
  const schema = testSchema("botoutbox");
  const discord = new FakeDiscord();
  const charts = new FakeQuickChart();
  const hook = new WebhookSink();
  const config = loadRunConfig(readFileSync("configs/default.yaml", "utf8"), []);
  let n = 0;

  beforeAll(async () => {
    db = await backends[0].open(schema);
    runs = new PgRunRepository(db);
    await Promise.all([discord.start(), charts.start(), hook.start()]);
  });
  afterAll(async () => {
    await Promise.all([discord.close(), charts.close(), hook.close()]);
    await dropSchema(db, schema);
  });
  beforeEach(async () => {
    discord.clearFaults();
    // Earlier tests' runs are done; start each test from an empty outbox.
    await db.query("UPDATE outbox SET delivered_at = now() WHERE delivered_at IS NULL");
  });

  function consumer(
    env: Record<string, string> = {},
    overrides: Partial<OutboxConsumerDeps> = {},
  ): OutboxConsumer {
    return outboxConsumerFromEnv(
      db,
      {
        DISCORD_TOKEN: "fake-token",
        DISCORD_API_URL: discord.url,
        QUICKCHART_URL: charts.url,
        NOTIFY_WEBHOOK_URL: `${hook.url}/alphaloop-alerts`,
        ...env,
      },
      { chartTimeoutMs: 400, overrides: { retryBaseMs: 0, ...overrides } },
    );
  }

  /** A Discord run with a thread, and its events in the outbox. */
  async function discordRun(
    events: (id: string) => RunEvent[],
    o: { thread?: boolean; guild?: string } = {},
  ) {
    const id = `r-bot-${++n}-${Math.random().toString(36).slice(2, 6)}`;
    const channelId = discord.id();
    await createRun(runs, {
      id,
      brief: "trend following on BTC",
      config,
      driver: "heuristic",
      owner: OWNER,
      source: "discord",
      guildId: o.guild ?? GUILD,
      channelId,
    });
    const threadId = o.thread === false ? undefined : discord.id();
    if (threadId) await runs.setThread(id, { threadId });
    await runs.appendEvents(events(id));
    return { id, channelId, threadId: threadId ?? "" };
  }

  const since = (i: number) => discord.requests.slice(i);
  const call = (r: RecordedRequest) => `${r.method} ${r.path}`;

  it("posts a run's events in order with the exact REST calls", async () => {
    const start = discord.requests.length;
    const chartStart = charts.requests.length;
    const hookStart = hook.hits.length;
    const r = await discordRun(passStory);
    const pass = await consumer().deliverPending();
    expect(pass).toEqual({ delivered: 7, failedRuns: [] });

    const reqs = since(start);
    const dm = discord.dmChannelOf(OWNER);
    const thread = `/channels/${r.threadId}/messages`;
    expect(reqs.map(call)).toEqual([
      `POST ${thread}`, // run card
      `POST ${thread}`, // #1 with chart
      `POST ${thread}`, // #2 with chart
      `POST ${thread}`, // gate-pass mention
      "POST /users/@me/channels", // open the DM
      `POST /channels/${dm}/messages`, // DM with code and YAML
      `POST ${thread}`, // holdout
      `POST ${thread}`, // stuck ping
      `POST ${thread}`, // finished
      `PATCH ${thread}/${discord.messagesIn(r.threadId)[0]?.id}`, // the card loses its buttons
    ]);
    for (const q of reqs) expect(q.status).toBeLessThan(300);

    const req = (i: number): RecordedRequest => {
      const q = reqs[i];
      if (!q) throw new Error(`no request #${i}`);
      return q;
    };
    const [card, it1, it2, mention, openDm, dmMsg, holdout, stuck, finished] = [
      0, 1, 2, 3, 4, 5, 6, 7, 8,
    ].map(req) as [
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
      RecordedRequest,
    ];
    expect(embedsOf(card)[0]?.title).toBe(`Research run ${r.id}`);

    // Iteration posts: multipart with the PNG from QuickChart, an embed within limits, the buttons.
    for (const [q, nth, verdict] of [
      [it1, 1, "DISCARD"],
      [it2, 2, "PASS"],
    ] as const) {
      expect(q.contentType).toMatch(/^multipart\/form-data/);
      expect(q.files.map((f) => [f.name, f.contentType])).toEqual([[`equity-${nth}.png`, "image/png"]]);
      expect(q.files[0]?.data.equals(TINY_PNG)).toBe(true);
      const embed = embedsOf(q)[0] as Embed;
      expect(embed.title).toBe(`#${nth} ema-atr · momentum · ${verdict}`);
      expect(embed.image?.url).toBe(`attachment://equity-${nth}.png`);
      expectWithinLimits(embed);
      expect(q.json?.["allowed_mentions"]).toEqual({ parse: [] });
      const buttons =
        (q.json?.["components"] as { components: { custom_id: string }[] }[] | undefined)?.[0]?.components ??
        [];
      expect(buttons.map((b) => b.custom_id)).toEqual([
        `run:${r.id}:stop`,
        `run:${r.id}:pause`,
        `run:${r.id}:nudge`,
      ]);
      expect(q.json?.["enforce_nonce"]).toBe(true);
      expect(String(q.json?.["nonce"]).length).toBeLessThanOrEqual(25);
    }
    expect(embedsOf(it1)[0]?.fields?.[0]).toEqual({
      name: "sharpe",
      value: "0.70 ≥ 1.00 ✗",
      inline: true,
    });

    // The chart configs QuickChart received: Chart.js 4, candidate vs buy & hold, drawdown below.
    const drawn = charts.requests.slice(chartStart);
    expect(drawn).toHaveLength(2);
    expect(drawn[0]?.body["version"]).toBe("4");
    const datasets =
      (drawn[0]?.chart?.["data"] as { datasets: { label: string }[] } | undefined)?.datasets ?? [];
    expect(datasets.map((d) => d.label)).toEqual(["candidate", "buy & hold", "drawdown"]);

    // The mention is in content and allowed to ping exactly the owner.
    expect(String(mention.json?.["content"])).toMatch(new RegExp(`^<@${OWNER}> #2 ema-atr`));
    expect(mention.json?.["allowed_mentions"]).toEqual({ parse: [], users: [OWNER] });

    // DM: open the channel for the owner, then the summary with code and YAML attached.
    expect(openDm.json).toEqual({ recipient_id: OWNER });
    expect(dmMsg.files.map((f) => [f.name, f.data.toString("utf8")])).toEqual([
      ["ema-atr-2.ts", "export default () => ({ target: [] });\n"],
      ["ema-atr-2.yaml", "timeframe: 1h\n"],
    ]);

    // Push outside Discord: ntfy style, plain text with Title and Priority headers.
    const pushes = hook.hits.slice(hookStart);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]?.path).toBe("/alphaloop-alerts");
    // The title has a "·", so it travels as an RFC 2047 encoded word.
    expect(pushes[0]?.headers["title"]).toMatch(/^=\?UTF-8\?B\?/);
    expect(Buffer.from(String(pushes[0]?.headers["title"]).slice(10, -2), "base64").toString("utf8")).toBe(
      "alphaloop: #2 ema-atr · momentum passed every gate",
    );
    expect(pushes[0]?.headers["priority"]).toBe("5");
    expect(pushes[0]?.body).toContain(`Run ${r.id}.`);

    expect(embedsOf(holdout)[0]?.title).toContain("Holdout for #2 ema-atr");
    expect(String(stuck.json?.["content"])).toContain(`<@${OWNER}> the run looks stuck after #2`);
    expect(stuck.json?.["allowed_mentions"]).toEqual({ parse: [], users: [OWNER] });
    expect(String(finished.json?.["content"])).toMatch(/^■ Run completed/);

    // Every event delivered, each delivery naming the Discord message it became.
    expect(await runs.pendingEvents(100, r.id)).toEqual([]);
    const { rows } = await db.query<{
      event_id: string;
      delivery: { steps: Record<string, { messageId: string | null }> };
    }>("SELECT event_id, delivery FROM outbox WHERE run_id = $1 ORDER BY id", [r.id]);
    const threadIds = discord.messagesIn(r.threadId).map((m) => m.id);
    expect(
      rows.map(
        (x) =>
          x.delivery.steps["post"]?.messageId ??
          x.delivery.steps["card"]?.messageId ??
          x.delivery.steps["mention"]?.messageId,
      ),
    ).toEqual(threadIds);
    expect(rows[3]?.delivery.steps["dm"]?.messageId).toBe(discord.messagesIn(dm)[0]?.id);
  });

  it("after a restart mid-delivery, posts nothing twice — even a message created just before the crash", async () => {
    const r = await discordRun(passStory);
    const dmBefore = discord.messages.length;
    // The DM is created on Discord's side, but the bot never hears back (killed, connection lost).
    const dmChannel = discord.dmChannelOf(OWNER);
    discord.inject("POST", new RegExp(`^/channels/${dmChannel}/messages$`), { kind: "drop-after-create" }, 1);
    const first = await consumer().deliverPending();
    expect(first.failedRuns).toEqual([r.id]);
    expect(first.delivered).toBe(3); // card, #1, #2; gate.passed stopped at its DM step
    const threadAfterCrash = discord.messagesIn(r.threadId).length;
    expect(threadAfterCrash).toBe(4); // card, #1, #2, mention

    // A new process: fresh consumer, same database.
    const second = await consumer().deliverPending();
    expect(second).toEqual({ delivered: 4, failedRuns: [] });
    expect(discord.messagesIn(r.threadId)).toHaveLength(7);
    expect(discord.messages.length - dmBefore).toBe(8); // 7 in the thread + exactly 1 DM
    const mentions = discord
      .messagesIn(r.threadId)
      .filter((m) => String(m.body["content"] ?? "").includes("passed every gate"));
    expect(mentions).toHaveLength(1);
    // The DM was sent twice (same nonce) and exists once.
    const dmPosts = discord.requests.filter(
      (q) => q.path === `/channels/${dmChannel}/messages` && q.json?.["content"]?.toString().includes(r.id),
    );
    expect(dmPosts).toHaveLength(2);
    expect(dmPosts[0]?.json?.["nonce"]).toBe(dmPosts[1]?.json?.["nonce"]);
    expect(
      discord.messagesIn(dmChannel).filter((m) => String(m.body["content"]).includes(r.id)),
    ).toHaveLength(1);

    // And a third start has nothing left to do.
    const before = discord.requests.length;
    expect(await consumer().deliverPending()).toEqual({ delivered: 0, failedRuns: [] });
    expect(discord.requests.length).toBe(before);
  });

  it("retries 429 and 5xx through discord.js; an outage holds a run's later events in order while other runs go on", async () => {
    const a = await discordRun(passStory);
    const b = await discordRun((id) => passStory(id).slice(0, 3));
    const start = discord.requests.length;
    // One 429 on run A's first post: discord.js waits Retry-After and sends it again.
    discord.inject(
      "POST",
      new RegExp(`^/channels/${a.threadId}/messages$`),
      { kind: "status", status: 429, retryAfterS: 0.05 },
      1,
    );
    // Then run A's thread is down (503) for longer than discord.js retries.
    const c = consumer();
    const onlyFirst = await c.deliverPending();
    expect(onlyFirst.failedRuns).toEqual([]);
    const aPosts = since(start).filter((q) => q.path === `/channels/${a.threadId}/messages`);
    expect(aPosts.map((q) => q.status)).toEqual([429, 200, 200, 200, 200, 200, 200, 200]);
    expect(discord.messagesIn(a.threadId)).toHaveLength(7);

    const a2 = await discordRun(passStory);
    const b2 = await discordRun((id) => passStory(id).slice(0, 3));
    discord.inject(
      "POST",
      new RegExp(`^/channels/${a2.threadId}/messages$`),
      { kind: "status", status: 503 },
      1_000,
    );
    const outage = await c.deliverPending();
    expect(outage.failedRuns).toEqual([a2.id]);
    expect(discord.messagesIn(a2.threadId)).toHaveLength(0);
    expect(discord.messagesIn(b2.threadId)).toHaveLength(3);
    expect(await runs.pendingEvents(100, a2.id)).toHaveLength(7);
    // 5xx was retried by discord.js before giving up (1 + 3 retries by default).
    expect(since(start).filter((q) => q.path === `/channels/${a2.threadId}/messages`).length).toBe(4);

    // Discord comes back: the run catches up, in order.
    discord.clearFaults();
    expect(await c.deliverPending()).toEqual({ delivered: 7, failedRuns: [] });
    const titles = discord
      .messagesIn(a2.threadId)
      .map(
        (m) =>
          (m.body["embeds"] as Embed[] | undefined)?.[0]?.title ?? String(m.body["content"]).slice(0, 12),
      );
    expect(titles.slice(0, 3)).toEqual([
      `Research run ${a2.id}`,
      "#1 ema-atr · momentum · DISCARD",
      "#2 ema-atr · momentum · PASS",
    ]);
    expect(discord.messagesIn(b.threadId)).toHaveLength(3);
  });

  it("does not let a run stuck behind an outage starve runs that come after it", async () => {
    const stuck = await discordRun(passStory);
    discord.inject(
      "POST",
      new RegExp(`^/channels/${stuck.threadId}/messages$`),
      { kind: "status", status: 503 },
      1_000,
    );
    const c = consumer({}, { batch: 3 });
    expect((await c.deliverPending()).failedRuns).toEqual([stuck.id]);
    const later = await discordRun((id) => passStory(id).slice(0, 2));
    const pass = await c.deliverPending();
    expect(pass).toEqual({ delivered: 2, failedRuns: [stuck.id] });
    expect(discord.messagesIn(later.threadId)).toHaveLength(2);
    expect(discord.messagesIn(stuck.threadId)).toHaveLength(0);
  });

  it("posts the iteration without the image when QuickChart fails or hangs", async () => {
    const r = await discordRun((id) => [
      ev(id, "iteration.completed", iteration(1, "discarded"), 1),
      ev(id, "iteration.completed", iteration(2, "discarded"), 2),
    ]);
    charts.failNext(1);
    const c = consumer();
    charts.hangNext(0);
    const start = discord.requests.length;
    await c.deliverPending();
    charts.hangNext(1);
    const r2 = await discordRun((id) => [ev(id, "iteration.completed", iteration(1, "discarded"), 1)]);
    const t0 = Date.now();
    await c.deliverPending();
    expect(Date.now() - t0).toBeLessThan(5_000);
    const posts = since(start);
    expect(posts.map((q) => [q.path, q.files.length])).toEqual([
      [`/channels/${r.threadId}/messages`, 0],
      [`/channels/${r.threadId}/messages`, 1],
      [`/channels/${r2.threadId}/messages`, 0],
    ]);
    expect(posts[0]?.contentType).toMatch(/^application\/json/);
    expect(embedsOf(posts[0])[0]?.image).toBeUndefined();
    const { rows } = await db.query<{ delivery: { steps: { post: { detail: { chart: string } } } } }>(
      "SELECT delivery FROM outbox WHERE run_id = $1 ORDER BY id",
      [r.id],
    );
    expect(rows[0]?.delivery.steps.post.detail.chart).toMatch(/^failed: .*500/);
    expect(rows[1]?.delivery.steps.post.detail.chart).toBe("attached");
  });

  it("notes a closed DM (50007) on the run and carries on", async () => {
    const r = await discordRun((id) => passStory(id).slice(3, 5));
    discord.closedDms.add(OWNER);
    try {
      expect(await consumer().deliverPending()).toEqual({ delivered: 2, failedRuns: [] });
    } finally {
      discord.closedDms.delete(OWNER);
    }
    const notes = await new PgDeliveryStore(db).runNotes(r.id);
    expect(notes.map((x) => x.kind)).toEqual(["owner_dms_closed"]);
    expect(notes[0]?.text).toContain("50007");
    const thread = discord.messagesIn(r.threadId).map((m) => String(m.body["content"] ?? "").slice(0, 60));
    expect(thread).toEqual([
      `<@${OWNER}> #2 ema-atr · momentum passed every gate. sharpe 1`.slice(0, 60),
      `Could not DM <@${OWNER}> (DMs closed for this server): the`.slice(0, 60),
      "",
    ]);
    expect(discord.messagesIn(r.threadId)[1]?.body["allowed_mentions"]).toEqual({ parse: [] });
  });

  it("acknowledges a nudge in the thread and reacts ✅ on the reply it came from", async () => {
    const reply = discord.id();
    let nudgeId = 0;
    const r = await discordRun(() => []);
    const nudge = await runs.addNudge({
      runId: r.id,
      author: OWNER,
      source: "discord-thread",
      text: "try a volatility filter",
      externalId: reply,
    });
    nudgeId = nudge?.id ?? -1;
    const cli = await runs.addNudge({ runId: r.id, author: "bob", source: "cli", text: "tighter stops" });
    await runs.appendEvents([
      {
        eventId: eventId(r.id, "nudge.applied", 3, String(nudgeId)),
        runId: r.id,
        type: "nudge.applied",
        payload: { n: 3, nudgeId, author: OWNER, text: "try a volatility filter", source: "discord-thread" },
      },
      {
        eventId: eventId(r.id, "nudge.applied", 3, String(cli?.id)),
        runId: r.id,
        type: "nudge.applied",
        payload: { n: 3, nudgeId: cli?.id, author: "bob", text: "tighter stops", source: "cli" },
      },
    ]);
    const start = discord.requests.length;
    expect(await consumer().deliverPending()).toEqual({ delivered: 2, failedRuns: [] });
    const reqs = since(start);
    expect(reqs.map(call)).toEqual([
      `POST /channels/${r.threadId}/messages`,
      `PUT /channels/${r.threadId}/messages/${reply}/reactions/${encodeURIComponent("✅")}/@me`,
      `POST /channels/${r.threadId}/messages`,
    ]);
    expect(reqs[0]?.json?.["content"]).toBe(
      `Nudge from <@${OWNER}> applied in #3: > try a volatility filter`,
    );
    // Naming the author must not ping them.
    expect(reqs[0]?.json?.["allowed_mentions"]).toEqual({ parse: [] });
  });

  it("unarchives an archived thread before posting", async () => {
    const r = await discordRun((id) => [ev(id, "run.resumed", {})]);
    discord.archived.add(r.threadId);
    const start = discord.requests.length;
    await consumer().deliverPending();
    expect(since(start).map((q) => [call(q), q.status])).toEqual([
      [`POST /channels/${r.threadId}/messages`, 400],
      [`PATCH /channels/${r.threadId}`, 200],
      [`POST /channels/${r.threadId}/messages`, 200],
    ]);
    expect(since(start)[1]?.json).toEqual({ archived: false });
  });

  it("honours per-guild settings: silent posts without a ping and no DM, off posts nothing", async () => {
    const guild = "900000000000000077";
    const settings = JSON.stringify({ guilds: { [guild]: { "gate.passed": "silent", "run.stuck": "off" } } });
    const r = await discordRun((id) => [passStory(id)[3] as RunEvent, passStory(id)[5] as RunEvent], {
      guild,
    });
    const start = discord.requests.length;
    const hookStart = hook.hits.length;
    expect(await consumer({ ALPHALOOP_NOTIFY: settings }).deliverPending()).toEqual({
      delivered: 2,
      failedRuns: [],
    });
    const reqs = since(start);
    expect(reqs.map(call)).toEqual([`POST /channels/${r.threadId}/messages`]);
    expect(reqs[0]?.json?.["allowed_mentions"]).toEqual({ parse: [] });
    expect(reqs[0]?.json?.["flags"]).toBe(4096);
    expect(hook.hits.length).toBe(hookStart);
    expect(parseNotifySettings(settings).guilds[guild]?.["run.stuck"]).toBe("off");
  });

  it("posts the run card in the channel, starts the thread from it, joins it, and posts there", async () => {
    const r = await discordRun((id) => passStory(id).slice(0, 2), { thread: false });
    const start = discord.requests.length;
    await consumer().deliverPending();
    const reqs = since(start);
    const card = discord.messagesIn(r.channelId);
    expect(card).toHaveLength(1);
    const cardId = card[0]?.id as string;
    expect((card[0]?.body["embeds"] as Embed[] | undefined)?.[0]?.title).toBe(`Research run ${r.id}`);
    // Discord gives a thread started from a message that message's id.
    expect((await runs.getRun(r.id))?.threadId).toBe(cardId);
    expect(reqs.map(call)).toEqual([
      `POST /channels/${r.channelId}/messages`,
      `POST /channels/${r.channelId}/messages/${cardId}/threads`,
      `PUT /channels/${cardId}/thread-members/%40me`,
      `POST /channels/${cardId}/messages`,
    ]);
    expect(String(reqs[1]?.json?.["name"])).toBe(`${r.id} · trend following on BTC`);
    expect(discord.joined.has(cardId)).toBe(true);
  });

  it("keeps the card's buttons in step with the run: Resume while paused, none once finished", async () => {
    const r = await discordRun(
      (id) => [
        ev(id, "run.started", {}),
        { ...ev(id, "run.paused", { reason: "by alice" }), eventId: eventId(id, "run.paused", 1, "a") },
        { ...ev(id, "run.resumed", {}), eventId: eventId(id, "run.resumed", 1, "b") },
        ev(id, "run.finished", { status: "stopped", reason: "by alice", iterations: 0, passes: 0 }),
      ],
      { thread: false },
    );
    const start = discord.requests.length;
    expect(await consumer().deliverPending()).toEqual({ delivered: 4, failedRuns: [] });
    const cardId = discord.messagesIn(r.channelId)[0]?.id as string;
    const edits = since(start).filter((q) => q.method === "PATCH");
    expect(edits.map(call)).toEqual(Array(3).fill(`PATCH /channels/${r.channelId}/messages/${cardId}`));
    const labels = edits.map((q) =>
      ((q.json?.["components"] ?? []) as { components: { label: string }[] }[]).flatMap((row) =>
        row.components.map((b) => b.label),
      ),
    );
    expect(labels).toEqual([["Stop", "Resume", "Nudge"], ["Stop", "Pause", "Nudge"], []]);
    expect(discord.messagesIn(r.channelId)[0]?.body["components"]).toEqual([]);
    // Redelivery edits nothing again.
    const again = discord.requests.length;
    await consumer().deliverPending();
    expect(since(again)).toEqual([]);
  });

  it("finds the thread again when it was started but the step was not stored", async () => {
    const r = await discordRun((id) => passStory(id).slice(0, 1), { thread: false });
    // The thread is created, but the answer is lost: the step is not stored and the pass fails.
    discord.inject("POST", /^\/channels\/\d+\/messages\/\d+\/threads$/, { kind: "drop-after-create" });
    expect((await consumer().deliverPending()).failedRuns).toEqual([r.id]);
    const cardId = discord.messagesIn(r.channelId)[0]?.id as string;
    const start = discord.requests.length;
    expect(await consumer().deliverPending()).toEqual({ delivered: 1, failedRuns: [] });
    // The retry meets 160004 and takes the card's id: no second card, the thread joined once.
    expect(discord.messagesIn(r.channelId)).toHaveLength(1);
    expect(since(start).map((q) => `${call(q)} ${q.status}`)).toEqual([
      `POST /channels/${r.channelId}/messages/${cardId}/threads 400`,
      `PUT /channels/${cardId}/thread-members/%40me 204`,
    ]);
    expect((await runs.getRun(r.id))?.threadId).toBe(cardId);
    expect(await runs.pendingEvents(10, r.id)).toEqual([]);
  });

  it("falls back to plain text when Discord refuses a post as malformed", async () => {
    const r = await discordRun((id) => [ev(id, "iteration.completed", iteration(1, "discarded"), 1)]);
    discord.inject("POST", new RegExp(`^/channels/${r.threadId}/messages$`), {
      kind: "status",
      status: 400,
      body: { code: 50035, message: "Invalid Form Body" },
    });
    expect(await consumer().deliverPending()).toEqual({ delivered: 1, failedRuns: [] });
    const [msg] = discord.messagesIn(r.threadId);
    expect(String(msg?.body["content"])).toBe("#1 ema-atr · momentum · DISCARD\nsharpe 0.70 < 1.00");
    expect(msg?.body["embeds"]).toBeUndefined();
  });
});
