/**
 * A fake QuickChart server on loopback: POST /chart records the request (the chart config parsed
 * from its JSON string) and answers a real 1×1 PNG; `failNext` makes it answer an error, `hangNext`
 * makes it never answer.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

export interface ChartRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** `body.chart` parsed, or undefined if it was not JSON. */
  readonly chart: Record<string, unknown> | undefined;
}

export class FakeQuickChart {
  readonly requests: ChartRequest[] = [];
  private fail = 0;
  private hang = 0;
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const path = req.url ?? "/";
      if (req.method === "GET" && path === "/healthcheck") {
        res.end("ok");
        return;
      }
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {}
      let chart: Record<string, unknown> | undefined;
      try {
        chart =
          typeof body["chart"] === "string"
            ? (JSON.parse(body["chart"]) as Record<string, unknown>)
            : undefined;
      } catch {}
      this.requests.push({ path, body, chart });
      if (this.hang > 0) {
        this.hang--;
        this.hanging.add(res);
        return;
      }
      if (this.fail > 0) {
        this.fail--;
        res.writeHead(500, { "x-quickchart-error": "fake failure" });
        res.end("error");
        return;
      }
      if (req.method !== "POST" || !path.endsWith("/chart")) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "image/png" });
      res.end(TINY_PNG);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  failNext(n = 1): void {
    this.fail = n;
  }

  hangNext(n = 1): void {
    this.hang = n;
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
