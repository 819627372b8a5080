/**
 * Compose cannot run on the development machines or in CI, so the deployment files are checked by
 * reading them: docker-compose.yml (services, healthchecks, dependencies, the vllm profile),
 * the Dockerfile (stages, non-root user), .dockerignore, and — the one that drifts — that every
 * environment variable the code reads is documented in .env.example and in the README.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SECRET_ENV_VARS } from "../../src/log/secrets.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

// ---------------------------------------------------------------------------------------------
// Finding the environment variables a source file reads.

const NAME = "[A-Z][A-Z0-9_]*";
/** `process.env.X`, `env.X`, `deps.env?.X` (the receiver is any expression ending in `env`). */
const DOT_ACCESS = new RegExp(`\\benv\\s*(?:\\?\\.|\\.)\\s*(${NAME})\\b`, "g");
/** `process.env["X"]`, `env['X']`, `o.env?.["X"]`. */
const INDEX_ACCESS = new RegExp(`\\benv\\s*(?:\\?\\.)?\\s*\\[\\s*(["'\`])(${NAME})\\1\\s*\\]`, "g");
/** `const { X, Y: y, Z = "d" } = process.env`. */
const DESTRUCTURE = /\{([^{}]*)\}\s*(?::[^=]*)?=\s*(?:process\.)?env\b/g;
/** Helpers such as `requireEnv("X")` or `readEnv('X')`. */
const HELPER_CALL = new RegExp(`\\b\\w*[Ee]nv\\w*\\s*\\(\\s*(["'\`])(${NAME})\\1`, "g");

function envNamesRead(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(DOT_ACCESS)) names.add(m[1] as string);
  for (const m of source.matchAll(INDEX_ACCESS)) names.add(m[2] as string);
  for (const m of source.matchAll(HELPER_CALL)) names.add(m[2] as string);
  for (const m of source.matchAll(DESTRUCTURE)) {
    for (const part of (m[1] as string).split(",")) {
      const name = new RegExp(`^\\s*(${NAME})\\b`).exec(part)?.[1];
      if (name) names.add(name);
    }
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && !entry.name.startsWith(".")) out.push(...sourceFiles(path));
    } else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && join(ROOT, path) !== THIS_FILE) {
      out.push(path);
    }
  }
  return out;
}

/** name → files (relative to the repository) that read it. */
function envReadsIn(dirs: readonly string[]): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of sourceFiles(dir)) {
      for (const name of envNamesRead(read(file))) {
        reads.set(name, [...(reads.get(name) ?? []), file.split(sep).join("/")]);
      }
    }
  }
  return reads;
}

function missingReport(missing: readonly string[], reads: Map<string, string[]>, where: string): string {
  return missing.length === 0
    ? ""
    : `not documented in ${where}:\n${missing.map((n) => `  ${n} (read in ${reads.get(n)?.join(", ")})`).join("\n")}`;
}

// ---------------------------------------------------------------------------------------------
// .env.example

interface EnvExampleEntry {
  readonly name: string;
  readonly value: string;
  readonly commentedOut: boolean;
  readonly line: number;
  /** Prose comment directly above (blank lines and other assignments do not count). */
  readonly described: boolean;
}

const ASSIGNMENT = new RegExp(`^(#\\s*)?(${NAME})=(.*)$`);

function parseEnvExample(text: string): EnvExampleEntry[] {
  const lines = text.split("\n");
  const entries: EnvExampleEntry[] = [];
  lines.forEach((raw, i) => {
    const m = ASSIGNMENT.exec(raw.trim());
    if (!m) return;
    const above = (lines[i - 1] ?? "").trim();
    entries.push({
      name: m[2] as string,
      value: m[3] as string,
      commentedOut: m[1] !== undefined,
      line: i + 1,
      described: /^#\s*\S/.test(above) && !ASSIGNMENT.test(above),
    });
  });
  return entries;
}

/** Lines of the README from `## Configuration` up to the next `## ` heading. */
function readmeConfiguration(readme: string): string {
  const start = readme.search(/^## Configuration\s*$/m);
  if (start < 0) return "";
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

interface Healthcheck {
  test?: string | string[];
}
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: Record<string, string> | string[];
  env_file?: string | string[];
  profiles?: string[];
  ports?: unknown[];
  container_name?: string;
  deploy?: { resources?: { reservations?: { devices?: { capabilities?: string[] }[] } } };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

/**
 * Variables compose interpolates: `${NAME}`, `${NAME:-default}`, `${NAME:?error}`, `$NAME`, in any
 * string of the parsed file (comments are not interpolated); `$$` is an escaped dollar.
 */
function composeVariables(node: unknown, names = new Set<string>()): Set<string> {
  if (typeof node === "string") {
    const text = node.replaceAll("$$", "");
    for (const m of text.matchAll(new RegExp(`\\$\\{(${NAME})(?::?[-?+][^}]*)?\\}`, "g")))
      names.add(m[1] as string);
    for (const m of text.matchAll(new RegExp(`\\$(${NAME})\\b`, "g"))) names.add(m[1] as string);
  } else if (Array.isArray(node)) {
    for (const v of node) composeVariables(v, names);
  } else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      composeVariables(k, names);
      composeVariables(v, names);
    }
  }
  return names;
}

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const words = (v: string | string[] | undefined): string[] => asList(v).flatMap((s) => s.split(/\s+/));

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (!env) return {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(env.map((e) => [e.split("=")[0], e.split("=").slice(1).join("=")]));
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/** What compose makes of `value`: each `${NAME…}` replaced by `vars`' value, else its `:-` default. */
function interpolate(value: string, vars: ReadonlyMap<string, string> = new Map()): string {
  return value.replace(
    new RegExp(`\\$\\{(${NAME})(?::?([-?+])([^}]*))?\\}`, "g"),
    (_, name: string, op: string | undefined, arg: string | undefined) =>
      vars.get(name) ?? (op === "-" ? (arg ?? "") : ""),
  );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface DockerStage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: { readonly op: string; readonly args: string }[];
}

function parseDockerfile(text: string): DockerStage[] {
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stages: { from: string; name: string | undefined; instructions: { op: string; args: string }[] }[] =
    [];
  for (const line of logical) {
    const op = (line.split(/\s+/, 1)[0] as string).toUpperCase();
    const args = line.slice(op.length).trim();
    if (op === "FROM") {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ from: m?.[1] ?? "", name: m?.[2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op, args });
    }
  }
  return stages;
}

// =============================================================================================

describe("environment variable scan", () => {
  it("finds every access form the code uses, and nothing that is not a read", () => {
    const source = [
      'const a = process.env["DATABASE_URL"];',
      "const b = process.env.LOG_LEVEL ?? 'info';",
      "const c = env['LLM_MODEL'];",
      'const d = options.env?.["REDIS_URL"];',
      "const e = deps.env?.QUICKCHART_URL;",
      "const { DISCORD_TOKEN, LLM_API_KEY: key, BINANCE_DATA_URL = 'x' } = process.env;",
      'const f = requireEnv("NOTIFY_WEBHOOK_URL");',
      "const g = environment.NOT_A_READ; const h = env.lowercase; const i = myenv.ALSO_NOT;",
      'const j = config["UPPER_KEY"]; const k = "LOG_FORMAT";',
    ].join("\n");
    expect([...envNamesRead(source)].sort()).toEqual(
      [
        "BINANCE_DATA_URL",
        "DATABASE_URL",
        "DISCORD_TOKEN",
        "LLM_API_KEY",
        "LLM_MODEL",
        "LOG_LEVEL",
        "NOTIFY_WEBHOOK_URL",
        "QUICKCHART_URL",
        "REDIS_URL",
      ].sort(),
    );
  });

  it("finds the variables the store, logger, model client and bot are known to read", () => {
    const found = envReadsIn(["src", "bin"]);
    for (const name of ["DATABASE_URL", "ALPHALOOP_HOME", "LOG_LEVEL", "LLM_BASE_URL", "DISCORD_TOKEN"]) {
      expect(found.has(name), `${name} not found by the scan`).toBe(true);
    }
  });
});

describe(".env.example", () => {
  const text = read(".env.example");
  const entries = parseEnvExample(text);
  const documented = new Set(entries.map((e) => e.name));

  it("documents every environment variable that src/ and bin/ read", () => {
    const reads = envReadsIn(["src", "bin"]);
    const missing = [...reads.keys()].filter((n) => !documented.has(n)).sort();
    expect(missing, missingReport(missing, reads, ".env.example")).toEqual([]);
  });

  it("documents the variables the tests and benchmarks read", () => {
    const reads = envReadsIn(["test", "bench"]);
    const missing = [...reads.keys()].filter((n) => !documented.has(n)).sort();
    expect(missing, missingReport(missing, reads, ".env.example")).toEqual([]);
  });

  it("documents the variables the issue names", () => {
    const named = [
      "DATABASE_URL",
      "REDIS_URL",
      "ALPHALOOP_HOME",
      "LLM_BASE_URL",
      "LLM_MODEL",
      "LLM_API_KEY",
      "LLM_STRUCTURED",
      "DISCORD_TOKEN",
      "DISCORD_API_URL",
      "QUICKCHART_URL",
      "NOTIFY_WEBHOOK_URL",
      "BINANCE_DATA_URL",
      "LOG_LEVEL",
      "LOG_FORMAT",
      "TEST_DATABASE_URL",
      "TEST_REDIS_URL",
    ];
    expect(named.filter((n) => !documented.has(n))).toEqual([]);
  });

  it("says what each variable is, once", () => {
    const undescribed = entries.filter((e) => !e.described).map((e) => `${e.name} (line ${e.line})`);
    expect(undescribed, "a variable without a comment line directly above it").toEqual([]);
    const names = entries.map((e) => e.name);
    expect(
      names.filter((n, i) => names.indexOf(n) !== i),
      "listed twice",
    ).toEqual([]);
  });

  it("holds no secret values", () => {
    const secretNames = new Set([...SECRET_ENV_VARS, "HF_TOKEN"]);
    const leaking = entries.filter(
      (e) => secretNames.has(e.name) && !e.commentedOut && e.value.trim() !== "",
    );
    expect(leaking.map((e) => e.name)).toEqual([]);
    // Secret-looking shapes anywhere: Discord bot tokens, OpenAI/HF keys.
    expect(text).not.toMatch(/[MN][A-Za-z\d]{23,}\.[\w-]{6}\.[\w-]{27,}/);
    expect(text).not.toMatch(/\b(sk-[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,})/);
  });
});

describe("README Configuration section", () => {
  it("lists every environment variable that src/ and bin/ read", () => {
    const section = readmeConfiguration(read("README.md"));
    expect(section, "README.md has no `## Configuration` section").not.toBe("");
    const reads = envReadsIn(["src", "bin"]);
    const missing = [...reads.keys()].filter((n) => !section.includes(`\`${n}\``)).sort();
    expect(missing, missingReport(missing, reads, "README.md's Configuration section")).toEqual([]);
  });
});

describe("docker-compose.yml", () => {
  const text = read("docker-compose.yml");
  // Compose resolves `<<: *anchor` merge keys; so must the test.
  const compose = parse(text, { merge: true }) as ComposeFile;
  const services = compose.services;
  const service = (name: string): ComposeService => {
    const s = services[name];
    if (!s) throw new Error(`service ${name} missing from docker-compose.yml`);
    return s;
  };
  const envExample = new Map(parseEnvExample(read(".env.example")).map((e) => [e.name, e]));
  /** What a fresh `cp .env.example .env` sets. */
  const dotEnv = new Map(
    [...envExample.values()].filter((e) => !e.commentedOut).map((e) => [e.name, e.value]),
  );

  it("has the services of the distributed setup", () => {
    expect(Object.keys(services).sort()).toEqual([
      "bot",
      "postgres",
      "quickchart",
      "redis",
      "vllm",
      "worker",
    ]);
  });

  it("runs Redis with the append-only file and without eviction, health-checked", () => {
    const redis = service("redis");
    const args = words(redis.command);
    expect(flagValue(args, "--appendonly")).toBe("yes");
    expect(flagValue(args, "--maxmemory-policy")).toBe("noeviction");
    expect(words(redis.healthcheck?.test)).toEqual(expect.arrayContaining(["redis-cli", "ping"]));
  });

  it("runs Postgres on the TimescaleDB HA image, health-checked with pg_isready", () => {
    const pg = service("postgres");
    expect(pg.image).toMatch(/^timescale\/timescaledb-ha:/);
    expect(asList(pg.healthcheck?.test).join(" ")).toContain("pg_isready");
  });

  it("health-checks QuickChart on its /healthcheck endpoint", () => {
    const qc = service("quickchart");
    expect(qc.image).toMatch(/^ianw\/quickchart/);
    expect(asList(qc.healthcheck?.test).join(" ")).toContain(":3400/healthcheck");
  });

  it.each(["bot", "worker"])("starts %s from the app image after Postgres and Redis are healthy", (name) => {
    const s = service(name);
    expect(s.build, `${name} is built from the Dockerfile`).toBeDefined();
    expect(words(s.command)).toEqual([name]);
    const deps = s.depends_on;
    expect(deps && !Array.isArray(deps), "depends_on with conditions").toBe(true);
    const conditions = deps as Record<string, { condition?: string }>;
    expect(conditions["postgres"]?.condition).toBe("service_healthy");
    expect(conditions["redis"]?.condition).toBe("service_healthy");
    expect(asList(s.env_file)).toContain(".env");
  });

  it("points bot and worker at the compose services", () => {
    for (const name of ["bot", "worker"]) {
      const env = environmentOf(service(name));
      for (const [variable, target] of [
        ["DATABASE_URL", "postgres"],
        ["REDIS_URL", "redis"],
        ["QUICKCHART_URL", "quickchart"],
      ] as const) {
        const url = env[variable];
        expect(url, `${name}.${variable}`).toBeDefined();
        expect(new URL(interpolate(url as string, dotEnv)).hostname, `${name}.${variable}`).toBe(target);
      }
    }
    expect(new URL(environmentOf(service("bot"))["QUICKCHART_URL"] as string).port).toBe("3400");
  });

  it("connects the app with the password and database the Postgres service is created with", () => {
    const pg = environmentOf(service("postgres"));
    const url = new URL(interpolate(environmentOf(service("worker"))["DATABASE_URL"] ?? "", dotEnv));
    expect(decodeURIComponent(url.password)).toBe(interpolate(pg["POSTGRES_PASSWORD"] ?? "", dotEnv));
    expect(url.password).not.toBe("");
    expect(url.pathname).toBe(`/${pg["POSTGRES_DB"] ?? "postgres"}`);
  });

  it("health-checks each worker on the port it serves /health on", () => {
    const worker = service("worker");
    const port = environmentOf(worker)["ALPHALOOP_HEALTH_PORT"];
    expect(port).toMatch(/^\d+$/);
    expect(asList(worker.healthcheck?.test).join(" ")).toContain(`127.0.0.1:${port}/health`);
  });

  it("lets the worker scale: no container name, no fixed host port", () => {
    const worker = service("worker");
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports ?? []).toEqual([]);
  });

  it("serves a Qwen model on vLLM only under the vllm profile, with a tool-call parser the docs name", () => {
    for (const [name, s] of Object.entries(services)) {
      if (name !== "vllm") expect(s.profiles ?? [], `${name} must start without a profile`).toEqual([]);
    }
    const vllm = service("vllm");
    expect(vllm.profiles).toEqual(["vllm"]);
    expect(vllm.image).toMatch(/^vllm\/vllm-openai:/);
    const args = asList(vllm.command);
    expect(args).toContain("--enable-auto-tool-choice");
    const parser = interpolate(flagValue(args, "--tool-call-parser") ?? "", dotEnv);
    const docs = read("docs/local-models.md");
    expect(["hermes", "qwen3_coder"]).toContain(parser);
    expect(docs).toContain(`--tool-call-parser ${parser}`);
    // The server and the app must agree on the model id: both come from LLM_MODEL.
    const model = flagValue(args, "--model") ?? "";
    expect(model).toMatch(/^\$\{LLM_MODEL(:-Qwen\/[^}]+)?\}$/);
    expect(envExample.get("LLM_MODEL")?.value).toMatch(/^Qwen\//);
    expect(asList(vllm.healthcheck?.test).join(" ")).toContain(":8000/health");
    const devices = vllm.deploy?.resources?.reservations?.devices ?? [];
    expect(devices.some((d) => d.capabilities?.includes("gpu"))).toBe(true);
  });

  it("defaults LLM_BASE_URL to the vllm service's OpenAI endpoint", () => {
    const url = new URL(envExample.get("LLM_BASE_URL")?.value ?? "http://missing");
    expect(url.hostname).toBe("vllm");
    expect(url.port).toBe("8000");
    expect(url.pathname).toBe("/v1");
    expect(flagValue(asList(service("vllm").command), "--port") ?? "8000").toBe("8000");
  });

  it("takes every variable it interpolates from .env.example", () => {
    const used = [...composeVariables(compose)];
    expect(used.length).toBeGreaterThan(0);
    const missing = used.filter((n) => !envExample.has(n));
    expect(missing, `used in docker-compose.yml, missing from .env.example: ${missing.join(", ")}`).toEqual(
      [],
    );
  });
});

describe("Dockerfile", () => {
  const stages = parseDockerfile(read("Dockerfile"));
  const final = stages.at(-1) as DockerStage;
  const copies = (stage: DockerStage) => stage.instructions.filter((i) => i.op === "COPY");

  it("builds in more than one stage on Node 20", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^node:20[-.\w]*$/);
  });

  it("compiles the native addons in a stage with a toolchain and installs what package.json pins", () => {
    const build = stages.find((s) => s.instructions.some((i) => i.op === "RUN" && /\bnpm ci\b/.test(i.args)));
    expect(build, "a stage runs npm ci").toBeDefined();
    const runs = (build as DockerStage).instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    const toolchain = runs.findIndex((r) => /\bpython3\b/.test(r) && /\bmake\b/.test(r) && /\bg\+\+/.test(r));
    const install = runs.findIndex((r) => /\bnpm ci\b/.test(r));
    expect(toolchain, "python3, make and g++ installed").toBeGreaterThanOrEqual(0);
    expect(toolchain).toBeLessThan(install);
    // --omit=dev is only right while everything the CLI runs on is a production dependency.
    if (/--omit=dev/.test(runs[install] as string)) {
      const deps = (JSON.parse(read("package.json")) as { dependencies: Record<string, string> })
        .dependencies;
      for (const runtime of ["tsx", "esbuild", "isolated-vm"]) expect(deps, runtime).toHaveProperty(runtime);
    }
    expect(final.instructions.some((i) => i.op === "RUN" && /\bg\+\+|build-essential/.test(i.args))).toBe(
      false,
    );
  });

  it("runs the CLI as a non-root user in the final stage", () => {
    const users = final.instructions.filter((i) => i.op === "USER").map((i) => i.args.split(":")[0]);
    expect(users.length, "USER in the final stage").toBeGreaterThan(0);
    expect(["root", "0"]).not.toContain(users.at(-1));
    const entrypoint = final.instructions.find((i) => i.op === "ENTRYPOINT");
    expect(JSON.parse(entrypoint?.args ?? "[]")).toEqual(["node", "bin/alphaloop.js"]);
  });

  it("copies what the CLI reads at run time into the final stage, from files that exist", () => {
    const sources = copies(final)
      .filter((c) => !c.args.startsWith("--from"))
      .flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const needed of ["bin", "src", "configs", "strategies", "data", "package.json"]) {
      expect(sources, `COPY ${needed}`).toContain(needed);
    }
    expect(copies(final).some((c) => /^--from=\S+\s+\S*node_modules/.test(c.args))).toBe(true);
    for (const stage of stages) {
      for (const c of copies(stage).filter((x) => !x.args.startsWith("--from"))) {
        for (const src of c.args.split(/\s+/).slice(0, -1)) {
          expect(existsSync(join(ROOT, src)), `COPY source ${src}`).toBe(true);
        }
      }
    }
  });
});

describe(".dockerignore", () => {
  const patterns = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  it("keeps installed modules, local state, git and secrets out of the build context", () => {
    for (const p of ["node_modules", ".alphaloop", ".git", ".env"]) expect(patterns).toContain(p);
  });

  it("does not exclude anything the Dockerfile copies", () => {
    const copied = parseDockerfile(read("Dockerfile"))
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const excluded = copied.filter((src) =>
      patterns.some((p) => p === src || p === `${src}/` || p === `/${src}`),
    );
    expect(excluded).toEqual([]);
  });
});
