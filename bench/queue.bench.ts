/**
 * The distributed setup under load: 4 concurrent runs with the heuristic driver on the BullMQ
 * queues (`research` for iterations, `backtests` for folds), worked by real `alphaloop worker`
 * processes, once with 1 worker and once with 2 (each: 4 iterations at once, 1 fold thread).
 * Each worker is pinned to a core of its own (taskset, where present): a worker's fold thread
 * would otherwise already spread one worker over both cores of a 2-core machine, and the ratio
 * would measure thread parallelism inside one worker instead of what a second worker adds.
 * Reported: candidate backtests/s and fold backtests/s (from the workers' /metrics) and the 2-vs-1
 * ratio (goal ≥ 1.8x on 2 cores). Then the queue's overhead: one candidate's folds through the
 * `backtests` queue (one fold thread in this process) against the same evaluation in-process, with
 * a strategy that does nearly nothing, so the difference is the queue's cost.
 *
 * Also reported: where the CPU of each timed phase went (per backtest: the workers' fold threads,
 * main threads, other threads — V8's compiler and GC helpers — and esbuild children; Redis,
 * Postgres and this process), from /proc. QUEUE_BENCH_DETAIL=1 adds each worker's threads, Redis'
 * command stats and Postgres' transaction count; QUEUE_BENCH_NODE_FLAGS passes extra Node flags
 * to the workers (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 *
 * Needs Postgres (DATABASE_URL, default the test database) and the `redis-server` binary: the
 * bench starts its own Redis on a free port (no persistence) so it never touches a shared one.
 * Data: ~6 years of synthetic 1h bars (seeded), stored in a schema of its own, dropped after.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Sandbox } from "../src/backtest/sandbox/index.ts";
import { loadRunConfig, type RunConfig } from "../src/domain/run-config.ts";
import { DEFAULT_CONFIG_PATH } from "../src/loop/config-files.ts";
import { evaluateCandidate } from "../src/loop/evaluate.ts";
import { createRun, frozenOf, StoreBarSource } from "../src/loop/runner.ts";
import { RunWindows } from "../src/loop/windows.ts";
import { syntheticBars } from "../src/market/synthetic.ts";
import { startBacktestWorker } from "../src/queue/backtest-worker.ts";
import { BullFoldExecutors } from "../src/queue/bull-fold-executor.ts";
import { BullTransport } from "../src/queue/bull-transport.ts";
import { submitRun } from "../src/queue/control.ts";
import { lockDataset, refreshDataset, upsertBars } from "../src/store/bar-store.ts";
import { type Db, openDb } from "../src/store/db.ts";
import { PgRunRepository } from "../src/store/run-repository.ts";
import { NOOP_STRATEGY } from "../test/support/sandbox-fixtures.ts";
import { freePort, waitFor } from "../test/support/wait.ts";
import {
  childrenDelta,
  commDelta,
  postgresBackendsOf,
  processDelta,
  snapshot,
  threadDeltas,
  totalDelta,
} from "./proc-cpu.ts";
import { medianMs, ratio } from "./timing.ts";

const PG = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 4;
const ITERATIONS = 20;
const SYMBOL = "QBENCHUSD";
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

const NOOP = {
  code: NOOP_STRATEGY,
  configYaml: "strategy: noop\ntimeframe: 1h\n",
};

function runConfig(seed: number): RunConfig {
  return loadRunConfig(readFileSync(DEFAULT_CONFIG_PATH, "utf8"), [
    {
      source: "bench",
      text: `
dataset: { symbol: ${SYMBOL}, timeframe: 1h }
windows:
  search: { start: "2018-01-01", end: "2023-01-01" }
  holdout: { start: "2023-01-01", end: "2023-12-01" }
walk_forward: { folds: 4, warmup_bars: 500 }
budgets: { max_iterations: ${ITERATIONS} }
loop: { driver: heuristic, seed: ${seed}, stuck_after: 100 }
`,
    },
  ]);
}

interface WorkerProc {
  readonly child: ChildProcess;
  readonly healthPort: number;
}

const TASKSET = spawnSync("taskset", ["--version"]).status === 0;

/** `core`: the CPU the worker is pinned to (when taskset exists). */
function startWorker(env: NodeJS.ProcessEnv, core: number): Promise<WorkerProc> {
  const node = [
    process.execPath,
    "--no-node-snapshot",
    ...(process.env["QUEUE_BENCH_NODE_FLAGS"]?.split(" ").filter(Boolean) ?? []),
    "--import",
    "tsx",
    join(root, "src/cli/main.ts"),
    "worker",
    "--concurrency",
    String(RUNS),
    "--backtest-concurrency",
    "1",
    "--health-port",
    "0",
    "--reconcile-seconds",
    "0",
  ];
  const argv = TASKSET ? ["taskset", "--cpu-list", String(core % cpus().length), ...node] : node;
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /ready: .* health on :(\d+)/.exec(out);
      if (m) resolve({ child, healthPort: Number(m[1]) });
    });
    child.once("exit", (code) =>
      reject(new Error(`worker exited (${code}) before ready: ${err.slice(-1500)}`)),
    );
  });
}

async function stopWorker(w: WorkerProc): Promise<void> {
  if (w.child.exitCode !== null) return;
  const exited = new Promise((r) => w.child.once("exit", r));
  w.child.kill("SIGTERM");
  await exited;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Per worker: fold jobs and iterations it has run so far (from its /metrics). */
async function counts(workers: readonly WorkerProc[]): Promise<{ folds: number; iterations: number }[]> {
  return Promise.all(
    workers.map(async (w) => {
      const text = await (await fetch(`http://127.0.0.1:${w.healthPort}/metrics`)).text();
      const iterations = [...text.matchAll(/^alphaloop_iterations_total\{[^}]*\} (\d+)$/gm)].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
      return { folds: Number(/^alphaloop_fold_backtests_total (\d+)/m.exec(text)?.[1] ?? 0), iterations };
    }),
  );
}

async function foldCount(workers: readonly WorkerProc[]): Promise<number> {
  return (await counts(workers)).reduce((a, c) => a + c.folds, 0);
}

/** Where the CPU of a phase's timed part went, in CPU seconds (Linux; zeros elsewhere). */
interface CpuSplit {
  /** Per worker: its main thread, its busiest other thread (the fold thread), the rest, its children (esbuild). */
  readonly workers: readonly { main: number; fold: number; other: number; children: number }[];
  readonly redis: number;
  /** The backends serving our processes' connections. */
  readonly postgres: number;
  /** Every Postgres process (the server may have other clients, and its own background work). */
  readonly postgresAll: number;
  readonly bench: number;
  /** Every process on the machine, ours or not. */
  readonly total: number;
}

interface Phase {
  readonly seconds: number;
  readonly split: CpuSplit;
  /** CPU seconds the worker processes spent (all their threads) during the timed part. */
  readonly cpu: number;
  readonly backtests: number;
  readonly folds: number;
  /** What each worker did: a worker holding most of the runs' iterations leaves the other idle. */
  readonly perWorker: readonly { folds: number; iterations: number }[];
}

/** 4 runs submitted at once to `workers` worker processes; timed from submit to the last run's end. */
async function phase(
  db: Db,
  redisUrl: string,
  redisPid: number | undefined,
  prefix: string,
  env: NodeJS.ProcessEnv,
  count: number,
) {
  const runs = new PgRunRepository(db);
  const workers = await Promise.all(
    Array.from({ length: count }, (_, k) => startWorker({ ...env, ALPHALOOP_QUEUE_PREFIX: prefix }, k)),
  );
  const producer = new BullTransport({ redisUrl, prefix });
  try {
    // Warm-up: every worker's fold thread compiles the sandbox's ta bundle on its first job.
    const warm = await createRun(runs, { brief: "warm-up", config: runConfig(99), driver: "heuristic" });
    await submitRun(runs, producer, warm.id);
    await waitFor(async () => (await runs.getRun(warm.id))?.status !== "running", 300_000, "the warm-up run");
    const counts0 = await counts(workers);
    const folds0 = counts0.reduce((a, c) => a + c.folds, 0);

    const ids: string[] = [];
    for (let k = 0; k < RUNS; k++) {
      ids.push(
        (await createRun(runs, { brief: `bench ${k}`, config: runConfig(k + 1), driver: "heuristic" })).id,
      );
    }
    const debug = new Redis(redisUrl);
    if (process.env["QUEUE_BENCH_DETAIL"]) await debug.config("RESETSTAT");
    const pg0 = await db.query<{ x: string }>(
      "SELECT xact_commit::text AS x FROM pg_stat_database WHERE datname = current_database()",
    );
    const cpu0 = workers.reduce((a, w) => a + cpuSeconds(w.child.pid), 0);
    const snap0 = snapshot();
    const t0 = performance.now();
    for (const id of ids) await submitRun(runs, producer, id);
    // One small query a poll: the bench's own Postgres traffic shares the cores it measures.
    await waitFor(
      async () => {
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND status = 'running'",
          [ids],
        );
        return rows[0]?.n === 0;
      },
      900_000,
      "the runs to finish",
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = workers.reduce((a, w) => a + cpuSeconds(w.child.pid), 0) - cpu0;
    const snap1 = snapshot();
    if (process.env["QUEUE_BENCH_DETAIL"]) {
      const pg1 = await db.query<{ x: string }>(
        "SELECT xact_commit::text AS x FROM pg_stat_database WHERE datname = current_database()",
      );
      console.log(`postgres transactions: ${Number(pg1.rows[0]?.x) - Number(pg0.rows[0]?.x)}`);
      const stats = (await debug.info("commandstats")).split("\n").filter((l) => l.startsWith("cmdstat_"));
      const parsed = stats.map((l) => {
        const m = /cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(l);
        return { cmd: m?.[1], calls: Number(m?.[2]), usec: Number(m?.[3]) };
      });
      parsed.sort((a, b) => b.usec - a.usec);
      console.log(
        parsed
          .slice(0, 14)
          .map((x) => `${x.cmd} ${x.calls} calls ${(x.usec / 1000).toFixed(0)} ms`)
          .join("; "),
      );
    }
    debug.disconnect();
    const split: CpuSplit = {
      workers: workers.map((w) => {
        const pid = w.child.pid as number;
        const threads = threadDeltas(snap0, snap1, pid);
        if (process.env["QUEUE_BENCH_DETAIL"])
          console.log(
            `worker ${pid} threads:`,
            [...threads]
              .filter(([, v]) => v > 0.05)
              .map(([t, v]) => `${t}:${v.toFixed(2)}`)
              .join(" "),
            "children:",
            [...snap1.values()]
              .filter((p) => p.ppid === pid)
              .map((p) => `${p.pid} ${p.comm}`)
              .join(", "),
          );
        const main = threads.get(pid) ?? 0;
        threads.delete(pid);
        const fold = Math.max(0, ...threads.values());
        return {
          main,
          fold,
          other: processDelta(snap0, snap1, pid) - main - fold,
          children: childrenDelta(snap0, snap1, pid),
        };
      }),
      redis: redisPid === undefined ? 0 : processDelta(snap0, snap1, redisPid),
      postgres: postgresBackendsOf(snap1, [process.pid, ...workers.map((w) => w.child.pid as number)]).reduce(
        (a, pid) => a + processDelta(snap0, snap1, pid),
        0,
      ),
      postgresAll: commDelta(snap0, snap1, "postgres"),
      bench: processDelta(snap0, snap1, process.pid),
      total: totalDelta(snap0, snap1),
    };
    const { rows } = await db.query<{ n: number }>(
      "SELECT coalesce(sum(backtests), 0)::int AS n FROM iterations WHERE run_id = ANY($1)",
      [ids],
    );
    return {
      seconds,
      split,
      cpu,
      backtests: rows[0]?.n ?? 0,
      folds: (await foldCount(workers)) - folds0,
      perWorker: (await counts(workers)).map((c, k) => ({
        folds: c.folds - (counts0[k]?.folds ?? 0),
        iterations: c.iterations - (counts0[k]?.iterations ?? 0),
      })),
    } satisfies Phase;
  } finally {
    await producer.close(1000);
    await Promise.all(workers.map(stopWorker));
  }
}

async function storeBench(db: Db): Promise<void> {
  const trend = { drift: 0.6, volScale: 0.8 };
  const bars = syntheticBars({
    n: 24 * 365 * 6,
    timeframe: "1h",
    start: "2018-01-01",
    seed: 77,
    regimes: { bull: trend, bear: trend, sideways: trend },
    annualVol: 0.6,
  });
  await db.transaction(async (tx) => {
    await lockDataset(tx, SYMBOL, "1h");
    await upsertBars(tx, SYMBOL, "1h", bars);
    await refreshDataset(tx, SYMBOL, "1h");
  });
}

export default async function queueBench(): Promise<void> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    console.log("skipped: no redis-server binary (the bench starts its own Redis)");
    return;
  }
  const schema = `bench_queue_${randomBytes(3).toString("hex")}`;
  let db: Db;
  try {
    db = await openDb({ url: PG, schema });
  } catch (err) {
    console.log(`skipped: Postgres at DATABASE_URL not reachable (${(err as Error).message})`);
    return;
  }
  const port = await freePort();
  const redisUrl = `redis://127.0.0.1:${port}`;
  const redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const home = mkdtempSync(join(tmpdir(), "alphaloop-qbench-"));
  const sandbox = new Sandbox();
  try {
    const probe = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => undefined);
    await waitFor(
      async () => {
        if (probe.status !== "ready") await probe.connect();
        return (await probe.ping()) === "PONG";
      },
      10_000,
      "redis-server",
    );
    probe.disconnect();
    await storeBench(db);
    const env = {
      ...process.env,
      DATABASE_URL: `${PG}${PG.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema},public`)}`,
      REDIS_URL: redisUrl,
      ALPHALOOP_HOME: home,
      LLM_BASE_URL: "",
      LOG_LEVEL: "error",
    };
    console.log(
      `load average before: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );
    const one = await phase(db, redisUrl, redis.pid, "qb1", env, 1);
    const two = await phase(db, redisUrl, redis.pid, "qb2", env, 2);
    const rate = (p: Phase) =>
      `${(p.backtests / p.seconds).toFixed(2)} backtests/s, ${(p.folds / p.seconds).toFixed(1)} folds/s`;
    console.log(
      `${RUNS} runs × ${ITERATIONS} iterations, heuristic driver, 4 folds, ~6 y of 1h bars; ` +
        (TASKSET ? "each worker pinned to a core of its own" : "workers not pinned (no taskset)"),
    );
    console.log(
      `1 worker:  ${one.backtests} backtests, ${one.folds} fold jobs in ${one.seconds.toFixed(1)} s: ${rate(one)}`,
    );
    console.log(
      `2 workers: ${two.backtests} backtests, ${two.folds} fold jobs in ${two.seconds.toFixed(1)} s: ${rate(two)} ` +
        `(iterations / fold jobs per worker: ${two.perWorker.map((c) => `${c.iterations} / ${c.folds}`).join(", ")})`,
    );
    console.log(
      `2 workers vs 1: ${ratio(one.seconds / one.backtests, two.seconds / two.backtests)} backtests/s (goal ≥ 1.80x)`,
    );
    // On a shared machine wall time mostly measures the neighbours; CPU per backtest says whether
    // a second worker adds work of its own (queue overhead) or only adds capacity.
    const cpuPer = (p: Phase) => ((p.cpu / p.backtests) * 1000).toFixed(0);
    console.log(
      `worker CPU per backtest (all threads): 1 worker ${cpuPer(one)} ms, 2 workers ${cpuPer(two)} ms; ` +
        `CPU busy: 1 worker ${(one.cpu / one.seconds).toFixed(2)} cores, 2 workers ${(two.cpu / two.seconds).toFixed(2)} cores`,
    );
    // Per backtest, ms of CPU: what the workers spend on folds versus everything else, and what the
    // services and this process cost around them.
    const perBt = (p: Phase, s: number) => ((s / p.backtests) * 1000).toFixed(1);
    for (const [name, p] of [
      ["1 worker", one],
      ["2 workers", two],
    ] as const) {
      const w = p.split.workers;
      const sum = (f: (x: (typeof w)[number]) => number) => w.reduce((a, x) => a + f(x), 0);
      const ours =
        sum((x) => x.main + x.fold + x.other + x.children) + p.split.redis + p.split.postgres + p.split.bench;
      console.log(
        `CPU per backtest, ${name}: fold threads ${perBt(
          p,
          sum((x) => x.fold),
        )} ms, worker main threads ${perBt(
          p,
          sum((x) => x.main),
        )}, ` +
          `other worker threads ${perBt(
            p,
            sum((x) => x.other),
          )}, esbuild ${perBt(
            p,
            sum((x) => x.children),
          )}, redis ${perBt(p, p.split.redis)}, ` +
          `postgres ${perBt(p, p.split.postgres)} (all of the server ${perBt(p, p.split.postgresAll)}), bench ${perBt(p, p.split.bench)}; all of it ${perBt(p, ours)} ms ` +
          `(${(ours / p.seconds).toFixed(2)} cores; machine ${(p.split.total / p.seconds).toFixed(2)} cores busy)`,
      );
    }

    // Overhead per job: the same near-free evaluation with its folds through the queue and in-process.
    const runs = new PgRunRepository(db);
    const run = await createRun(runs, { brief: "overhead", config: runConfig(1), driver: "heuristic" });
    const frozen = frozenOf(run);
    const searchBars = await new RunWindows(new StoreBarSource(db), frozen.config).search();
    const prefix = "qbo";
    const worker = await startBacktestWorker({
      redisUrl,
      prefix,
      concurrency: 1,
      database: { databaseUrl: PG, schema },
    });
    const executors = await new BullFoldExecutors({ redisUrl, prefix }).ready();
    try {
      const ctx = { run: frozen, searchBars, sandbox, lookaheadCuts: 0 };
      const local = await medianMs(() => evaluateCandidate(NOOP, ctx), 15, 3);
      let n = 0;
      const queued = await medianMs(
        () => evaluateCandidate(NOOP, { ...ctx, folds: executors.forIteration(run.id, ++n) }),
        15,
        3,
      );
      const jobs = frozen.config.walk_forward.folds + 1;
      console.log(
        `noop candidate, 4 folds: in-process ${local.toFixed(1)} ms, through the queue ${queued.toFixed(1)} ms ` +
          `(${jobs} jobs, one fold thread): overhead ${((queued - local) / jobs).toFixed(1)} ms per job`,
      );
    } finally {
      await executors.close();
      await worker.close(5000);
    }
    console.log(
      `load average after: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );
  } finally {
    sandbox.dispose();
    redis.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  }
}
