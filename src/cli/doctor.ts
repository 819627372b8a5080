import { join, relative, resolve } from "node:path";
import { Redis } from "ioredis";
import { type AccessPolicy, parseAccessPolicy } from "../bot/access.ts";
import { parseMessageContent } from "../bot/message-content.ts";
import { endpointFromEnv } from "../llm/client.ts";
import { type CheckResult, type CheckStatus, checkLlm, describeLlmFailure } from "../llm/doctor-llm.ts";
import { maskSecrets, secretValues } from "../log/secrets.ts";
import { type Db, openDb } from "../store/db.ts";

/**
 * The checks behind `alphaloop doctor`: each configured part (store, Redis, model endpoint, Discord
 * token, QuickChart) is tried for real, under its own timeout, in parallel, and reported in one line.
 * With a Discord token, the bot's own settings are read as `alphaloop bot` reads them ("bot setup").
 * A part that is not configured is skipped, not failed. Secret values are masked in every line.
 */

export type { CheckResult, CheckStatus } from "../llm/doctor-llm.ts";

export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  /** Per-check limit for the services (default 10 s). */
  timeoutMs?: number;
  /** Limit for each model request: a cold model can take a while to answer (default 120 s). */
  llmTimeoutMs?: number;
  /** Postgres schema to open (tests); the default is the deployment's own. */
  dbSchema?: string;
  /** Working directory for showing the PGlite folder relative to it. */
  cwd?: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const PGLITE_MIN_TIMEOUT_MS = 90_000;
export const DEFAULT_LLM_TIMEOUT_MS = 120_000;

class CheckTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** The first `code` along an error's cause chain (fetch wraps the socket error in `cause`). */
function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && cur && typeof cur === "object"; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const nested = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested[0]) return errorCode(nested[0]);
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const CODE_TEXT: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
};

function message(err: unknown, service?: string): string {
  const code = errorCode(err);
  const known = code ? CODE_TEXT[code] : undefined;
  if (known) return code === "ECONNREFUSED" && service ? `${known} — is ${service} running?` : known;
  // fetch says only "fetch failed"; the reason is in its cause.
  let inner: unknown = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  const text = inner instanceof Error ? inner.message : String(err);
  return text === "" && code ? code : text;
}

/** host:port/database of a connection string: enough to recognise it, nothing secret. */
function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "DATABASE_URL";
  }
}

async function timed(
  name: string,
  target: string,
  ms: number,
  fn: () => Promise<Omit<CheckResult, "name" | "target" | "ms">>,
  service?: string,
): Promise<CheckResult> {
  const started = performance.now();
  let r: Omit<CheckResult, "name" | "target" | "ms">;
  try {
    r = await withTimeout(fn(), ms);
  } catch (err) {
    r = { status: "fail", detail: message(err, service) };
  }
  return { name, target, ...r, ms: Math.round(performance.now() - started) };
}

function skipped(name: string, detail: string): CheckResult {
  return { name, status: "skip", target: "", detail, ms: 0 };
}

async function checkStore(
  o: Required<Pick<DoctorOptions, "timeoutMs" | "cwd">> & DoctorOptions,
  env: NodeJS.ProcessEnv,
) {
  const url = env["DATABASE_URL"]?.trim() ?? "";
  const dataDir = join(resolve(o.cwd, env["ALPHALOOP_HOME"] ?? ".alphaloop"), "pgdata");
  const rel = relative(o.cwd, dataDir);
  const target = url ? describePgUrl(url) : rel && !rel.startsWith("..") ? rel : dataDir;
  // A first PGlite open runs initdb in WASM: tens of seconds on a busy small machine.
  const limit = url ? o.timeoutMs : Math.max(o.timeoutMs, PGLITE_MIN_TIMEOUT_MS);
  let opened: Promise<Db> | undefined;
  const result = await timed(
    "postgres",
    target,
    limit,
    async () => {
      opened = openDb({ url, dataDir, ...(o.dbSchema ? { schema: o.dbSchema } : {}) });
      const db = await opened;
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations", []);
      const schema = o.dbSchema ? ` (schema ${o.dbSchema})` : "";
      return { status: "ok", detail: `${db.kind} at ${target}${schema} (migrations ${rows[0]?.n ?? 0})` };
    },
    url ? "Postgres" : undefined,
  );
  // A connection that arrives after the timeout is closed, not leaked.
  opened?.then((db) => db.close()).catch(() => undefined);
  return result;
}

function redisTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return "REDIS_URL";
  }
}

async function checkRedis(url: string, timeoutMs: number): Promise<CheckResult> {
  const target = redisTarget(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis reports the socket error as an event and rejects connect() with a generic message.
  let socketError: unknown;
  redis.on("error", (err) => {
    socketError ??= err;
  });
  try {
    return await timed(
      "redis",
      target,
      timeoutMs,
      async () => {
        await redis.connect().catch((err) => {
          throw socketError ?? err;
        });
        const pong = await redis.ping();
        const info = await redis.info("server");
        const version = /redis_version:(\S+)/.exec(info)?.[1];
        return {
          status: pong === "PONG" ? "ok" : "fail",
          detail: `redis at ${target}: ${pong}${version ? ` (version ${version})` : ""}`,
        };
      },
      "Redis",
    );
  } finally {
    redis.disconnect();
  }
}

function discordBase(env: NodeJS.ProcessEnv): string {
  return (env["DISCORD_API_URL"]?.trim() || "https://discord.com/api").replace(/\/+$/, "");
}

async function checkDiscord(env: NodeJS.ProcessEnv, token: string, timeoutMs: number): Promise<CheckResult> {
  const base = discordBase(env);
  return timed("discord", base, timeoutMs, async () => {
    const res = await fetch(`${base}/v10/users/@me`, {
      headers: { authorization: `Bot ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status === 401) {
      return {
        status: "fail",
        detail: "DISCORD_TOKEN rejected (401) — reset the bot token in the Developer Portal",
      };
    }
    if (!res.ok) return { status: "fail", detail: `GET /v10/users/@me answered HTTP ${res.status}` };
    const me = (await res.json()) as { username?: string; id?: string; bot?: boolean };
    return { status: "ok", detail: `bot ${me.username ?? "?"} (id ${me.id ?? "?"})` };
  });
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Who the policy lets in, or why it lets nobody in. */
function describeAccess(p: AccessPolicy): { status: CheckStatus; detail: string } {
  const guilds = Object.entries(p.guilds);
  if (guilds.length === 0) {
    return {
      status: "warn",
      detail:
        "ALPHALOOP_DISCORD_ACCESS lists no server: the bot refuses every command (and names the server id to add)",
    };
  }
  const nobody = guilds.filter(([, g]) => g.roles.length === 0 && g.users.length === 0).map(([id]) => id);
  if (nobody.length > 0) {
    return {
      status: "warn",
      detail: `${nobody.length === 1 ? "server" : "servers"} ${nobody.join(", ")} ${nobody.length === 1 ? "lists" : "list"} no roles or users: nobody can start runs there`,
    };
  }
  const roles = new Set(guilds.flatMap(([, g]) => g.roles)).size;
  const users = new Set(guilds.flatMap(([, g]) => g.users)).size;
  const limited = guilds.filter(([, g]) => g.channels.length > 0).length;
  return {
    status: "ok",
    detail: `${plural(guilds.length, "server")} allowed (${plural(roles, "role")}, ${plural(users, "user")}; ${limited ? `channels limited in ${limited}` : "any channel"})`,
  };
}

// Application flags: either means the gateway grants the MessageContent intent (the limited one
// is what a bot in fewer than 100 servers gets from the portal toggle).
const GATEWAY_MESSAGE_CONTENT = 1 << 18;
const GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19;

/** Whether the app may ask for MessageContent, or why that could not be read. */
async function messageContentIntent(
  env: NodeJS.ProcessEnv,
  token: string,
  timeoutMs: number,
): Promise<{ enabled: boolean } | { unknown: string }> {
  try {
    const res = await withTimeout(
      fetch(`${discordBase(env)}/v10/applications/@me`, {
        headers: { authorization: `Bot ${token}` },
        signal: AbortSignal.timeout(timeoutMs),
      }),
      timeoutMs,
    );
    if (!res.ok) return { unknown: `HTTP ${res.status}` };
    const app = (await res.json()) as { flags?: unknown };
    const flags = typeof app.flags === "number" ? app.flags : 0;
    return { enabled: (flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED)) !== 0 };
  } catch (err) {
    return { unknown: message(err) };
  }
}

/**
 * The bot's settings, read as `alphaloop bot` reads them, and the MessageContent intent it will
 * ask for: what fails here stops the bot at start.
 */
async function checkBotSetup(env: NodeJS.ProcessEnv, token: string, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const problems: string[] = [];
  let access: { status: CheckStatus; detail: string } | undefined;
  try {
    access = describeAccess(parseAccessPolicy(env["ALPHALOOP_DISCORD_ACCESS"]));
  } catch (err) {
    problems.push((err as Error).message);
  }
  let messageContent: boolean | undefined;
  try {
    messageContent = parseMessageContent(env["ALPHALOOP_DISCORD_MESSAGE_CONTENT"]);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const result = (status: CheckStatus, detail: string): CheckResult => ({
    name: "bot setup",
    status,
    // Settings, not a service: each detail names its own variable.
    target: "",
    detail,
    ms: Math.round(performance.now() - started),
  });
  if (problems.length > 0 || !access || messageContent === undefined) {
    return result("fail", problems.join("; "));
  }
  if (!messageContent) {
    return result(
      access.status,
      `${access.detail} · message content off: thread replies nudge only when they @mention the bot`,
    );
  }
  const intent = await messageContentIntent(env, token, timeoutMs);
  if ("enabled" in intent && !intent.enabled) {
    return result(
      "fail",
      "message content is on but this bot's MessageContent intent is off: Discord would close the gateway (4014). Enable it in the Developer Portal (Bot → Privileged Gateway Intents) or set ALPHALOOP_DISCORD_MESSAGE_CONTENT=off",
    );
  }
  // A token or network problem shows on the discord line; here it only leaves the intent unknown.
  const how = "enabled" in intent ? "intent enabled" : `intent not checked: ${intent.unknown}`;
  return result(access.status, `${access.detail} · message content on (${how})`);
}

async function checkQuickChart(url: string, timeoutMs: number): Promise<CheckResult> {
  const base = url.replace(/\/+$/, "");
  return timed(
    "quickchart",
    base,
    timeoutMs,
    async () => {
      const res = await fetch(`${base}/healthcheck`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.text()).trim().slice(0, 80);
      return res.ok
        ? { status: "ok", detail: `${base}: healthy${body ? ` (${body})` : ""}` }
        : { status: "fail", detail: `${base}/healthcheck answered HTTP ${res.status}` };
    },
    "QuickChart",
  );
}

async function checkModel(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CheckResult> {
  if (!env["LLM_BASE_URL"]?.trim() && !env["LLM_MODEL"]?.trim()) {
    return skipped("llm", "LLM_BASE_URL not set: runs use the non-LLM drivers");
  }
  let endpoint: ReturnType<typeof endpointFromEnv>;
  try {
    endpoint = endpointFromEnv(env);
  } catch (err) {
    return {
      name: "llm",
      status: "fail",
      target: env["LLM_BASE_URL"] ?? "",
      detail: (err as Error).message,
      ms: 0,
    };
  }
  // listModels and the round trip each get the timeout; the outer limit covers both and a margin.
  return timed("llm", endpoint.baseURL, 2 * timeoutMs + 1_000, async () => {
    try {
      const { name: _n, target: _t, ms: _m, ...r } = await checkLlm(endpoint, { timeoutMs });
      return r;
    } catch (err) {
      return { status: "fail", detail: describeLlmFailure(err) };
    }
  });
}

/** Every check, in a fixed order. */
export async function runDoctor(options: DoctorOptions = {}): Promise<CheckResult[]> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const o = { ...options, timeoutMs, cwd: options.cwd ?? process.cwd() };
  const redisUrl = env["REDIS_URL"]?.trim();
  const discordToken = env["DISCORD_TOKEN"]?.trim();
  const quickchart = env["QUICKCHART_URL"]?.trim();
  const checks = await Promise.all([
    checkStore(o, env),
    redisUrl ? checkRedis(redisUrl, timeoutMs) : skipped("redis", "REDIS_URL not set: in-process queue"),
    checkModel(env, options.llmTimeoutMs ?? DEFAULT_LLM_TIMEOUT_MS),
    discordToken
      ? checkDiscord(env, discordToken, timeoutMs)
      : skipped("discord", "DISCORD_TOKEN not set: no bot"),
    // No token, no bot: its settings then matter to nothing, so there is no line for them.
    ...(discordToken ? [checkBotSetup(env, discordToken, timeoutMs)] : []),
    quickchart
      ? checkQuickChart(quickchart, timeoutMs)
      : skipped("quickchart", "QUICKCHART_URL not set: no charts"),
  ]);
  const secrets = [...secretValues(env)];
  const key = env["LLM_API_KEY"]?.trim();
  if (key && key.length >= 4) secrets.push(key);
  const token = discordToken;
  if (token && token.length >= 4) secrets.push(token);
  const mask = (s: string) => maskSecrets(s, secrets);
  return checks.map((c) => ({
    ...c,
    target: mask(c.target),
    detail: mask(c.detail),
    ...(c.advice ? { advice: mask(c.advice) } : {}),
  }));
}

const MARK: Record<CheckStatus, string> = { ok: "✓", warn: "!", fail: "✗", skip: "-" };

export function formatChecks(checks: readonly CheckResult[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks
    .map((c) => {
      const where = c.status === "fail" && c.target && !c.detail.includes(c.target) ? `${c.target}: ` : "";
      return `${MARK[c.status]} ${c.name.padEnd(width)}  ${where}${c.detail}`;
    })
    .join("\n");
}

export function failedChecks(checks: readonly CheckResult[]): CheckResult[] {
  return checks.filter((c) => c.status === "fail");
}
