import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { describeStrategy, Sandbox, type SignalsResult } from "../../src/backtest/sandbox/index.ts";
import { bool, choice, defineStrategy, float, int } from "../../src/backtest/strategy.ts";
import { ta } from "../../src/backtest/ta/index.ts";
import { sliceBars } from "../../src/domain/bars.ts";
import type { Signals } from "../../src/domain/signals.ts";
import { EMA_CROSS, FLAT, strategyWith, syntheticBars } from "../support/sandbox-fixtures.ts";

const sandbox = new Sandbox();
afterAll(() => sandbox.dispose());

const bars = syntheticBars(2000);

function ok(result: SignalsResult): Extract<SignalsResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result;
}

function events(signals: Signals) {
  if (signals.kind !== "events") throw new Error("expected event signals");
  return signals;
}

function target(signals: Signals): Float64Array {
  if (signals.kind !== "target") throw new Error("expected target signals");
  return signals.target;
}

describe("Sandbox: normal strategies", () => {
  it("computes the same EMA-cross events as the ta library run in the host", async () => {
    const result = ok(await sandbox.run(EMA_CROSS, bars, { fast: 8 }));
    const f = ta.ema(bars.close, 8);
    const s = ta.ema(bars.close, 26);
    const got = events(result.signals);
    expect(got.enterLong).toEqual(ta.crossover(f, s));
    expect(got.exitLong).toEqual(ta.crossunder(f, s));
    expect(got.enterLong.reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
    expect(result.params).toEqual({ fast: 8, slow: 26 });
    expect(result.meta).toEqual({
      name: "ema-cross",
      family: "trend",
      description: "Long while the fast EMA is above the slow EMA.",
      params: {
        fast: { type: "int", min: 5, max: 50, default: 12 },
        slow: { type: "int", min: 10, max: 200, default: 26 },
      },
    });
  });

  it("runs a definition the same in the host and in the sandbox, with typed params", async () => {
    // The signals body is shared verbatim, so the host definition type-checks what the sandbox runs.
    const body = `const ma = p.kind === "ema" ? ta.ema(bars.close, p.length) : ta.sma(bars.close, p.length);
      const t = new Float64Array(bars.close.length);
      for (let i = 0; i < t.length; i++) {
        const gap = (bars.close[i] - ma[i]) / ma[i];
        t[i] = gap === gap ? Math.max(-1, Math.min(1, (p.invert ? -gap : gap) * p.scale)) : 0;
      }
      return { target: t };`;
    const host = defineStrategy({
      name: "ma-gap",
      family: "mean-reversion",
      description: "Position proportional to the gap from a moving average.",
      params: {
        length: int(2, 100, 20),
        kind: choice(["sma", "ema"], "sma"),
        invert: bool(true),
        scale: float(1, 100, 50),
      },
      signals(bars, p, ta) {
        const kind: "sma" | "ema" = p.kind;
        const invert: boolean = p.invert;
        const length: number = p.length;
        // @ts-expect-error: only declared params exist on p
        void p.lenght;
        return new Function("bars", "p", "ta", body)(bars, { ...p, kind, invert, length }, ta);
      },
    });
    const source = `import { bool, choice, defineStrategy, float, int } from "alphaloop/strategy";
export default defineStrategy({
  name: "ma-gap", family: "mean-reversion", description: "Position proportional to the gap from a moving average.",
  params: { length: int(2, 100, 20), kind: choice(["sma", "ema"], "sma"), invert: bool(true), scale: float(1, 100, 50) },
  signals(bars, p, ta) { ${body} },
});`;
    const params = { length: 15, kind: "ema", invert: false, scale: 20 } as const;
    const inHost = host.signals(bars, params, ta);
    const inSandbox = ok(await sandbox.run(source, bars, params));
    expect("target" in inHost && inHost.target).toEqual(target(inSandbox.signals));
    expect(inSandbox.meta.params).toEqual(host.params);
  });

  it("accepts booleans and plain arrays for events and maps them to 0/1", async () => {
    const body = `const up = Array.from(bars.close, (c, i) => i > 0 && c > bars.close[i - 1]);
    return { enterLong: up, exitLong: up.map((u) => !u), enterShort: new Uint8Array(bars.close.length) };`;
    const got = events(ok(await sandbox.run(strategyWith(body), bars)).signals);
    for (let i = 1; i < bars.close.length; i++) {
      const up = (bars.close[i] as number) > (bars.close[i - 1] as number) ? 1 : 0;
      expect(got.enterLong[i]).toBe(up);
      expect(got.exitLong[i]).toBe(1 - up);
    }
    expect(got.enterShort?.every((v) => v === 0)).toBe(true);
    expect(got.exitShort).toBeUndefined();
  });

  it("takes event series that are views at any byte offset", async () => {
    for (const offset of [0, 1, 2, 3, 4]) {
      const body = `const n = bars.close.length;
    const enter = new Uint8Array(n + ${offset}).subarray(${offset});
    const exit = new Uint8Array(n + ${offset}).subarray(${offset});
    for (let i = 0; i < n; i++) { enter[i] = i % 3 === 0 ? 1 : 0; exit[i] = i % 5 === 1 ? 1 : 0; }
    return { enterLong: enter, exitLong: exit };`;
      const got = events(ok(await sandbox.run(strategyWith(body), bars)).signals);
      expect(got.enterLong.length).toBe(bars.close.length);
      expect(Array.from(got.enterLong).every((v, i) => v === (i % 3 === 0 ? 1 : 0))).toBe(true);
      expect(Array.from(got.exitLong).every((v, i) => v === (i % 5 === 1 ? 1 : 0))).toBe(true);
    }
  });

  it("returns target positions, treating a leading NaN warm-up as flat", async () => {
    const body = `const t = new Float64Array(bars.close.length).fill(NaN);
    for (let i = 10; i < t.length; i++) t[i] = i % 2 ? 0.5 : -1;
    return { target: t };`;
    const got = target(ok(await sandbox.run(strategyWith(body), bars)).signals);
    expect(Array.from(got.subarray(0, 10))).toEqual(new Array(10).fill(0));
    expect(got[10]).toBe(-1);
    expect(got[11]).toBe(0.5);
  });

  it("fills param defaults and refuses params outside the declared ranges", async () => {
    expect(ok(await sandbox.run(EMA_CROSS, bars)).params).toEqual({ fast: 12, slow: 26 });
    const bad = await sandbox.run(EMA_CROSS, bars, { fast: 500, slwo: 3 });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.error.kind).toBe("policy");
    expect(bad.error.message).toContain("params.fast: 500 is outside the declared range [5, 50]");
    expect(bad.error.message).toContain("did you mean slow?");
  });

  it("describes a strategy without calling signals", async () => {
    const source = strategyWith('throw new Error("signals must not run");');
    const described = await describeStrategy(source);
    expect(described).toEqual({
      ok: true,
      meta: {
        name: "probe",
        family: "test",
        description: "a test strategy",
        params: { n: { type: "int", min: 1, max: 10, default: 3 } },
      },
    });
  });

  it("rejects a definition whose declared default is outside its own range", async () => {
    const source = EMA_CROSS.replace("int(5, 50, 12)", "int(5, 50, 99)");
    const result = await sandbox.describe(source);
    expect(result).toEqual({
      ok: false,
      error: { kind: "invalid_output", message: "param 'fast': default 99 is outside [5, 50]" },
    });
  });

  it("runs one loaded strategy on many windows, each seeing only its own bars", async () => {
    const source = strategyWith(`console.log(bars.close.length, bars.close.buffer.byteLength, bars.time[0]);
    return { target: ta.ema(bars.close, 5).map((v) => (v === v ? Math.sign(bars.close[bars.close.length - 1] - v) : NaN)) };`);
    const loaded = await sandbox.load(source);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const handle = loaded.handle;
    try {
      for (const [from, to] of [
        [0, 500],
        [500, 1200],
        [1200, 2000],
      ] as const) {
        const window = sliceBars(bars, from, to);
        const viaHandle = ok(await handle.signals(window));
        const fresh = ok(await sandbox.run(source, window));
        expect(target(viaHandle.signals)).toEqual(target(fresh.signals));
        expect(viaHandle.logs).toEqual([`${to - from} ${(to - from) * 8} ${bars.time[from]}`]);
      }
    } finally {
      handle.dispose();
    }
  });

  it("keeps no state between calls: the module is instantiated afresh and globals are frozen", async () => {
    const source = strategyWith(
      `calls += 1;
    let stored = "no";
    try { globalThis.cache = bars.close; stored = "yes"; } catch { stored = "refused"; }
    console.log(calls, stored, typeof globalThis.cache);
    return { target: new Float64Array(bars.close.length).fill(calls / 10) };`,
      "let calls = 0;",
    );
    const loaded = await sandbox.load(source);
    if (!loaded.ok) throw new Error(loaded.error.message);
    const first = ok(await loaded.handle.signals(bars));
    const second = ok(await loaded.handle.signals(bars));
    loaded.handle.dispose();
    expect(first.logs).toEqual(["1 refused undefined"]);
    expect(second.logs).toEqual(["1 refused undefined"]);
    expect(target(second.signals)[0]).toBe(0.1);
  });

  it("seeds Math.random: same seed, same draws; another seed, other draws", async () => {
    const source = strategyWith(
      "return { target: Float64Array.from(bars.close, () => Math.random() * 2 - 1) };",
    );
    const a = target(ok(await sandbox.run(source, bars)).signals);
    const b = target(ok(await sandbox.run(source, bars)).signals);
    const c = target(ok(await sandbox.run(source, bars, {}, { seed: 42 })).signals);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(new Set(a).size).toBe(a.length);
  });

  it("Math.random cannot be replaced by a strategy", async () => {
    const source = strategyWith(`let replaced = "no";
    try { Math.random = () => 0.5; replaced = Math.random() === 0.5 ? "yes" : "no"; } catch { replaced = "threw"; }
    let redefined = "no";
    try { Object.defineProperty(Math, "random", { value: () => 0.5 }); redefined = "yes"; } catch { redefined = "threw"; }
    console.log(replaced, redefined);
    return { target: Float64Array.from(bars.close, () => Math.random() * 2 - 1) };`);
    const seeded = strategyWith(
      "return { target: Float64Array.from(bars.close, () => Math.random() * 2 - 1) };",
    );
    const r = ok(await sandbox.run(source, bars));
    expect(r.logs).toEqual(["threw threw"]);
    expect(target(r.signals)).toEqual(target(ok(await sandbox.run(seeded, bars)).signals));
  });

  it("forbids reading the clock but allows dates built from bar times", async () => {
    const hours = strategyWith(
      "return { target: Float64Array.from(bars.time, (t) => (new Date(t).getUTCHours() < 12 ? 1 : 0)) };",
    );
    const got = target(ok(await sandbox.run(hours, bars)).signals);
    expect(got[0]).toBe(new Date(bars.time[0] as number).getUTCHours() < 12 ? 1 : 0);
    for (const call of ["Date.now()", "new Date()", "Date()", "performance.now()"]) {
      const result = await sandbox.run(strategyWith(`const t = ${call};\n${FLAT}`), bars);
      expect(result.ok ? "ok" : result.error).toMatchObject({ kind: "policy", line: 6 });
    }
  });

  it("reports compile errors at the strategy's own line and column", async () => {
    const result = await sandbox.run(strategyWith("const x = ;\n    return x;"), bars);
    expect(result.ok ? "ok" : result.error).toEqual({
      kind: "compile",
      message: 'Unexpected ";"',
      line: 6,
      column: 11,
    });
  });

  it("reports runtime errors at the strategy's own line, in helpers and at top level too", async () => {
    const inSignals = await sandbox.run(strategyWith("const a = 1;\n    return bars.nope.length;"), bars);
    expect(inSignals.ok ? "ok" : inSignals.error).toMatchObject({ kind: "runtime", line: 7 });
    if (!inSignals.ok)
      expect(inSignals.error.message).toMatch(/^TypeError: .*'length'\) \(strategy\.ts:7:\d+\)$/);

    const helper = "function helper(x) {\n  return x.missing.deeper;\n}";
    const viaHelper = await sandbox.run(strategyWith("return helper(bars);", helper), bars);
    expect(viaHelper.ok ? "ok" : viaHelper.error).toMatchObject({ kind: "runtime", line: 3 });

    const topLevel = await sandbox.run(strategyWith(FLAT, 'throw new Error("at load");'), bars);
    expect(topLevel.ok ? "ok" : topLevel.error).toMatchObject({ kind: "runtime", line: 2 });
  });

  it("transfers 1M bars intact, every column", async () => {
    const big = syntheticBars(1_000_000, 3);
    const source =
      strategyWith(`const sums = [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume].map((c) => {
      let s = 0;
      for (let i = 0; i < c.length; i++) s += c[i];
      return s;
    });
    console.log(JSON.stringify(sums));
    return { target: bars.close.map((c, i) => (c > bars.open[i] ? 1 : -1)) };`);
    const result = ok(await sandbox.run(source, big));
    const sum = (c: Float64Array) => c.reduce((a, b) => a + b, 0);
    expect(JSON.parse(result.logs[0] ?? "[]")).toEqual(
      [big.time, big.open, big.high, big.low, big.close, big.volume].map(sum),
    );
    const got = target(result.signals);
    expect(got.length).toBe(1_000_000);
    for (const i of [0, 1, 499_999, 999_999]) {
      expect(got[i]).toBe((big.close[i] as number) > (big.open[i] as number) ? 1 : -1);
    }
  });

  it("copies in only the bar columns the strategy names", async () => {
    const loaded = await sandbox.load(EMA_CROSS);
    if (!loaded.ok) throw new Error(loaded.error.message);
    try {
      expect(loaded.handle.loadedColumns).toEqual(["close"]);
      ok(await loaded.handle.signals(bars, { fast: 8 }));
      expect(loaded.handle.loadedColumns).toEqual(["close"]);
    } finally {
      loaded.handle.dispose();
    }
  });

  it("a column read the names did not reveal is copied in and the call re-run, never computed without it", async () => {
    // Computed keys: the source never spells the column's name.
    const source = strategyWith(`const v = bars[String.fromCharCode(118, 111, 108, 117, 109, 101)];
    const o = bars[["o", "pen"].join("")];
    return { target: bars.close.map((c, i) => (v[i] > 0 && c > o[i] ? 1 : -1)) };`);
    const loaded = await sandbox.load(source);
    if (!loaded.ok) throw new Error(loaded.error.message);
    try {
      expect(loaded.handle.loadedColumns).toEqual(["close"]);
      const got = target(ok(await loaded.handle.signals(bars)).signals);
      expect(got).toEqual(
        bars.close.map((c, i) => ((bars.volume[i] as number) > 0 && c > (bars.open[i] as number) ? 1 : -1)),
      );
      expect(loaded.handle.loadedColumns).toEqual(["open", "close", "volume"]);
      // Later calls copy them in from the start.
      expect(target(ok(await loaded.handle.signals(sliceBars(bars, 100, 900))).signals)).toEqual(
        got.subarray(100, 900),
      );
    } finally {
      loaded.handle.dispose();
    }
  });

  it("a strategy that swallows the missing column's error is still re-run with the column", async () => {
    const source = strategyWith(`let h;
    try { h = bars[String.fromCharCode(104, 105, 103, 104)]; } catch { h = bars.close; }
    return { target: bars.close.map((c, i) => (h[i] > c ? 1 : 0)) };`);
    const got = target(ok(await sandbox.run(source, bars)).signals);
    // high > close on most bars; with close standing in for high it would be all zeros.
    expect(got).toEqual(bars.close.map((c, i) => ((bars.high[i] as number) > c ? 1 : 0)));
    expect(got.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  });

  it("bundles the ta library named by taEntry", async () => {
    const entry = fileURLToPath(new URL("../support/sandbox-ta-double.ts", import.meta.url));
    const withDouble = new Sandbox({ taEntry: entry });
    try {
      const source = strategyWith(`console.log(Object.keys(ta).sort().join(","));\n${FLAT}`);
      expect(ok(await withDouble.run(source, bars)).logs).toEqual(["crossover,crossunder,ema"]);
    } finally {
      withDouble.dispose();
    }
  });
});
