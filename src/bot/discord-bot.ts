/**
 * The Discord front end: a discord.js Client on the gateway (interactions → src/commands, thread
 * messages → nudges) and the outbox consumer that posts to the threads. No research runs here.
 *
 * DISCORD_API_URL replaces the REST base, and discord.js asks that API's GET /gateway/bot for the
 * gateway URL (@discordjs/ws fetchGatewayInformation through the client's REST), so the whole bot
 * runs against a local Discord double.
 */
import {
  Client,
  Events,
  GatewayDispatchEvents,
  GatewayIntentBits,
  type GatewayMessageCreateDispatchData,
  type GatewayMessageUpdateDispatchData,
  Partials,
} from "discord.js";
import { type CommandContext, userMessage } from "../commands/context.ts";
import { routeInteraction } from "../commands/router.ts";
import { log } from "../log/logger.ts";
import type { RunRepository } from "../loop/run-repository.ts";
import type { ResearchTransport } from "../queue/transport.ts";
import { listDatasets } from "../store/bar-store.ts";
import type { Db } from "../store/db.ts";
import type { AccessPolicy } from "./access.ts";
import { PgBotStore } from "./bot-store.ts";
import type { DiscordRest } from "./discord-rest.ts";
import { ThreadNudges } from "./nudge-intake.ts";
import type { OutboxConsumer } from "./outbox-consumer.ts";

export interface DiscordBotOptions {
  readonly db: Db;
  readonly runs: RunRepository;
  readonly token: string;
  /** REST base without the version (DISCORD_API_URL); the gateway URL comes from its /gateway/bot. */
  readonly api?: string | undefined;
  readonly transport: ResearchTransport;
  readonly access: AccessPolicy;
  /** The privileged MessageContent intent: off = only messages that mention the bot carry text. */
  readonly messageContent: boolean;
  readonly discord: DiscordRest;
  readonly consumer: OutboxConsumer;
  readonly runConfig: CommandContext["runConfig"];
  readonly resolveDriver: CommandContext["resolveDriver"];
  /** Outbox poll interval, ms (default 1000). */
  readonly pollMs?: number;
}

export interface RunningBot {
  readonly client: Client;
  /** Resolves when the thread-message handler has finished with every message seen so far. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function botIntents(messageContent: boolean): GatewayIntentBits[] {
  return [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    ...(messageContent ? [GatewayIntentBits.MessageContent] : []),
  ];
}

export async function startDiscordBot(o: DiscordBotOptions): Promise<RunningBot> {
  const store = new PgBotStore(o.db, o.runs);
  const client = new Client({
    intents: botIntents(o.messageContent),
    // Threads and channels the cache has not seen still resolve from the interaction payload.
    partials: [Partials.Channel],
    rest: o.api ? { api: o.api.replace(/\/+$/, "") } : {},
  });
  const ctx: CommandContext = {
    runs: o.runs,
    store,
    transport: o.transport,
    access: o.access,
    discord: o.discord,
    runConfig: o.runConfig,
    resolveDriver: o.resolveDriver,
    datasets: () => listDatasets(o.db),
  };
  const nudges = new ThreadNudges({
    runs: o.runs,
    store,
    access: o.access,
    discord: o.discord,
    botId: () => client.user?.id,
  });
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  client.on(Events.InteractionCreate, (i) => track(routeInteraction(i, ctx)));
  // Raw MESSAGE_CREATE: a thread the cache has never seen (created by the outbox, a restart ago)
  // must still deliver its replies, so nothing here depends on discord.js's channel cache.
  // One chain per channel: a thread's messages are taken in the order they were written.
  const chains = new Map<string, Promise<unknown>>();
  const inOrder = (channelId: string, messageId: string, take: () => Promise<unknown>) => {
    const next = (chains.get(channelId) ?? Promise.resolve()).then(() =>
      take().catch((err: unknown) => {
        log().warn({ err: userMessage(err), message: messageId }, "thread message not taken as a nudge");
      }),
    );
    chains.set(channelId, next);
    void next.finally(() => {
      if (chains.get(channelId) === next) chains.delete(channelId);
    });
    track(next);
  };
  client.ws.on(GatewayDispatchEvents.MessageCreate, (data: GatewayMessageCreateDispatchData) =>
    inOrder(data.channel_id, data.id, () => nudges.onMessage(data)),
  );
  client.ws.on(GatewayDispatchEvents.MessageUpdate, (data: GatewayMessageUpdateDispatchData) =>
    inOrder(data.channel_id, data.id, () => nudges.onEdit(data)),
  );
  client.on(Events.Error, (err) => log().warn({ err: err.message }, "discord client error"));
  const disallowed =
    "Discord refused the MessageContent intent (4014): enable it for the bot in the developer portal (Bot → Privileged Gateway Intents), or set ALPHALOOP_DISCORD_MESSAGE_CONTENT=off and nudge by @mention, /research nudge or the Nudge button";
  let lost: (err: Error) => void = () => undefined;
  const disconnected = new Promise<never>((_, reject) => {
    lost = reject;
  });
  disconnected.catch(() => undefined);
  client.on(Events.ShardDisconnect, (ev) => {
    // Unrecoverable close codes only: discord.js reconnects by itself after anything else.
    const why =
      ev.code === 4014 ? disallowed : `Discord closed the gateway connection for good (code ${ev.code})`;
    log().error({ code: ev.code }, why);
    lost(new Error(why));
  });

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  try {
    await Promise.race([client.login(o.token).then(() => ready), disconnected]);
  } catch (err) {
    await client.destroy();
    throw err;
  }
  log().info({ user: client.user?.tag, messageContent: o.messageContent }, "discord gateway ready");

  const stop = new AbortController();
  const polling = o.consumer.run(stop.signal, o.pollMs ?? 1_000);
  return {
    client,
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      stop.abort();
      await polling;
      await client.destroy();
      await Promise.allSettled([...pending]);
    },
  };
}
