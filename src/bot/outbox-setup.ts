/**
 * Builds the outbox consumer from the environment:
 *   DISCORD_TOKEN          bot token (required)
 *   DISCORD_API_URL        REST base instead of https://discord.com/api (rate-limit proxy, test double)
 *   QUICKCHART_URL         QuickChart server for the equity chart; unset = posts without a chart
 *   NOTIFY_WEBHOOK_URL     push on a gate pass (ntfy topic or any JSON webhook); unset = none
 *   NOTIFY_WEBHOOK_FORMAT  ntfy | json, when the URL guess is wrong
 *   ALPHALOOP_NOTIFY       per-guild notification settings as JSON (see notify-settings.ts)
 */
import { equityChartConfig, renderChartPng } from "../charts/equity-chart.ts";
import type { Db } from "../store/db.ts";
import { PgRunRepository } from "../store/run-repository.ts";
import { PgDeliveryStore } from "./delivery-store.ts";
import { DiscordRest } from "./discord-rest.ts";
import { parseNotifySettings } from "./notify-settings.ts";
import { OutboxConsumer, type OutboxConsumerDeps } from "./outbox-consumer.ts";
import { sendWebhook, type WebhookFormat } from "./webhook.ts";

export interface OutboxSetupOptions {
  readonly chartTimeoutMs?: number;
  readonly overrides?: Partial<OutboxConsumerDeps>;
}

export function outboxConsumerFromEnv(
  db: Db,
  env: NodeJS.ProcessEnv = process.env,
  o: OutboxSetupOptions = {},
): OutboxConsumer {
  const token = env["DISCORD_TOKEN"]?.trim();
  if (!token) throw new Error("DISCORD_TOKEN is not set: the bot cannot post");
  const api = env["DISCORD_API_URL"]?.trim();
  const quickchart = env["QUICKCHART_URL"]?.trim();
  const hook = env["NOTIFY_WEBHOOK_URL"]?.trim();
  const format = env["NOTIFY_WEBHOOK_FORMAT"]?.trim();
  if (format && format !== "ntfy" && format !== "json") {
    throw new Error(`NOTIFY_WEBHOOK_FORMAT must be ntfy or json, not ${JSON.stringify(format)}`);
  }
  const chartTimeoutMs = o.chartTimeoutMs ?? 10_000;
  return new OutboxConsumer({
    runs: new PgRunRepository(db),
    deliveries: new PgDeliveryStore(db),
    discord: new DiscordRest({ token, ...(api ? { api } : {}) }),
    settings: parseNotifySettings(env["ALPHALOOP_NOTIFY"]),
    ...(quickchart
      ? {
          chart: (curve, title) =>
            renderChartPng(equityChartConfig(curve, title), { url: quickchart, timeoutMs: chartTimeoutMs }),
        }
      : {}),
    ...(hook
      ? {
          push: (notice) =>
            sendWebhook(notice, { url: hook, ...(format ? { format: format as WebhookFormat } : {}) }),
        }
      : {}),
    ...o.overrides,
  });
}
