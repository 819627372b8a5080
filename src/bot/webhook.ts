/**
 * Push outside Discord (NOTIFY_WEBHOOK_URL). An ntfy topic URL (host named ntfy*, or a single path
 * segment that looks like a topic) gets ntfy's plain-text POST with Title/Priority/Tags headers;
 * anything else gets a generic JSON POST `{title, message, priority, url}`.
 * NOTIFY_WEBHOOK_FORMAT=ntfy|json overrides the guess.
 * Reference: https://docs.ntfy.sh/publish/
 */

export type WebhookFormat = "ntfy" | "json";

export interface PushNotice {
  readonly title: string;
  readonly message: string;
  /** 1 (min) … 5 (max), ntfy's scale. */
  readonly priority?: number;
  readonly tags?: readonly string[];
  readonly url?: string;
}

export interface WebhookOptions {
  readonly url: string;
  readonly format?: WebhookFormat;
  readonly timeoutMs?: number;
}

export function looksLikeNtfy(raw: string): boolean {
  const u = new URL(raw);
  if (/(^|\.)ntfy\./i.test(u.hostname) || /^ntfy/i.test(u.hostname)) return true;
  const segments = u.pathname.split("/").filter(Boolean);
  return (
    segments.length === 1 &&
    /^[A-Za-z0-9_-]{1,64}$/.test(segments[0] as string) &&
    !/hook/i.test(segments[0] as string)
  );
}

/** HTTP header values are Latin-1; ntfy decodes RFC 2047 encoded words for anything else. */
export function headerValue(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(flat)) return flat;
  return `=?UTF-8?B?${Buffer.from(flat, "utf8").toString("base64")}?=`;
}

export class WebhookError extends Error {
  override readonly name = "WebhookError";
}

export async function sendWebhook(
  notice: PushNotice,
  o: WebhookOptions,
): Promise<{ status: number; format: WebhookFormat }> {
  const format = o.format ?? (looksLikeNtfy(o.url) ? "ntfy" : "json");
  const priority = Math.min(5, Math.max(1, Math.round(notice.priority ?? 4)));
  const init: RequestInit =
    format === "ntfy"
      ? {
          method: "POST",
          headers: {
            "content-type": "text/plain; charset=utf-8",
            Title: headerValue(notice.title),
            Priority: String(priority),
            ...(notice.tags?.length ? { Tags: headerValue(notice.tags.join(",")) } : {}),
            ...(notice.url ? { Click: notice.url } : {}),
          },
          body: notice.message,
        }
      : {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            title: notice.title,
            message: notice.message,
            priority,
            ...(notice.tags?.length ? { tags: notice.tags } : {}),
            ...(notice.url ? { url: notice.url } : {}),
          }),
        };
  let res: Response;
  try {
    res = await fetch(o.url, { ...init, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
  } catch (err) {
    throw new WebhookError(`webhook POST failed: ${(err as Error).message}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new WebhookError(`webhook answered HTTP ${res.status}`);
  return { status: res.status, format };
}
