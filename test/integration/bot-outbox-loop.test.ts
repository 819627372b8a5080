/**
 * End to end below the gateway: a real research run (heuristic driver, real sandbox, real
 * Postgres) writes its outbox, and the polling consumer delivers every event to the fake Discord
 * with charts from the fake QuickChart — real payloads, not hand-written ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import { outboxConsumerFromEnv } from "../../src/bot/outbox-setup.ts";
import { EMBED_LIMITS, type Embed, embedLength } from "../../src/bot/render/limits.ts";
import { createDriver } from "../../src/loop/drivers/index.ts";
import { loadLibrary } from "../../src/loop/library.ts";
import { buildLoop, createRun } from "../../src/loop/runner.ts";
import type { Db } from "../../src/store/db.ts";
import { PgRunRepository } from "../../src/store/run-repository.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";
import { FakeDiscord } from "../support/fake-discord.ts";
import { FakeQuickChart } from "../support/fake-quickchart.ts";
import { lenientRunConfig } from "../support/run-config.ts";
import { storeTrendBars } from "../support/store-bars.ts";

const OWNER = "223456789012345678";

describe("research run delivered to Discord", () => {
  let db: Db;
  const schema = testSchema("botloop");
  const sandbox = new Sandbox();
  const discord = new FakeDiscord();
  const charts = new FakeQuickChart();

  beforeAll(async () => {
    db = await backends[0].open(schema);
    await Promise.all([discord.start(), charts.start()]);
    await storeTrendBars(db, "BOTUSD");
  });
  afterAll(async () => {
    sandbox.dispose();
    await Promise.all([discord.close(), charts.close()]);
    await dropSchema(db, schema);
  });

  it("posts every event of a real run, in order, while the consumer polls", async () => {
    const runs = new PgRunRepository(db);
    const config = lenientRunConfig(`
dataset: { symbol: BOTUSD, timeframe: 1h }
windows:
  search: { start: "2020-01-01", end: "2021-07-01" }
  holdout: { start: "2021-07-01", end: "2021-12-01" }
walk_forward: { folds: 3, warmup_bars: 200 }
budgets: { max_iterations: 3 }
loop: { driver: heuristic, seed: 3, stuck_after: 3 }
`);
    const threadId = discord.id();
    const run = await createRun(runs, {
      brief: "trend test",
      config,
      driver: "heuristic",
      owner: OWNER,
      source: "discord",
      guildId: "900000000000000001",
      channelId: discord.id(),
    });
    await runs.setThread(run.id, { threadId });

    const consumer = outboxConsumerFromEnv(
      db,
      { DISCORD_TOKEN: "fake-token", DISCORD_API_URL: discord.url, QUICKCHART_URL: charts.url },
      { chartTimeoutMs: 2_000 },
    );
    const stop = new AbortController();
    const polling = consumer.run(stop.signal, 50);
    const driver = await createDriver("heuristic", { library: await loadLibrary("strategies", sandbox) });
    const end = await buildLoop(run, { db, driver, sandbox }).run(new AbortController().signal);
    expect(end.status).toBe("completed");

    // The consumer keeps polling until the outbox for this run is empty.
    const deadline = Date.now() + 20_000;
    while ((await runs.pendingEvents(10, run.id)).length > 0 && Date.now() < deadline) {
      consumer.wake();
      await new Promise((r) => setTimeout(r, 50));
    }
    stop.abort();
    await polling;
    expect(await runs.pendingEvents(10, run.id)).toEqual([]);

    const { rows } = await db.query<{ type: string; payload: Record<string, unknown> }>(
      "SELECT type, payload FROM outbox WHERE run_id = $1 ORDER BY id",
      [run.id],
    );
    const posts = discord.messagesIn(threadId);
    // One thread post per event with default settings (a gate pass posts its mention; the DM goes elsewhere).
    expect(posts).toHaveLength(rows.length);
    const titleOf = (b: Record<string, unknown>) => (b["embeds"] as Embed[] | undefined)?.[0]?.title;
    // The thread carries every event in outbox order (a gate pass adds its mention; stuck its ping).
    const expected = rows.map((r) =>
      r.type === "iteration.completed"
        ? `#${r.payload["n"]} `
        : r.type === "run.started"
          ? "Research run"
          : r.type,
    );
    const iterationPosts = posts.filter((m) => /^#\d+ /.test(titleOf(m.body) ?? ""));
    expect(iterationPosts.map((m) => (titleOf(m.body) ?? "").split(" ")[0])).toEqual(
      expected.filter((x) => x.startsWith("#")).map((x) => x.trim()),
    );
    expect(titleOf(posts[0]?.body ?? {})).toBe(`Research run ${run.id}`);
    expect(String(posts.at(-1)?.body["content"])).toMatch(/^■ Run completed: reached max_iterations \(3\)/);
    for (const m of iterationPosts) {
      const e = (m.body["embeds"] as Embed[])[0] as Embed;
      expect(embedLength(e)).toBeLessThanOrEqual(EMBED_LIMITS.total);
      expect(e.title).toMatch(/^#\d+ \S+ · \S+ · (PASS|DISCARD|CRASH|MODEL ERROR)$/);
      expect((e.fields ?? []).filter((f) => /[✓✗]$/.test(f.value)).length).toBeGreaterThan(0);
    }
    // Every iteration with an equity curve came with its chart attached.
    const withCurve = rows.filter((r) => r.type === "iteration.completed" && r.payload["curve"]).length;
    expect(withCurve).toBeGreaterThan(0);
    expect(iterationPosts.filter((m) => m.files.some((f) => f.contentType === "image/png"))).toHaveLength(
      withCurve,
    );
    const passes = rows.filter((r) => r.type === "gate.passed").length;
    expect(discord.messagesIn(discord.dmChannelOf(OWNER))).toHaveLength(passes);
  }, 60_000);
});
