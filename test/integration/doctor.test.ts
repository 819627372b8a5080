import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/cli-error.ts";
import { runDoctor } from "../../src/cli/doctor.ts";
import { register } from "../../src/cli/doctor-command.ts";
import { openDb } from "../../src/store/db.ts";
import { listMigrations } from "../../src/store/migrate.ts";
import { TEST_PG_URL, testSchema } from "../support/databases.ts";
import { type FakeLlm, reply, type ScriptStep, startFakeLlm } from "../support/fake-llm.ts";

const API_KEY = "sk-doctor-test-secret-0123456789";
const DISCORD_TOKEN = "MTIzNDU2Nzg5.discord-test-token.abcdefghij";

let home: string;
let llm: FakeLlm | undefined;
const servers: Server[] = [];

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "alphaloop-doctor-"));
});
afterAll(async () => {
  rmSync(home, { recursive: true, force: true });
  const db = await openDb({ url: TEST_PG_URL, schema: pgSchema });
  await db.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await db.close();
});
afterEach(async () => {
  await llm?.close();
  llm = undefined;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A port nothing listens on: bound, then released. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Discord and QuickChart stand-ins: real HTTP, answers keyed by path. */
async function httpStub(
  routes: Record<string, (auth: string | undefined) => [number, unknown]>,
): Promise<string> {
  const s = createServer((req, res) => {
    const route = routes[req.url ?? ""];
    const [status, body] = route ? route(req.headers.authorization) : [404, { message: "no route" }];
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** Real Postgres in this file's schema unless the env says otherwise (PGlite takes seconds to open). */
const pgSchema = testSchema("doctor_cmd");

async function doctor(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  store: "postgres" | "pglite" = "postgres",
) {
  const program = new Command().exitOverride();
  let out = "";
  const storeEnv = store === "postgres" ? { DATABASE_URL: TEST_PG_URL } : {};
  register(program, {
    env: { ALPHALOOP_HOME: home, ...storeEnv, ...env },
    write: (t) => (out += t),
    ...(store === "postgres" ? { dbSchema: pgSchema } : {}),
  });
  let error: unknown;
  try {
    await program.parseAsync(["doctor", "--timeout", "30000", "--llm-timeout", "5000", ...args], {
      from: "user",
    });
  } catch (err) {
    error = err;
  }
  return { out, error };
}

async function llmEnv(script: ScriptStep[], models = ["qwen3"]) {
  llm = await startFakeLlm({ script, models });
  return { LLM_BASE_URL: llm.url, LLM_MODEL: "qwen3", LLM_API_KEY: API_KEY };
}

const readme = { path: "strategies/README.md" };

describe("alphaloop doctor", () => {
  it("reports PGlite, skips what is not configured, and names native tool calls", async () => {
    const env = await llmEnv([reply.toolCalls([{ name: "read_file", arguments: readme }])]);
    const { out, error } = await doctor(env, [], "pglite");
    expect(error).toBeUndefined();
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^✓ postgres +pglite at .*pgdata \(migrations \d+\)$/);
    expect(lines[1]).toMatch(/^- redis +REDIS_URL not set/);
    expect(lines[2]).toMatch(/^✓ llm +qwen3: native tool calls \(round trip \d+\.\d s\)$/);
    expect(out).not.toContain(API_KEY);
    // The key was used (sent to the server), just never printed.
    expect(llm?.requests.every((r) => r.headers.authorization === `Bearer ${API_KEY}`)).toBe(true);
    const body = llm?.chatRequests()[0]?.body as { tools: { function: { name: string } }[] };
    expect(body.tools.map((t) => t.function.name)).toEqual(["read_file"]);
    // A first on-disk PGlite open runs initdb in WASM: slow on a loaded CI machine.
  }, 120_000);

  it.each([
    [
      "Hermes",
      '<tool_call>\n{"name": "read_file", "arguments": {"path": "strategies/README.md"}}\n</tool_call>',
      "hermes",
      "--enable-auto-tool-choice --tool-call-parser hermes",
    ],
    [
      "Qwen3-Coder XML",
      "<tool_call>\n<function=read_file>\n<parameter=path>\nstrategies/README.md\n</parameter>\n</function>\n</tool_call>",
      "xml",
      "--tool-call-parser qwen3_coder",
    ],
    [
      "a fenced JSON",
      '```json\n{"name": "read_file", "arguments": {"path": "x"}}\n```',
      "json_text",
      "--jinja",
    ],
  ])("names %s calls in content and the server flag that fixes it", async (_label, content, format, flag) => {
    const env = await llmEnv([reply.text(`<think>the user wants a call</think>\n${content}`)]);
    const { out, error } = await doctor(env, ["--json"]);
    expect(error).toBeUndefined(); // a warning: the harness copes, so the run can go on
    const report = JSON.parse(out) as {
      ok: boolean;
      checks: { name: string; status: string; format?: string; advice?: string }[];
    };
    const check = report.checks.find((c) => c.name === "llm");
    expect(check?.status).toBe("warn");
    expect(check?.format).toBe(format);
    expect(check?.advice).toContain(flag);
    expect(report.ok).toBe(true);
    expect(out).not.toContain(API_KEY);
  });

  it("fails with exit code 1 on an unreachable endpoint, a missing model, or no tool call", async () => {
    const port = await deadPort();
    const dead = await doctor({
      LLM_BASE_URL: `http://127.0.0.1:${port}/v1`,
      LLM_MODEL: "qwen3",
      LLM_API_KEY: API_KEY,
    });
    expect(dead.out).toContain(
      `✗ llm         http://127.0.0.1:${port}/v1: connection refused — is vLLM running?`,
    );
    expect(dead.error).toBeInstanceOf(CliError);
    expect((dead.error as CliError).exitCode).toBe(1);
    expect(dead.out + String(dead.error)).not.toContain(API_KEY);

    const wrongModel = await doctor(await llmEnv([], ["qwen2.5-coder:32b"]));
    expect(wrongModel.out).toMatch(
      /✗ llm .*model "qwen3" is not served here \(the server offers: qwen2\.5-coder:32b\)/,
    );
    await llm?.close();

    const noCall = await doctor(await llmEnv([reply.text("Sure! I will read the README now.")]));
    expect(noCall.out).toMatch(/✗ llm .*no tool call in the reply/);
    expect(noCall.error).toBeInstanceOf(CliError);
  });

  it("checks Redis, the Discord token and QuickChart when they are configured", async () => {
    const discord = await httpStub({
      "/api/v10/users/@me": (auth) =>
        auth === `Bot ${DISCORD_TOKEN}`
          ? [200, { id: "42", username: "alphaloop-bot", bot: true }]
          : [401, { message: "401: Unauthorized" }],
    });
    const quickchart = await httpStub({ "/healthcheck": () => [200, '{"success":true}'] });
    const ok = await doctor({
      REDIS_URL: "redis://127.0.0.1:6379",
      DISCORD_TOKEN,
      DISCORD_API_URL: `${discord}/api`,
      QUICKCHART_URL: quickchart,
    });
    expect(ok.error).toBeUndefined();
    expect(ok.out).toMatch(/✓ redis +redis at 127\.0\.0\.1:6379: PONG/);
    expect(ok.out).toMatch(/✓ discord +bot alphaloop-bot \(id 42\)/);
    expect(ok.out).toMatch(/✓ quickchart +http:\/\/127\.0\.0\.1:\d+: healthy/);
    expect(ok.out).not.toContain(DISCORD_TOKEN);

    const redisPort = await deadPort();
    const bad = await doctor({
      REDIS_URL: `redis://:hunter2-redis-password@127.0.0.1:${redisPort}`,
      DISCORD_TOKEN: `${DISCORD_TOKEN}-revoked`,
      DISCORD_API_URL: `${discord}/api`,
      QUICKCHART_URL: `http://127.0.0.1:${await deadPort()}`,
    });
    expect(bad.out).toMatch(/✗ redis +127\.0\.0\.1:\d+: connection refused — is Redis running\?/);
    expect(bad.out).toMatch(/✗ discord +.*DISCORD_TOKEN rejected \(401\)/);
    expect(bad.out).toMatch(
      /✗ quickchart +http:\/\/127\.0\.0\.1:\d+: connection refused — is QuickChart running\?/,
    );
    expect(bad.out).not.toContain("hunter2-redis-password");
    expect(bad.out).not.toContain(DISCORD_TOKEN);
    expect((bad.error as CliError).message).toMatch(/redis, discord, quickchart failed/);
  });

  it("checks the bot's setup when DISCORD_TOKEN is set: access policy and message content", async () => {
    const discord = await httpStub({
      "/api/v10/users/@me": () => [200, { id: "42", username: "alphaloop-bot", bot: true }],
      "/api/v10/applications/@me": () => [200, { id: "42", flags: 1 << 18 }],
    });
    const bot = (env: NodeJS.ProcessEnv) =>
      doctor({ DISCORD_TOKEN, DISCORD_API_URL: `${discord}/api`, ...env }, ["--json"]);
    const setupOf = (out: string) =>
      (JSON.parse(out) as { checks: { name: string; status: string; detail: string }[] }).checks.find(
        (c) => c.name === "bot setup",
      );
    const guild = "900000000000000001";

    const good = await bot({
      ALPHALOOP_DISCORD_ACCESS: JSON.stringify({
        guilds: {
          [guild]: { roles: ["700000000000000001"], users: ["600000000000000001", "600000000000000002"] },
          "900000000000000002": { roles: ["700000000000000002"], channels: ["800000000000000001"] },
        },
      }),
      ALPHALOOP_DISCORD_MESSAGE_CONTENT: "off",
    });
    expect(good.error).toBeUndefined();
    expect(setupOf(good.out)).toMatchObject({
      status: "ok",
      detail:
        "2 servers allowed (2 roles, 2 users; channels limited in 1) · message content off: thread replies nudge only when they @mention the bot",
    });

    // Parsed exactly as `alphaloop bot` parses it: the same message, and a failure (the bot would not start).
    const badJson = await bot({ ALPHALOOP_DISCORD_ACCESS: "{guilds: nope" });
    expect(setupOf(badJson.out)).toMatchObject({ status: "fail" });
    expect(setupOf(badJson.out)?.detail).toMatch(/^ALPHALOOP_DISCORD_ACCESS is not valid JSON: /);
    expect((badJson.error as CliError).message).toMatch(/bot setup failed/);
    const badId = await bot({ ALPHALOOP_DISCORD_ACCESS: '{"guilds": {"my-server": {}}}' });
    expect(setupOf(badId.out)?.detail).toBe(
      "ALPHALOOP_DISCORD_ACCESS: guilds.my-server: a server's key must be its Discord id (digits)",
    );
    const badMc = await bot({
      ALPHALOOP_DISCORD_ACCESS: JSON.stringify({ guilds: { [guild]: { roles: ["700000000000000001"] } } }),
      ALPHALOOP_DISCORD_MESSAGE_CONTENT: "maybe",
    });
    expect(setupOf(badMc.out)).toMatchObject({
      status: "fail",
      detail: 'ALPHALOOP_DISCORD_MESSAGE_CONTENT must be on or off, not "maybe"',
    });

    // Legal but useless: the bot starts and refuses every command, or nobody may start a run.
    const none = await bot({});
    expect(none.error).toBeUndefined();
    expect(setupOf(none.out)).toMatchObject({
      status: "warn",
      detail:
        "ALPHALOOP_DISCORD_ACCESS lists no server: the bot refuses every command (and names the server id to add) · message content on (intent enabled)",
    });
    const nobody = await bot({ ALPHALOOP_DISCORD_ACCESS: JSON.stringify({ guilds: { [guild]: {} } }) });
    expect(setupOf(nobody.out)).toMatchObject({
      status: "warn",
      detail: `server ${guild} lists no roles or users: nobody can start runs there · message content on (intent enabled)`,
    });

    // Not configured without a token; the token never printed, even when pasted into the policy.
    const off = await doctor({ ALPHALOOP_DISCORD_ACCESS: "{" }, ["--json"]);
    expect(setupOf(off.out)).toBeUndefined();
    const leaked = await bot({ ALPHALOOP_DISCORD_ACCESS: `{"guilds": {"${DISCORD_TOKEN}": {}}}` });
    expect(setupOf(leaked.out)?.status).toBe("fail");
    expect(leaked.out).not.toContain(DISCORD_TOKEN);
    const text = await doctor({
      DISCORD_TOKEN,
      DISCORD_API_URL: `${discord}/api`,
      ALPHALOOP_DISCORD_ACCESS: JSON.stringify({ guilds: { [guild]: { users: ["600000000000000001"] } } }),
    });
    expect(text.out).toMatch(
      /\n✓ bot setup +1 server allowed \(0 roles, 1 user; any channel\) · message content on \(intent enabled\)\n/,
    );
  });

  it("fails the bot setup when message content is on but the app lacks the privileged intent", async () => {
    const GATEWAY_MESSAGE_CONTENT = 1 << 18;
    const GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19;
    let flags = 0;
    const discord = await httpStub({
      "/api/v10/users/@me": () => [200, { id: "42", username: "alphaloop-bot", bot: true }],
      "/api/v10/applications/@me": (auth) =>
        auth === `Bot ${DISCORD_TOKEN}`
          ? [200, { id: "42", flags }]
          : [401, { message: "401: Unauthorized" }],
    });
    const access = JSON.stringify({ guilds: { "900000000000000001": { users: ["600000000000000001"] } } });
    const setup = async (env: NodeJS.ProcessEnv = {}) => {
      const r = await doctor(
        { DISCORD_TOKEN, DISCORD_API_URL: `${discord}/api`, ALPHALOOP_DISCORD_ACCESS: access, ...env },
        ["--json"],
      );
      const check = (
        JSON.parse(r.out) as { checks: { name: string; status: string; detail: string }[] }
      ).checks.find((c) => c.name === "bot setup");
      return { ...r, check };
    };

    const missing = await setup();
    expect(missing.check?.status).toBe("fail");
    expect(missing.check?.detail).toBe(
      "message content is on but this bot's MessageContent intent is off: Discord would close the gateway (4014). Enable it in the Developer Portal (Bot → Privileged Gateway Intents) or set ALPHALOOP_DISCORD_MESSAGE_CONTENT=off",
    );
    expect((missing.error as CliError).message).toMatch(/bot setup failed/);
    // In text the detail stands alone: it names its own variable.
    const text = await doctor({
      DISCORD_TOKEN,
      DISCORD_API_URL: `${discord}/api`,
      ALPHALOOP_DISCORD_ACCESS: access,
    });
    expect(text.out).toContain(
      "\n✗ bot setup   message content is on but this bot's MessageContent intent is off: Discord would close the gateway (4014).",
    );
    // Off needs no intent; either intent flag (the limited one is what bots in < 100 servers get) will do.
    expect((await setup({ ALPHALOOP_DISCORD_MESSAGE_CONTENT: "off" })).check?.status).toBe("ok");
    for (const f of [GATEWAY_MESSAGE_CONTENT, GATEWAY_MESSAGE_CONTENT_LIMITED]) {
      flags = f | 1;
      const ok = await setup();
      expect(ok.check).toMatchObject({
        status: "ok",
        detail: "1 server allowed (0 roles, 1 user; any channel) · message content on (intent enabled)",
      });
    }
    // A token Discord rejects: the discord line says so; this one only says the intent went unchecked.
    const rejected = await setup({ DISCORD_TOKEN: `${DISCORD_TOKEN}-revoked` });
    expect(rejected.check).toMatchObject({
      status: "ok",
      detail:
        "1 server allowed (0 roles, 1 user; any channel) · message content on (intent not checked: HTTP 401)",
    });
    expect(rejected.out).not.toContain(DISCORD_TOKEN);
  });

  it("reports a real Postgres with its migrations, and a refused one in one line", async () => {
    const schema = testSchema("doctor");
    const migrations = listMigrations().length;
    const checks = await runDoctor({
      env: { DATABASE_URL: TEST_PG_URL },
      dbSchema: schema,
      timeoutMs: 5_000,
    });
    expect(checks[0]?.status).toBe("ok");
    expect(checks[0]?.detail).toBe(
      `postgres at 127.0.0.1:5432/test (schema ${schema}) (migrations ${migrations})`,
    );
    const db = await openDb({ url: TEST_PG_URL, schema });
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();

    const port = await deadPort();
    const refused = await runDoctor({
      env: { DATABASE_URL: `postgres://postgres:s3cret-pg-password@127.0.0.1:${port}/x` },
      timeoutMs: 5_000,
    });
    expect(refused[0]?.status).toBe("fail");
    expect(refused[0]?.detail).toBe("connection refused — is Postgres running?");
    expect(JSON.stringify(refused)).not.toContain("s3cret-pg-password");
  });
});
