/** `/health` (Postgres and the queue's Redis answer) and `/metrics` (Prometheus) on node:http. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Db } from "../store/db.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { ResearchTransport } from "./transport.ts";

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

async function check(name: string, probe: () => Promise<unknown>): Promise<[string, string]> {
  try {
    await probe();
    return [name, "ok"];
  } catch (err) {
    return [name, (err as Error).message || "error"];
  }
}

export async function startHealthServer(
  port: number,
  deps: { db: Db; transport: ResearchTransport; metrics: WorkerMetrics },
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === "/health") {
        const checks = Object.fromEntries(
          await Promise.all([
            check("postgres", () => deps.db.query("SELECT 1")),
            check(deps.transport.kind === "bullmq" ? "redis" : "queue", () => deps.transport.ping()),
          ]),
        );
        const ok = Object.values(checks).every((v) => v === "ok");
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok, ...checks }));
      } else if (req.url === "/metrics") {
        res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
        res.end(await deps.metrics.registry.metrics());
      } else {
        res.writeHead(404).end();
      }
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "0.0.0.0", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
