/**
 * Bad and hostile candidates: each must come back as its structured error within its limit, and
 * the same Sandbox must then run a normal candidate as if nothing happened.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Sandbox, type SandboxErrorKind, type SignalsResult } from "../../src/backtest/sandbox/index.ts";
import { EMA_CROSS, FLAT, strategyWith, syntheticBars } from "../support/sandbox-fixtures.ts";

const TIME_LIMIT_MS = 250;
const sandbox = new Sandbox({ timeoutMs: TIME_LIMIT_MS, memoryLimitMb: 64 });
// Filling a heap takes longer than the tiny time limit on a busy machine, so memory bombs get room.
const roomy = new Sandbox({ timeoutMs: 20_000, memoryLimitMb: 32 });
afterAll(() => {
  sandbox.dispose();
  roomy.dispose();
});

const bars = syntheticBars(500);

interface Expected {
  kind: SandboxErrorKind;
  message?: RegExp;
  line?: number;
  /** Wall-time budget for the whole failed run, ms. */
  within?: number;
  in?: Sandbox;
}

async function expectFailure(source: string, expected: Expected): Promise<void> {
  const box = expected.in ?? sandbox;
  const t0 = performance.now();
  const result: SignalsResult = await box.run(source, bars);
  const elapsed = performance.now() - t0;
  expect(result.ok ? "unexpected success" : result.error.kind).toBe(expected.kind);
  if (result.ok) return;
  if (expected.message) expect(result.error.message).toMatch(expected.message);
  if (expected.line !== undefined) expect(result.error.line).toBe(expected.line);
  // Generous slack over the limit: other test files share the CPU.
  expect(elapsed).toBeLessThan(expected.within ?? TIME_LIMIT_MS + 3000);
  // The host still works and the same sandbox runs the next candidate normally.
  const next = await box.run(EMA_CROSS, bars);
  expect(next.ok ? "ok" : next.error).toBe("ok");
}

/** One candidate, loaded once and called twice on the same bars (state must not carry over). */
async function twoCalls(source: string, input = bars): Promise<[SignalsResult, SignalsResult]> {
  const loaded = await sandbox.load(source);
  if (!loaded.ok) throw new Error(loaded.error.message);
  try {
    return [await loaded.handle.signals(input), await loaded.handle.signals(input)];
  } finally {
    loaded.handle.dispose();
  }
}

describe("Sandbox: hostile and broken candidates", () => {
  it("stops an infinite loop in signals at the time limit", async () => {
    await expectFailure(strategyWith("while (true) {}"), {
      kind: "timeout",
      message: /time limit of 250 ms/,
    });
  });

  it("stops an infinite loop at module top level", async () => {
    await expectFailure(strategyWith(FLAT, "for (;;) {}"), { kind: "timeout" });
  });

  it("stops an endless microtask chain", async () => {
    const body = `Promise.resolve().then(function again() { return Promise.resolve().then(again); });\n${FLAT}`;
    await expectFailure(strategyWith(body), { kind: "timeout" });
  });

  it("stops a getter on the output that never returns", async () => {
    const body = "return { get target() { for (;;) {} } };";
    await expectFailure(strategyWith(body), { kind: "timeout" });
  });

  it("survives a heap memory bomb: the isolate is replaced for the next candidate", async () => {
    const body = "const hoard = [];\n    for (;;) hoard.push(new Array(1e5).fill(1.5));";
    await expectFailure(strategyWith(body), {
      kind: "memory",
      message: /memory limit of 32 MB/,
      in: roomy,
      within: 10_000,
    });
  });

  it("survives a typed-array memory bomb", async () => {
    const body = "const hoard = [];\n    for (;;) hoard.push(new Float64Array(1e6));";
    await expectFailure(strategyWith(body), {
      kind: "memory",
      message: /memory limit of 32 MB/,
      line: 7,
      in: roomy,
    });
  });

  it("turns process, require and constructor escapes into policy errors", async () => {
    await expectFailure(strategyWith("process.exit(1);"), { kind: "policy", message: /process/, line: 6 });
    await expectFailure(strategyWith('const m = "fs";\n    require(m);'), {
      kind: "policy",
      message: /require/,
    });
    await expectFailure(strategyWith('return this.constructor.constructor("return process")();'), {
      kind: "policy",
      message: /process is not available/,
      line: 6,
    });
    await expectFailure(
      strategyWith('const proc = bars.constructor.constructor("return process")();\n    proc.exit(1);'),
      {
        kind: "policy",
        message: /process is not available/,
      },
    );
    await expectFailure(
      strategyWith('const proc = globalThis.constructor.constructor("return process")();'),
      {
        kind: "policy",
      },
    );
    await expectFailure(
      strategyWith('const g = (function () {}).constructor("return this")();\n    g.require("fs");'),
      {
        kind: "policy",
      },
    );
    expect(typeof process.exit).toBe("function");
  });

  it("guards the ta library's shared realm like the strategy's own", async () => {
    // ta lives in one realm per isolate, shared by every candidate: its arrays' prototypes and its
    // functions' constructors lead there.
    await expectFailure(strategyWith(`Object.getPrototypeOf(ta.sma(bars.close, 3)).evil = 1;\n${FLAT}`), {
      kind: "policy",
      message: /Float64Array\.prototype\.evil \(in the realm of the shared ta library\)/,
    });
    // Code cannot be made in that realm: V8 refuses its Function constructor to the candidate's.
    for (const code of [
      "Object.prototype.leak = 1",
      "return Date.now()",
      "return process",
      "this.stash = 1",
    ]) {
      await expectFailure(strategyWith(`return ta.sma.constructor(${JSON.stringify(code)})();`), {
        kind: "runtime",
        message: /no access/,
      });
    }
    await expectFailure(
      strategyWith(
        `return Object.getPrototypeOf(ta.sma(bars.close, 3)).constructor.constructor("return this")();`,
      ),
      {
        kind: "runtime",
        message: /no access/,
      },
    );
    await expectFailure(strategyWith(`ta.stash = bars.close;\n${FLAT}`), { kind: "runtime" });
    const probe = strategyWith(
      `if ("evil" in ta.sma(bars.close, 3) || "stash" in ta) throw new Error("leaked");
    ${FLAT}`,
    );
    const next = await sandbox.run(probe, bars);
    expect(next.ok ? "ok" : next.error).toBe("ok");
  });

  it("blames the candidate whose microtask changed the ta realm, and spares the next one", async () => {
    // The microtask runs after the call's last check: the candidate's next call is refused.
    const source =
      strategyWith(`Promise.resolve().then(() => { Object.getPrototypeOf(ta.sma(bars.close, 3)).late = 1; });
    ${FLAT}`);
    const [first, second] = await twoCalls(source);
    expect(first.ok ? "ok" : first.error).toBe("ok");
    expect(second.ok ? "ok" : second.error.message).toMatch(/Float64Array\.prototype\.late/);
    // A candidate that never calls again leaves the change to the next one, which is run in a
    // fresh isolate instead of being blamed.
    const once = await sandbox.run(source, bars);
    expect(once.ok ? "ok" : once.error).toBe("ok");
    const next = await sandbox.run(
      strategyWith(`if ("late" in ta.sma(bars.close, 3)) throw new Error("leaked");\n${FLAT}`),
      bars,
    );
    expect(next.ok ? "ok" : next.error).toBe("ok");
  });

  it("blames a candidate that changed the ta realm and then ran out of time", async () => {
    await expectFailure(
      strategyWith("Object.getPrototypeOf(ta.sma(bars.close, 3)).spun = 1;\n    for (;;) {}"),
      {
        kind: "policy",
        message: /Float64Array\.prototype\.spun/,
      },
    );
    const next = await sandbox.run(
      strategyWith(`if ("spun" in ta.sma(bars.close, 3)) throw new Error("leaked");\n${FLAT}`),
      bars,
    );
    expect(next.ok ? "ok" : next.error).toBe("ok");
  });

  it("reports a memory bomb inside ta as memory", async () => {
    const body = "const hoard = [];\n    for (;;) hoard.push(ta.sma(bars.close, 2), new Float64Array(1e6));";
    await expectFailure(strategyWith(body), { kind: "memory", message: /memory limit of 32 MB/, in: roomy });
  });

  it("keeps fetch, timers and WebAssembly out", async () => {
    await expectFailure(strategyWith('fetch("http://127.0.0.1");'), { kind: "policy", message: /network/ });
    await expectFailure(strategyWith("setTimeout(() => {}, 1);"), { kind: "policy", message: /timers/ });
    await expectFailure(strategyWith("WebAssembly.compile(new Uint8Array(8));"), {
      kind: "runtime",
      message: /WebAssembly is not defined/,
    });
  });

  it("cannot pollute prototypes, neither the host's nor the next candidate's", async () => {
    // Most intrinsics are frozen: assigning to them throws in the strategy's strict code.
    await expectFailure(strategyWith(`Math.max = () => 0;\n${FLAT}`), { kind: "runtime", line: 6 });
    await expectFailure(strategyWith(`JSON.stringify = () => "";\n${FLAT}`), { kind: "runtime", line: 6 });
    // Object, Array and the typed arrays stay unfrozen for speed; changing them is caught after the call.
    await expectFailure(strategyWith(`Object.prototype.polluted = 1;\n${FLAT}`), {
      kind: "policy",
      message: /changed the built-in Object\.prototype\.polluted/,
    });
    await expectFailure(strategyWith(`Array.prototype.push = () => 0;\n${FLAT}`), {
      kind: "policy",
      message: /Array\.prototype\.push/,
    });
    await expectFailure(strategyWith(`bars.close.__proto__.__proto__.evil = 1;\n${FLAT}`), {
      kind: "policy",
      message: /TypedArray\.prototype\.evil/,
    });
    await expectFailure(strategyWith(`Object.setPrototypeOf(Array.prototype, null);\n${FLAT}`), {
      kind: "policy",
      message: /prototype of Array\.prototype/,
    });
    await expectFailure(strategyWith('throw new Error("and now " + (Object.keys = () => []));'), {
      kind: "policy",
    });
    await expectFailure(
      strategyWith(FLAT, 'Object.defineProperty(Object.prototype, "kind", { set() {} });'),
      {
        kind: "policy",
      },
    );
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((new Float64Array(1) as unknown as { evil?: unknown }).evil).toBeUndefined();
    expect(typeof [].push).toBe("function");
    const probe = strategyWith(
      `if (({}).polluted !== undefined || "evil" in bars.close || Object.getPrototypeOf(Array.prototype) === null) throw new Error("polluted");\n${FLAT}`,
    );
    const next = await sandbox.run(probe, bars);
    expect(next.ok ? "ok" : next.error).toBe("ok");
  });

  it("refuses every later call of a context whose built-ins were changed", async () => {
    // A strategy that stashes the first window's bars on a prototype to peek at them later.
    const source = strategyWith(`if (!Array.prototype.stash) Array.prototype.stash = [bars.close];\n${FLAT}`);
    const [first, second] = await twoCalls(source);
    expect(first.ok ? "ok" : first.error.kind).toBe("policy");
    expect(second.ok ? "ok" : second.error.message).toMatch(/Array\.prototype\.stash/);
  });

  it("catches built-ins changed by a microtask that runs after the call's own check", async () => {
    const source = strategyWith(`const stashed = Array.prototype.stash;
    if (stashed) delete Array.prototype.stash;
    else Promise.resolve().then(() => { Array.prototype.stash = bars.close; });
    console.log(stashed ? "peeked" : "stashed");
    ${FLAT}`);
    const [first, second] = await twoCalls(source);
    expect(first.ok && first.logs).toEqual(["stashed"]);
    expect(second.ok ? second.logs : second.error.kind).toBe("policy");
  });

  it("applies the same time limit and built-ins check to long inputs, which are called asynchronously", async () => {
    // Windows up to 65,536 bars are called synchronously, longer ones asynchronously.
    const long = syntheticBars(70_000);
    const spin = await sandbox.load(strategyWith("while (true) {}"));
    if (!spin.ok) throw new Error(spin.error.message);
    const spun = await spin.handle.signals(long);
    spin.handle.dispose();
    expect(spun.ok ? "ok" : spun.error.kind).toBe("timeout");
    const source = strategyWith(`const stashed = Array.prototype.stash;
    if (stashed) delete Array.prototype.stash;
    else Promise.resolve().then(() => { Array.prototype.stash = bars.close; });
    ${FLAT}`);
    const [first, second] = await twoCalls(source, long);
    expect(first.ok ? "ok" : first.error.kind).toBe("ok");
    expect(second.ok ? "ok" : second.error.kind).toBe("policy");
  });

  it("rejects outputs of the wrong shape, length or values", async () => {
    const cases: [string, RegExp][] = [
      ["return { target: new Float64Array(3) };", /target has length 3; expected 500/],
      ["return { enterLong: new Uint8Array(bars.close.length) };", /no exitLong/],
      [
        "const e = new Float64Array(bars.close.length); e[5] = NaN;\n    return { enterLong: e, exitLong: e };",
        /enterLong\[0\]|enterLong\[5\] is NaN/,
      ],
      [
        "const t = new Float64Array(bars.close.length); t[100] = NaN;\n    return { target: t };",
        /target\[100\] is NaN after the warm-up/,
      ],
      [
        "return { target: new Float64Array(bars.close.length).fill(1.5) };",
        /target\[0\] is 1.5; target must be in \[-1, 1\]/,
      ],
      ["return { target: new Float64Array(bars.close.length).fill(Infinity) };", /target\[0\] is Infinity/],
      ['return { target: Array.from(bars.close, () => "1") };', /target\[0\] is a string/],
      [
        "return { target: new Float64Array(bars.close.length), stopLoss: 1 };",
        /unknown key 'stopLoss'; allowed keys/,
      ],
      [
        "const z = new Uint8Array(bars.close.length);\n    return { enterLong: z, exitlong: z };",
        /unknown key 'exitlong'.*; did you mean exitLong\?$/,
      ],
      [
        "const z = new Uint8Array(bars.close.length);\n    return { target: new Float64Array(z.length), enterLong: z, exitLong: z };",
        /both target and event series/,
      ],
      [
        "const z = new Uint8Array(bars.close.length);\n    const e = new Uint8Array(z.length); e[7] = 2;\n    return { enterLong: e, exitLong: z };",
        /enterLong\[7\] is 2; event series hold only 0\/1/,
      ],
      [
        // The top bit of the last byte of an aligned word, for the four-bytes-at-a-time scan.
        "const z = new Uint8Array(bars.close.length);\n    const e = new Uint8Array(z.length); e[11] = 128;\n    return { enterLong: z, exitLong: e };",
        /exitLong\[11\] is 128; event series hold only 0\/1/,
      ],
      [
        // A view at an odd offset is scanned byte by byte, up to its last byte.
        "const z = new Uint8Array(bars.close.length);\n    const e = new Uint8Array(z.length + 1).subarray(1); e[e.length - 1] = 3;\n    return { enterLong: e, exitLong: z };",
        /enterLong\[\d+\] is 3; event series hold only 0\/1/,
      ],
      ["return null;", /got null/],
      ["return [1, 2];", /got an array/],
      [
        "return Promise.resolve({ target: new Float64Array(bars.close.length) });",
        /synchronously; got a Promise/,
      ],
    ];
    for (const [body, message] of cases)
      await expectFailure(strategyWith(body), { kind: "invalid_output", message });
  });

  it("rejects a module that does not export a strategy definition", async () => {
    await expectFailure('import { int } from "alphaloop/strategy";\nexport const x = int(1, 2, 1);\n', {
      kind: "invalid_output",
      message: /export default defineStrategy/,
    });
    await expectFailure(EMA_CROSS.replace("signals(bars, p, ta) {", "signalz(bars, p, ta) {"), {
      kind: "invalid_output",
      message: /no signals/,
    });
  });

  it("reports thrown errors, non-Error throws and hostile error objects", async () => {
    await expectFailure(strategyWith('throw new RangeError("bad window");'), {
      kind: "runtime",
      message: /^RangeError: bad window \(strategy\.ts:6:\d+\)$/,
      line: 6,
    });
    await expectFailure(strategyWith("throw 42;"), { kind: "runtime", message: /non-Error value: 42/ });
    await expectFailure(strategyWith("function f() { return f(); }\n    return f();"), {
      kind: "runtime",
      message: /Maximum call stack/,
    });
    await expectFailure(
      strategyWith(
        'const e = new Error("x");\n    Object.defineProperty(e, "name", { get() { for (;;) {} } });\n    throw e;',
      ),
      { kind: "timeout" },
    );
    await expectFailure(strategyWith('throw { toString() { throw new Error("nope"); } };'), {
      kind: "runtime",
      message: /cannot be described/,
    });
  });

  it("refuses a 10 MB source quickly, before compiling it", async () => {
    const huge = strategyWith(`// ${"x".repeat(10 * 1024 * 1024)}\n${FLAT}`);
    await expectFailure(huge, { kind: "policy", message: /10\.0 MB; the limit is 256 KB/, within: 1000 });
  });

  it("refuses imports of node modules and packages at the import's line", async () => {
    await expectFailure(strategyWith(FLAT, 'import { readFileSync } from "node:fs";'), {
      kind: "policy",
      message: /^import of 'node:fs' is not allowed: strategies may only import alphaloop\/strategy$/,
      line: 2,
    });
    await expectFailure(strategyWith(FLAT, 'import "child_process";'), { kind: "policy", line: 2 });
    await expectFailure(strategyWith(`const os = import("os");\n${FLAT}`), { kind: "policy", line: 6 });
  });

  it("enforces the default 2 s time limit", async () => {
    const defaults = new Sandbox();
    try {
      const t0 = performance.now();
      const result = await defaults.run(strategyWith("for (;;) {}"), bars);
      const elapsed = performance.now() - t0;
      expect(result.ok ? "ok" : result.error).toEqual({
        kind: "timeout",
        message: "the strategy exceeded the time limit of 2000 ms",
      });
      expect(elapsed).toBeGreaterThan(1900);
      expect(elapsed).toBeLessThan(5000);
      const next = await defaults.run(EMA_CROSS, bars);
      expect(next.ok).toBe(true);
    } finally {
      defaults.dispose();
    }
  });
});
