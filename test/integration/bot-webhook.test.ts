/** The push webhook over real HTTP: ntfy-style plain text with headers, or generic JSON. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebhook, WebhookError } from "../../src/bot/webhook.ts";

describe("push webhook", () => {
  const hits: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      hits.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = req.url?.includes("broken") ? 502 : 200;
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const notice = {
    title: "alphaloop: #2 passed",
    message: "Run r1. sharpe 1.40",
    priority: 5,
    tags: ["tada"],
    url: "https://discord.com/channels/1/2",
  };

  it("sends ntfy's plain-text POST with Title, Priority, Tags and Click headers to a topic URL", async () => {
    const r = await sendWebhook(notice, { url: `${base}/alphaloop-alerts` });
    expect(r).toEqual({ status: 200, format: "ntfy" });
    const hit = hits.at(-1);
    expect(hit?.path).toBe("/alphaloop-alerts");
    expect(hit?.body).toBe("Run r1. sharpe 1.40");
    expect(hit?.headers["title"]).toBe("alphaloop: #2 passed");
    expect(hit?.headers["priority"]).toBe("5");
    expect(hit?.headers["tags"]).toBe("tada");
    expect(hit?.headers["click"]).toBe("https://discord.com/channels/1/2");
  });

  it("sends generic JSON to any other webhook", async () => {
    const r = await sendWebhook(notice, { url: `${base}/hooks/alphaloop/xyz` });
    expect(r.format).toBe("json");
    const hit = hits.at(-1);
    expect(hit?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(hit?.body ?? "")).toEqual({
      title: "alphaloop: #2 passed",
      message: "Run r1. sharpe 1.40",
      priority: 5,
      tags: ["tada"],
      url: "https://discord.com/channels/1/2",
    });
  });

  it("fails with the status on an error answer and on an unreachable server", async () => {
    await expect(sendWebhook(notice, { url: `${base}/hooks/broken`, format: "json" })).rejects.toThrow(
      new WebhookError("webhook answered HTTP 502"),
    );
    await expect(sendWebhook(notice, { url: "http://127.0.0.1:9/x", timeoutMs: 500 })).rejects.toBeInstanceOf(
      WebhookError,
    );
  });
});
