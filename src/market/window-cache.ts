/**
 * Cache of loaded bar windows, so repeated backtests never go back to the database: a memory layer
 * (LRU by bytes) over a binary file layer under `<ALPHALOOP_HOME>/cache/bars`. Keys carry the
 * dataset's revision, which changes whenever its bars change, so a stale entry is never served;
 * superseded files of a dataset are deleted when a newer one is written.
 *
 * File layout: "ALPB", u32 format version, f64 bar count, then time/open/high/low/close/volume as
 * little-endian float64 arrays back to back (48 bytes per bar). Files are written to a temporary
 * name and renamed, so a reader never sees half a file.
 *
 * Cached arrays are shared between callers: treat them as read-only.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { BAR_FIELDS, type Bars } from "../domain/bars.ts";
import { alphaloopHome } from "../store/home.ts";

export interface WindowKey {
  readonly symbol: string;
  readonly timeframe: string;
  readonly revision: string;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

const MAGIC = 0x42504c41; // "ALPB" read as little-endian u32
const FORMAT = 1;
const HEADER = 16;

function datasetPrefix(symbol: string, timeframe: string): string {
  return `${symbol}_${timeframe}_`;
}

function fileName(k: WindowKey): string {
  const win = `${k.from ?? "start"}_${k.to ?? "end"}`;
  return `${datasetPrefix(k.symbol, k.timeframe)}${k.revision}_${win}.bars`;
}

function byteSize(b: Bars): number {
  return b.time.length * 48;
}

export class WindowCache {
  readonly dir: string | undefined;
  private readonly maxMemoryBytes: number;
  private readonly memory = new Map<string, Bars>();
  private memoryBytes = 0;

  /** `dir: undefined` keeps the cache in memory only. */
  constructor(opts: { dir?: string | undefined; maxMemoryBytes?: number } = {}) {
    this.dir = opts.dir;
    this.maxMemoryBytes = opts.maxMemoryBytes ?? 512 * 2 ** 20;
  }

  get(k: WindowKey): { bars: Bars; source: "memory" | "file" } | undefined {
    const name = fileName(k);
    const hit = this.memory.get(name);
    if (hit) {
      // Re-insert to mark as most recently used.
      this.memory.delete(name);
      this.memory.set(name, hit);
      return { bars: hit, source: "memory" };
    }
    if (!this.dir) return undefined;
    const bars = readBarsFile(join(this.dir, name));
    if (!bars) return undefined;
    this.remember(name, bars);
    return { bars, source: "file" };
  }

  put(k: WindowKey, bars: Bars): void {
    const name = fileName(k);
    this.remember(name, bars);
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true });
    const prefix = datasetPrefix(k.symbol, k.timeframe);
    for (const f of readdirSync(this.dir)) {
      if (f.startsWith(prefix) && !f.startsWith(`${prefix}${k.revision}_`))
        rmSync(join(this.dir, f), { force: true });
    }
    writeBarsFile(join(this.dir, name), bars);
  }

  /** Drop a dataset's windows from memory (files are superseded by revision on the next put). */
  forgetDataset(symbol: string, timeframe: string): void {
    const prefix = datasetPrefix(symbol, timeframe);
    for (const [name, bars] of this.memory) {
      if (name.startsWith(prefix)) {
        this.memory.delete(name);
        this.memoryBytes -= byteSize(bars);
      }
    }
  }

  clearMemory(): void {
    this.memory.clear();
    this.memoryBytes = 0;
  }

  private remember(name: string, bars: Bars): void {
    const size = byteSize(bars);
    if (size > this.maxMemoryBytes) return;
    const old = this.memory.get(name);
    if (old) this.memoryBytes -= byteSize(old);
    this.memory.set(name, bars);
    this.memoryBytes += size;
    for (const [n, b] of this.memory) {
      if (this.memoryBytes <= this.maxMemoryBytes) break;
      this.memory.delete(n);
      this.memoryBytes -= byteSize(b);
    }
  }
}

export function writeBarsFile(path: string, bars: Bars): void {
  const n = bars.time.length;
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(FORMAT, 4);
  header.writeDoubleLE(n, 8);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, header);
    // Typed arrays are little-endian on every platform Node supports (x64, arm64).
    for (const f of BAR_FIELDS) {
      const a = bars[f];
      writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The bars in a cache file, or undefined if it is missing or not a complete cache file. */
export function readBarsFile(path: string): Bars | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.byteLength < HEADER || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== FORMAT)
    return undefined;
  const n = buf.readDoubleLE(8);
  if (!Number.isSafeInteger(n) || buf.byteLength !== HEADER + n * 48) return undefined;
  // Float64Array views need 8-byte alignment; a pooled Buffer might not give it.
  const bytes = buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf);
  const view = (k: number) => new Float64Array(bytes.buffer, bytes.byteOffset + HEADER + k * n * 8, n);
  return { time: view(0), open: view(1), high: view(2), low: view(3), close: view(4), volume: view(5) };
}

let shared: WindowCache | undefined;

/** The process-wide cache: files under `<ALPHALOOP_HOME>/cache/bars` (or ALPHALOOP_CACHE_DIR). */
export function defaultWindowCache(): WindowCache {
  shared ??= new WindowCache({
    dir: process.env["ALPHALOOP_CACHE_DIR"] ?? join(alphaloopHome(), "cache", "bars"),
  });
  return shared;
}
