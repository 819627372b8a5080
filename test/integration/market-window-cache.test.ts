import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Bars } from "../../src/domain/bars.ts";
import { readBarsFile, WindowCache, writeBarsFile } from "../../src/market/window-cache.ts";

const dir = mkdtempSync(join(tmpdir(), "alphaloop-wc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bars(n: number, seed = 1): Bars {
  const f = (k: number) => Float64Array.from({ length: n }, (_, i) => seed * 1000 + k * 10 + i * 0.5);
  return {
    time: Float64Array.from({ length: n }, (_, i) => 1.7e12 + i * 60_000),
    open: f(1),
    high: f(2),
    low: f(3),
    close: f(4),
    volume: f(5),
  };
}

const asArrays = (b: Bars) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Array.from(v as Float64Array)]));

describe("bar cache files", () => {
  it("round-trips every field exactly", () => {
    const b = bars(257);
    writeBarsFile(join(dir, "rt.bars"), b);
    expect(asArrays(readBarsFile(join(dir, "rt.bars"))!)).toEqual(asArrays(b));
  });

  it("treats a missing, truncated or foreign file as a miss", () => {
    writeBarsFile(join(dir, "t.bars"), bars(10));
    const full = readBarsFile(join(dir, "t.bars"))!;
    writeFileSync(join(dir, "t.bars"), Buffer.from(new Uint8Array(full.time.buffer).subarray(0, 100)));
    expect(readBarsFile(join(dir, "t.bars"))).toBeUndefined();
    writeFileSync(join(dir, "x.bars"), "hello");
    expect(readBarsFile(join(dir, "x.bars"))).toBeUndefined();
    expect(readBarsFile(join(dir, "none.bars"))).toBeUndefined();
  });
});

describe("WindowCache", () => {
  const key = { symbol: "BTCUSDT", timeframe: "1m", revision: "r1", from: 0, to: 10 };

  it("serves from memory, then from file in a fresh cache over the same folder", () => {
    const sub = join(dir, "a");
    const a = new WindowCache({ dir: sub });
    expect(a.get(key)).toBeUndefined();
    a.put(key, bars(5));
    expect(a.get(key)?.source).toBe("memory");
    const b = new WindowCache({ dir: sub });
    const hit = b.get(key);
    expect(hit?.source).toBe("file");
    expect(asArrays(hit!.bars)).toEqual(asArrays(bars(5)));
    expect(b.get({ ...key, to: 11 })).toBeUndefined();
  });

  it("deletes a dataset's files from older revisions when a newer one is stored", () => {
    const sub = join(dir, "b");
    const c = new WindowCache({ dir: sub });
    c.put(key, bars(5));
    c.put({ ...key, symbol: "ETHUSDT" }, bars(5));
    c.put({ ...key, revision: "r2" }, bars(6, 2));
    expect(readdirSync(sub).sort()).toEqual(["BTCUSDT_1m_r2_0_10.bars", "ETHUSDT_1m_r1_0_10.bars"]);
    expect(new WindowCache({ dir: sub }).get(key)).toBeUndefined();
  });

  it("evicts the least recently used windows past its memory budget", () => {
    const c = new WindowCache({ maxMemoryBytes: 48 * 25 });
    c.put({ ...key, from: 1 }, bars(10));
    c.put({ ...key, from: 2 }, bars(10));
    c.get({ ...key, from: 1 });
    c.put({ ...key, from: 3 }, bars(10));
    expect(c.get({ ...key, from: 2 })).toBeUndefined();
    expect(c.get({ ...key, from: 1 })?.source).toBe("memory");
    expect(c.get({ ...key, from: 3 })?.source).toBe("memory");
  });

  it("forgets a dataset's windows from memory", () => {
    const c = new WindowCache();
    c.put(key, bars(3));
    c.forgetDataset("BTCUSDT", "1m");
    expect(c.get(key)).toBeUndefined();
  });
});
