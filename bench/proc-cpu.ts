/**
 * CPU time of every process and thread on the machine, from /proc (Linux; elsewhere empty), so a
 * bench can say where the CPU of a timed stretch went: its own process, the services it talks to
 * (Postgres, Redis) and the processes it started, thread by thread. Node names none of its
 * threads, so a process's threads are told apart by id: the main thread's id is the process id.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const CLOCK_TICKS = 100;

export interface ProcCpu {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** CPU seconds (user + system) of each live thread, by thread id. */
  readonly threads: ReadonlyMap<number, number>;
}

export type CpuSnapshot = ReadonlyMap<number, ProcCpu>;

function statFields(text: string): { comm: string; f: string[] } {
  // The command name may hold spaces and parentheses: the fields after it start after the last ')'.
  return {
    comm: text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")),
    f: text.slice(text.lastIndexOf(")") + 2).split(" "),
  };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Every process's threads' CPU seconds right now (processes and threads may vanish mid-read). */
export function snapshot(): CpuSnapshot {
  const out = new Map<number, ProcCpu>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    const stat = read(`/proc/${p}/stat`);
    if (!stat) continue;
    const { comm, f } = statFields(stat);
    const threads = new Map<number, number>();
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      const ts = read(`/proc/${p}/task/${t}/stat`);
      if (!ts) continue;
      const tf = statFields(ts).f;
      threads.set(Number(t), (Number(tf[11]) + Number(tf[12])) / CLOCK_TICKS);
    }
    out.set(Number(p), { pid: Number(p), ppid: Number(f[1]), comm, threads });
  }
  return out;
}

/** CPU seconds a process's threads spent between two snapshots (threads gone by `after` are lost). */
export function threadDeltas(before: CpuSnapshot, after: CpuSnapshot, pid: number): Map<number, number> {
  const out = new Map<number, number>();
  const b = before.get(pid);
  const a = after.get(pid);
  if (!a) return out;
  for (const [tid, s] of a.threads) out.set(tid, s - (b?.threads.get(tid) ?? 0));
  return out;
}

export function processDelta(before: CpuSnapshot, after: CpuSnapshot, pid: number): number {
  let s = 0;
  for (const v of threadDeltas(before, after, pid).values()) s += v;
  return s;
}

/** CPU seconds of every process whose command name is `comm` (e.g. all Postgres backends). */
export function commDelta(before: CpuSnapshot, after: CpuSnapshot, comm: string): number {
  let s = 0;
  for (const p of after.values()) if (p.comm === comm) s += processDelta(before, after, p.pid);
  return s;
}

/** CPU seconds of the processes whose parent is `pid` (e.g. a worker's esbuild services). */
export function childrenDelta(before: CpuSnapshot, after: CpuSnapshot, pid: number): number {
  let s = 0;
  for (const p of after.values()) if (p.ppid === pid) s += processDelta(before, after, p.pid);
  return s;
}

/** The CPU seconds of all processes between two snapshots (the whole machine's busy time). */
export function totalDelta(before: CpuSnapshot, after: CpuSnapshot): number {
  let s = 0;
  for (const p of after.values()) s += processDelta(before, after, p.pid);
  return s;
}

/** Local TCP ports of the sockets the given processes hold open (all their threads share them). */
function localPorts(pids: readonly number[]): Set<number> {
  const byInode = new Map<string, number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(table) ?? "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const inode = f[9];
      if (local && inode) byInode.set(inode, Number.parseInt(local.split(":")[1] ?? "", 16));
    }
  }
  const ports = new Set<number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const port = inode ? byInode.get(inode) : undefined;
      if (port !== undefined) ports.add(port);
    }
  }
  return ports;
}

/**
 * The Postgres backends serving the given processes' connections (a backend's title names its
 * client's address and port), so a shared database server's other clients are not counted.
 */
export function postgresBackendsOf(snap: CpuSnapshot, pids: readonly number[]): number[] {
  const ports = localPorts(pids);
  const out: number[] = [];
  for (const p of snap.values()) {
    if (p.comm !== "postgres") continue;
    const title = read(`/proc/${p.pid}/cmdline`)?.replace(/\0/g, " ") ?? "";
    const port = /\((\d+)\)/.exec(title)?.[1];
    if (port && ports.has(Number(port))) out.push(p.pid);
  }
  return out;
}
