/**
 * Delivers outbox events to Discord. In order per run: a run's next event waits until the one
 * before it is delivered, while other runs carry on. Idempotent: each send is a step recorded
 * with its Discord message id (discord_deliveries), so a restart resumes at the first missing step;
 * posts carry an enforce_nonce derived from (event, step), so even "posted, then killed before
 * the id was stored" does not post twice. A failed send leaves the event pending and retries the
 * run later with backoff — nothing is skipped, nothing is lost across restarts or outages.
 *
 * Production note: run one consumer per database. Two would not double-post (nonce + step keys)
 * but could interleave a run's posts.
 */
import { createHash } from "node:crypto";
import type { EquityCurve } from "../charts/equity-chart.ts";
import { eventId } from "../domain/run.ts";
import { log } from "../log/logger.ts";
import type { OutboxRow, RunRecord, RunRepository } from "../loop/run-repository.ts";
import type { DeliveryStore, StepRecord } from "./delivery-store.ts";
import {
  DiscordCodes,
  type DiscordRest,
  discordErrorCode,
  discordStatus,
  type PostedMessage,
} from "./discord-rest.ts";
import { type NotifySettings, notifyMode } from "./notify-settings.ts";
import { isSnowflake } from "./render/format.ts";
import { iterationMessage, iterationTitle } from "./render/iteration-embed.ts";
import { fitContent } from "./render/limits.ts";
import { NO_MENTIONS, type OutgoingMessage } from "./render/message.ts";
import {
  gatePassDm,
  gatePassMention,
  gatePassPush,
  holdoutMessage,
  nudgeAppliedMessage,
  statusMessage,
  stuckPing,
} from "./render/notifications.ts";
import {
  gatePassedPayload,
  holdoutPayload,
  iterationPayload,
  payloadNumber,
  payloadString,
} from "./render/payloads.ts";
import { runCardMessage } from "./render/run-card.ts";
import { runControls } from "./render/run-controls.ts";
import type { PushNotice } from "./webhook.ts";

export type DiscordSender = Pick<
  DiscordRest,
  "postMessage" | "createDm" | "threadFromMessage" | "joinThread" | "react" | "editComponents"
>;
export type ChartRenderer = (curve: EquityCurve, title: string) => Promise<Uint8Array>;
export type PushSender = (notice: PushNotice) => Promise<unknown>;

export interface OutboxConsumerDeps {
  readonly runs: Pick<RunRepository, "pendingEvents" | "markDelivered" | "getRun" | "setThread">;
  readonly deliveries: DeliveryStore;
  readonly discord: DiscordSender;
  readonly settings: NotifySettings;
  /** Absent when QUICKCHART_URL is not set: iteration posts go out without a chart. */
  readonly chart?: ChartRenderer;
  /** Absent when NOTIFY_WEBHOOK_URL is not set. */
  readonly push?: PushSender;
  readonly now?: () => number;
  /** Events read per run per pass (default 50). */
  readonly batch?: number;
  /** Runs served per pass (default 100); runs beyond wait for the next pass. */
  readonly maxRuns?: number;
  /** Backoff after a failed delivery, doubling per consecutive failure of the run. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

export interface PassResult {
  readonly delivered: number;
  /** Runs whose next event failed this pass and waits for a retry. */
  readonly failedRuns: string[];
}

/** The nonce Discord dedupes on: stable per (event, step), at most 25 characters. */
export function deliveryNonce(eventId: string, step: string): string {
  return createHash("sha256").update(`${eventId}\u0000${step}`).digest("base64url").slice(0, 25);
}

function describe(err: unknown): string {
  const status = discordStatus(err);
  const code = discordErrorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return [status ? `HTTP ${status}` : "", code ? `code ${code}` : "", msg].filter(Boolean).join(" ");
}

/** A request Discord will refuse however often it is sent (400 Invalid Form Body and the like). */
function isMalformed(err: unknown): boolean {
  const s = discordStatus(err);
  return s === 400 || s === 413;
}

/** Thread names are at most 100 characters; the run id first so it survives the cut. */
export function threadName(run: Pick<RunRecord, "id" | "brief">): string {
  const brief = run.brief.replace(/\s+/g, " ").trim();
  return `${run.id} · ${brief || "research run"}`.slice(0, 100);
}

function runState(run: RunRecord): "running" | "paused" | "finished" {
  if (run.status === "paused") return "paused";
  return run.status === "created" || run.status === "running" ? "running" : "finished";
}

export class OutboxConsumer {
  private readonly now: () => number;
  private readonly retry = new Map<string, { failures: number; at: number }>();
  private wakeUp: (() => void) | undefined;

  constructor(private readonly d: OutboxConsumerDeps) {
    this.now = d.now ?? Date.now;
  }

  /**
   * One pass over pending events: each run with undelivered events (and not waiting out a
   * backoff) gets its next events read and delivered in order. Reading per run means one run
   * stuck behind a long outage cannot starve the others out of a global batch.
   */
  async deliverPending(): Promise<PassResult> {
    const now = this.now();
    const runIds = (await this.d.deliveries.runsWithPending(this.d.maxRuns ?? 100)).filter(
      (id) => (this.retry.get(id)?.at ?? 0) <= now,
    );
    let delivered = 0;
    const failedRuns: string[] = [];
    await Promise.all(
      runIds.map(async (runId) => {
        const events = await this.d.runs.pendingEvents(this.d.batch ?? 50, runId);
        for (const ev of events) {
          try {
            await this.deliverEvent(ev);
            delivered++;
            this.retry.delete(runId);
          } catch (err) {
            const failures = (this.retry.get(runId)?.failures ?? 0) + 1;
            const base = this.d.retryBaseMs ?? 2_000;
            const delay = Math.min(this.d.retryMaxMs ?? 120_000, base * 2 ** (failures - 1));
            this.retry.set(runId, { failures, at: this.now() + delay });
            failedRuns.push(runId);
            log().warn(
              { run: runId, event: ev.eventId, err: describe(err), retryInMs: delay },
              "discord delivery failed",
            );
            // Later events of this run wait: order within a run is part of the contract.
            return;
          }
        }
      }),
    );
    return { delivered, failedRuns };
  }

  /** Polls until `signal` aborts; `wake()` starts the next pass early (e.g. on NOTIFY). */
  async run(signal: AbortSignal, intervalMs = 1_000): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.deliverPending();
      } catch (err) {
        // The store itself failed (Postgres restarting): keep polling, nothing was marked.
        log().warn({ err: describe(err) }, "outbox pass failed");
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, intervalMs);
        const onAbort = () => done();
        signal.addEventListener("abort", onAbort, { once: true });
        this.wakeUp = done;
        function done() {
          clearTimeout(t);
          signal.removeEventListener("abort", onAbort);
          resolve();
        }
      });
      this.wakeUp = undefined;
    }
  }

  wake(): void {
    this.wakeUp?.();
  }

  private async deliverEvent(ev: OutboxRow): Promise<void> {
    const run = await this.d.runs.getRun(ev.runId);
    if (!run) {
      await this.d.runs.markDelivered(ev.eventId, { skipped: "run no longer exists" });
      return;
    }
    const done = await this.d.deliveries.steps(ev.eventId);
    const results: Record<string, StepRecord> = Object.fromEntries(done);
    const step = async (name: string, send: () => Promise<Omit<StepRecord, "step">>) => {
      if (done.has(name)) return;
      const r = { step: name, ...(await send()) };
      await this.d.deliveries.recordStep(ev.eventId, ev.runId, r);
      results[name] = r;
    };

    const cardDone = done.get("card");
    if (
      ev.type === "run.started" &&
      run.channelId &&
      (!run.threadId || (cardDone !== undefined && cardDone.channelId === run.channelId))
    ) {
      await this.openThread(ev, run, run.channelId, step, results);
      await this.d.runs.markDelivered(ev.eventId, { steps: results });
      return;
    }
    let channel = run.threadId ?? undefined;
    channel ??= run.channelId ?? undefined;
    if (!channel) {
      // A terminal run: nothing in Discord to post to.
      await this.d.runs.markDelivered(ev.eventId, { skipped: "run has no Discord channel" });
      return;
    }
    const target = channel;
    const post = (name: string, msg: OutgoingMessage, fallback?: () => OutgoingMessage) =>
      step(name, () => this.post(ev.eventId, name, target, msg, fallback));

    const p = ev.payload;
    const mode = (e: Parameters<typeof notifyMode>[2]) => notifyMode(this.d.settings, run.guildId, e);
    switch (ev.type) {
      case "run.started":
        await post("card", runCardMessage(run));
        break;
      case "iteration.completed": {
        const it = iterationPayload(p);
        await step("post", async () => {
          let chart: Uint8Array | undefined;
          let chartNote = it.curve ? "none" : "no curve";
          if (it.curve && this.d.chart) {
            try {
              chart = await this.d.chart(it.curve, iterationTitle(it));
              chartNote = "attached";
            } catch (err) {
              // A missing picture never costs the post.
              chartNote = `failed: ${(err as Error).message}`;
              log().warn(
                { run: run.id, event: ev.eventId, err: chartNote },
                "chart render failed; posting without it",
              );
            }
          } else if (it.curve) chartNote = "QUICKCHART_URL not set";
          const msg = iterationMessage(it, run.id, runState(run), chart);
          const posted = await this.post(ev.eventId, "post", target, msg, () => ({
            content: fitContent(`${iterationTitle(it)}\n${it.reasons.join("\n")}`),
            allowed_mentions: NO_MENTIONS,
          }));
          return { ...posted, detail: { ...posted.detail, chart: chartNote } };
        });
        break;
      }
      case "gate.passed": {
        const gp = gatePassedPayload(p);
        const m = mode("gate.passed");
        const mention = gatePassMention(run, gp, m);
        if (mention) await post("mention", mention);
        if (m === "on" && isSnowflake(run.owner)) {
          const owner = run.owner;
          await step("dm", () => this.dm(ev.eventId, run.id, owner, gatePassDm(run, gp)));
          if (results["dm"]?.detail["closed"] === true) {
            // Say so where the owner will look, without a second ping.
            await post("dm-closed", {
              content: fitContent(
                `Could not DM <@${owner}> (DMs closed for this server): the code and YAML are in \`alphaloop runs show ${run.id} --json\`.`,
              ),
              allowed_mentions: NO_MENTIONS,
            });
          }
        }
        const push = this.d.push;
        if (m === "on" && push) {
          await step("webhook", async () => {
            try {
              await push({ ...gatePassPush(run, gp), priority: 5, tags: ["chart_with_upwards_trend"] });
              return { channelId: null, messageId: null, detail: { ok: true } };
            } catch (err) {
              // Push is a courtesy beyond Discord; a dead push server must not hold the thread back.
              await this.d.deliveries.noteRun(run.id, "webhook_failed", describe(err));
              return { channelId: null, messageId: null, detail: { ok: false, error: describe(err) } };
            }
          });
        }
        break;
      }
      case "holdout.evaluated":
        await post("post", holdoutMessage(run, holdoutPayload(p), mode("holdout.evaluated")));
        break;
      case "run.stuck": {
        const ping = stuckPing(
          run,
          { n: payloadNumber(p["n"]), reason: payloadString(p["reason"]) ?? "no progress" },
          mode("run.stuck"),
        );
        if (ping) await post("mention", ping);
        break;
      }
      case "nudge.applied": {
        await post(
          "post",
          nudgeAppliedMessage({
            n: payloadNumber(p["n"]),
            author: payloadString(p["author"]) ?? "?",
            text: payloadString(p["text"]) ?? "",
          }),
        );
        // A nudge typed as a thread reply also gets a ✅ on the reply itself.
        const origin = await this.d.deliveries.nudgeOrigin(payloadNumber(p["nudgeId"], -1));
        if (origin?.source === "discord-thread" && isSnowflake(origin.externalId)) {
          const message = origin.externalId;
          await step("react", async () => {
            try {
              await this.d.discord.react(target, message, "✅");
              return { channelId: target, messageId: message, detail: {} };
            } catch (err) {
              // The reply was deleted or is out of reach: the thread post above already says it.
              if (discordStatus(err) === 404 || discordStatus(err) === 403) {
                return { channelId: target, messageId: message, detail: { failed: describe(err) } };
              }
              throw err;
            }
          });
        }
        break;
      }
      case "run.paused":
      case "run.resumed":
      case "run.finished": {
        let msg = statusMessage(ev.type, p);
        if (ev.type === "run.finished" && mode("run.finished") === "on" && isSnowflake(run.owner)) {
          msg = {
            ...msg,
            content: fitContent(`<@${run.owner}> ${msg.content ?? ""}`),
            allowed_mentions: { parse: [], users: [run.owner] },
          };
        }
        await post("post", msg);
        // The card's buttons follow the run: Resume while paused, none once it is over.
        const state =
          ev.type === "run.paused" ? "paused" : ev.type === "run.resumed" ? "running" : "finished";
        const card = (await this.d.deliveries.steps(eventId(run.id, "run.started"))).get("card");
        if (card?.channelId && card.messageId) {
          const { channelId, messageId } = card;
          await step("controls", async () => {
            try {
              await this.d.discord.editComponents(channelId, messageId, runControls(run.id, state));
              return { channelId, messageId, detail: { state } };
            } catch (err) {
              // The card was deleted or is out of reach: the status post above already says it.
              if (discordStatus(err) === 404 || discordStatus(err) === 403) {
                return { channelId, messageId, detail: { state, failed: describe(err) } };
              }
              throw err;
            }
          });
        }
        break;
      }
      default:
        // An event type this bot does not know yet (a newer loop): leave it for a newer bot.
        throw new Error(`no renderer for event type ${String(ev.type)}`);
    }
    await this.d.runs.markDelivered(ev.eventId, { steps: results });
  }

  /**
   * The run card goes into the run's channel and the thread is started from it, so the channel
   * shows one card per run and the thread hangs off it. Each send is a step: a restart resumes at
   * the first missing one, and a thread already started from the card (created, then killed before
   * the step was stored) is found again — Discord gives such a thread the card's id.
   */
  private async openThread(
    ev: OutboxRow,
    run: RunRecord,
    parent: string,
    step: (name: string, send: () => Promise<Omit<StepRecord, "step">>) => Promise<void>,
    results: Record<string, StepRecord>,
  ): Promise<void> {
    await step("card", () => this.post(ev.eventId, "card", parent, runCardMessage(run)));
    const card = results["card"]?.messageId;
    if (!card) throw new Error(`run ${run.id}: the run card has no message id`);
    await step("thread", async () => {
      const id = await this.d.discord.threadFromMessage(parent, card, threadName(run));
      await this.d.runs.setThread(run.id, { threadId: id });
      return { channelId: id, messageId: card, detail: {} };
    });
    const thread = results["thread"]?.channelId;
    if (!thread) throw new Error(`run ${run.id}: the thread step has no channel id`);
    await step("join", async () => {
      await this.d.discord.joinThread(thread);
      return { channelId: thread, messageId: null, detail: {} };
    });
  }

  private async post(
    eventId: string,
    step: string,
    channelId: string,
    msg: OutgoingMessage,
    fallback?: () => OutgoingMessage,
  ): Promise<{ channelId: string; messageId: string; detail: Record<string, unknown> }> {
    const nonce = deliveryNonce(eventId, step);
    let posted: PostedMessage;
    try {
      posted = await this.d.discord.postMessage(channelId, msg, { nonce });
    } catch (err) {
      if (!isMalformed(err)) throw err;
      // Discord refuses this message as built; a plain-text version still tells the thread.
      const plain = fallback?.() ?? {
        content: fitContent(msg.content ?? msg.embeds?.[0]?.title ?? "(unrenderable post)"),
        allowed_mentions: NO_MENTIONS,
      };
      log().error({ eventId, step, err: describe(err) }, "discord refused a post; sending plain text");
      posted = await this.d.discord.postMessage(channelId, plain, {
        nonce: deliveryNonce(eventId, `${step}:plain`),
      });
      return { channelId: posted.channelId, messageId: posted.id, detail: { degraded: describe(err) } };
    }
    return { channelId: posted.channelId, messageId: posted.id, detail: {} };
  }

  private async dm(
    eventId: string,
    runId: string,
    owner: string,
    msg: OutgoingMessage,
  ): Promise<Omit<StepRecord, "step">> {
    try {
      const channel = await this.d.discord.createDm(owner);
      const posted = await this.d.discord.postMessage(channel, msg, { nonce: deliveryNonce(eventId, "dm") });
      return { channelId: posted.channelId, messageId: posted.id, detail: {} };
    } catch (err) {
      const code = discordErrorCode(err);
      if (code === DiscordCodes.cannotMessageUser) {
        await this.d.deliveries.noteRun(
          runId,
          "owner_dms_closed",
          `Discord refused a DM to ${owner} (50007: DMs closed or no shared server)`,
        );
        return {
          channelId: null,
          messageId: null,
          detail: { closed: true, skipped: "owner DMs closed (50007)" },
        };
      }
      if (isMalformed(err)) {
        await this.d.deliveries.noteRun(runId, "owner_dm_failed", describe(err));
        return { channelId: null, messageId: null, detail: { failed: describe(err) } };
      }
      throw err;
    }
  }
}
