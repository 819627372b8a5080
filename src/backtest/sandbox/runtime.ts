/**
 * The JavaScript that sets up the sandbox's realms, kept as source text because it executes inside
 * the isolate, never in the host.
 *
 * Two kinds of realm (V8 contexts) share an isolate:
 *   - the harness realm, one per isolate: the `ta` bundle, the output validation and the bar
 *     columns' Float64Arrays. Every candidate's million-bar work runs through this code, and
 *     keeping it (and the maps of the arrays it reads) in one long-lived realm keeps V8's
 *     optimised code for it from one candidate to the next;
 *   - a fresh realm per candidate, holding the strategy module, its seeded Math.random, console
 *     capture and the driver.
 * Each realm swaps nondeterministic or host-ish globals for seeded or throwing ones and freezes its
 * global object and every reachable intrinsic, except the few that V8 needs unfrozen for fast
 * typed-array code; those are checked around every call instead, in both realms. So a strategy can
 * neither tamper with the harness code nor carry state from one `signals` call or candidate to the
 * next (the strategy module itself is instantiated afresh per call). Strategies reach the harness
 * realm only as data: V8 refuses them its Function constructor.
 *
 * The driver the host calls is `driver(op, factory, seed, params, n, time, open, high, low, close,
 * volume)`. The host copies in only the bar columns it expects the strategy to read and passes
 * undefined for the rest; such a column is a getter that records the read and throws, and a call
 * that read one (even if the strategy caught the throw) returns `missing_column` so the host
 * re-runs it with that column. A strategy therefore always computes on the real bars or not at all.
 *
 * The driver validates what `signals` returns and hands back plain typed arrays, so nothing the
 * strategy built (getters, proxies, prototypes) ever crosses into the host.
 */

/** Console lines kept per call; a strategy printing in a loop must not flood the result. */
export const MAX_LOG_LINES = 20;

/**
 * Freezes a realm and returns its built-ins check. Evaluated in both realms of a context pair: the
 * shared harness realm (ta, output validation) and each candidate's own realm. `roots` are frozen
 * along with the global object. The returned check gives a message naming the first change to an
 * unfrozen guarded built-in (sticky: once changed, always reported), or undefined.
 */
const LOCKDOWN = `
function alphaloopLockdown(g, roots, realm) {
  "use strict";
  // Freezing Object, Array, ArrayBuffer and the typed arrays (constructors and prototypes)
  // invalidates V8's fast-path protectors and makes typed-array code ~30x slower, so those stay
  // unfrozen and are instead snapshotted here and compared after every call: a strategy that
  // changes them fails with a policy error, and the realm refuses every later call.
  const TypedArray = Object.getPrototypeOf(Int8Array);
  const typedCtors = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array];
  const guardedList = [[Object, "Object"], [Array, "Array"], [ArrayBuffer, "ArrayBuffer"], [TypedArray, "TypedArray"]];
  for (const ctor of typedCtors) guardedList.push([ctor, ctor.name]);
  const guarded = [];
  for (const [ctor, name] of guardedList) guarded.push([ctor, name], [ctor.prototype, name + ".prototype"]);
  const ownKeys = Reflect.ownKeys;
  const getDescriptor = Reflect.getOwnPropertyDescriptor;
  const getProto = Reflect.getPrototypeOf;
  const isExtensible = Reflect.isExtensible;
  const snapshot = guarded.map(([o, name]) => {
    const descriptors = new Map();
    for (const key of ownKeys(o)) descriptors.set(key, getDescriptor(o, key));
    return { o, name, proto: getProto(o), extensible: isExtensible(o), descriptors };
  });
  const sameDescriptor = (a, b) => b !== undefined && a.value === b.value && a.get === b.get && a.set === b.set &&
    a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
  let tainted;
  const checkBuiltins = () => {
    if (tainted) return tainted;
    for (const { o, name, proto, extensible, descriptors } of snapshot) {
      let change;
      if (getProto(o) !== proto) change = "the prototype of " + name;
      else if (isExtensible(o) !== extensible) change = name + "'s extensibility";
      else {
        const keys = ownKeys(o);
        for (const key of keys) {
          if (!sameDescriptor(getDescriptor(o, key), descriptors.get(key))) { change = name + "." + String(key); break; }
        }
        if (!change && keys.length !== descriptors.size) change = "a property of " + name;
      }
      if (change) {
        tainted = "the strategy changed the built-in " + change + realm + "; strategies must not modify built-ins (it would let state leak between runs)";
        return tainted;
      }
    }
    return undefined;
  };

  const skipFreeze = new Set(guarded.map(([o]) => o));
  const seen = new WeakSet();
  const stack = [g, ...roots];
  while (stack.length > 0) {
    const o = stack.pop();
    if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o)) continue; // typed arrays with elements cannot be frozen
    if (!skipFreeze.has(o)) Object.freeze(o);
    stack.push(Object.getPrototypeOf(o));
    for (const key of Reflect.ownKeys(o)) {
      const d = Reflect.getOwnPropertyDescriptor(o, key);
      if (d === undefined) continue;
      if ("value" in d) stack.push(d.value);
      else stack.push(d.get, d.set);
    }
  }
  return checkBuiltins;
}`;

/**
 * Takes the clock, network, timers and host-ish globals away from a realm. Also run in the harness
 * realm as defence in depth: V8 already refuses a candidate the harness realm's Function
 * constructor (a cross-context call, "no access"), so no strategy code runs there today.
 */
const HARDEN = `
function alphaloopHarden(g, policy) {
  "use strict";
  // Dates from bar times are fine (hour-of-day filters); reading the clock is not.
  const RealDate = Date;
  const clock = "reading the clock is not allowed in a strategy: use bars.time (ms since epoch, UTC)";
  const SandboxDate = function Date(...args) {
    if (new.target === undefined || args.length === 0) throw policy(clock);
    return Reflect.construct(RealDate, args, new.target);
  };
  Object.defineProperty(SandboxDate, "prototype", { value: RealDate.prototype });
  SandboxDate.UTC = RealDate.UTC;
  SandboxDate.parse = RealDate.parse;
  SandboxDate.now = function now() { throw policy(clock); };
  Object.defineProperty(RealDate.prototype, "constructor", { value: SandboxDate });
  g.Date = SandboxDate;

  for (const name of ["WebAssembly", "SharedArrayBuffer", "Atomics"]) delete g[name];
  const denied = {
    process: "process is not available in the sandbox",
    require: "require is not available: strategies may only import alphaloop/strategy",
    module: "module is not available in the sandbox",
    global: "global is not available in the sandbox",
    Buffer: "Buffer is not available: use typed arrays",
    fetch: "network access is not allowed in a strategy",
    XMLHttpRequest: "network access is not allowed in a strategy",
    setTimeout: "timers are not available in a strategy",
    setInterval: "timers are not available in a strategy",
    setImmediate: "timers are not available in a strategy",
    queueMicrotask: "async work is not available in a strategy",
    performance: "reading the clock is not allowed in a strategy",
  };
  for (const name of Object.keys(denied)) {
    const message = denied[name];
    Object.defineProperty(g, name, { get() { throw policy(message); }, configurable: false });
  }
}`;

/**
 * The harness realm: one per isolate, shared by every candidate context in it. It holds the `ta`
 * library and the output validation, the code every candidate runs on a million bars: kept in one
 * realm, V8's optimised code and type feedback for it survive from one candidate to the next,
 * where a fresh copy per context was re-interpreted and re-optimised for every candidate (its first
 * 1M-bar call cost twice the steady state). Strategies reach this realm only through `ta` and the
 * arrays it returns; it is frozen like theirs, its guarded built-ins are checked around every call
 * of every candidate, and a change to them retires the whole isolate (see sandbox.ts).
 */
const HARNESS = `
function alphaloopHarness(ta) {
  "use strict";
  const policyErrors = new WeakSet();
  const policy = (message) => { const e = new Error(message); policyErrors.add(e); return e; };
  // Randomness belongs to the strategy's realm, where it is seeded per call; here it would be
  // neither seeded nor reset.
  Math.random = function random() { throw policy("Math.random is only available in the strategy's own code (seeded per call)"); };
  alphaloopHarden(globalThis, policy);
  const isPolicy = (e) => policyErrors.has(e);
  const checkBuiltins = alphaloopLockdown(globalThis, [ta], " (in the realm of the shared ta library)");
  const objectKeys = Object.keys;
  const isArray = Array.isArray;
  const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
  // Internal slots read through the intrinsic getters, so typed arrays from the candidate's realm
  // are recognised (instanceof is per realm) and own properties cannot lie about them.
  const tagOf = Reflect.getOwnPropertyDescriptor(TypedArrayProto, Symbol.toStringTag).get;
  const lengthOf = Reflect.getOwnPropertyDescriptor(TypedArrayProto, "length").get;
  const byteLengthOf = Reflect.getOwnPropertyDescriptor(TypedArrayProto, "byteLength").get;
  const byteOffsetOf = Reflect.getOwnPropertyDescriptor(TypedArrayProto, "byteOffset").get;
  const bufferOf = Reflect.getOwnPropertyDescriptor(TypedArrayProto, "buffer").get;
  const call = Function.prototype.call.bind(Function.prototype.call);

  const EVENT_KEYS = ["enterLong", "exitLong", "enterShort", "exitShort"];
  const ALLOWED = ["target", ...EVENT_KEYS];
  const ALLOWED_SET = new Set(ALLOWED);
  class Invalid { constructor(message, unknownKey) { this.message = message; this.unknownKey = unknownKey; } }
  const isTyped = (v) => typeof v === "object" && v !== null && call(tagOf, v) !== undefined;
  const isSeries = (v) => isArray(v) || isTyped(v);
  const typeName = (v) => {
    if (v === null) return "null";
    if (isArray(v)) return "an array";
    if (isTyped(v)) return "a " + call(tagOf, v);
    if (typeof v === "object" && typeof v.then === "function") return "a Promise";
    return typeof v === "object" ? "an object" : "a " + typeof v;
  };
  const valueName = (v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : typeName(v));
  const lengthOfSeries = (v) => (isArray(v) ? v.length : call(lengthOf, v));

  // The scans are functions of their own, each only a loop: code after a loop that V8 compiled
  // on the fly (OSR) had no type feedback and was thrown away on every call.
  function wordsAboveOne(words) {
    let high = 0;
    for (let w = 0; w < words.length; w++) high |= words[w] & 0xfefefefe;
    return high;
  }

  function bytesAboveOne(bytes, from) {
    let high = 0;
    for (let i = from; i < bytes.length; i++) high |= bytes[i] & 0xfe;
    return high;
  }

  function events(name, v, n) {
    if (!isSeries(v)) throw new Invalid(name + " must be a series of 0/1 or booleans (e.g. a Uint8Array); got " + typeName(v));
    const length = lengthOfSeries(v);
    if (length !== n) throw new Invalid(name + " has length " + length + "; expected " + n + " (one value per bar)");
    const out = new Uint8Array(n);
    if (!isArray(v) && call(tagOf, v) === "Uint8Array" && call(byteLengthOf, v) === n) {
      // The usual case: one branch-free pass for "any byte above 1", then a block copy. Read
      // through a view of this realm: the candidate's own Uint8Array has its realm's map, and
      // code optimised for it would be thrown away with the candidate.
      const buffer = call(bufferOf, v);
      const offset = call(byteOffsetOf, v);
      const bytes = new Uint8Array(buffer, offset, n);
      // Four bytes per step where the view is aligned (it is, for a fresh Uint8Array).
      const aligned = (offset & 3) === 0 ? n - (n & 3) : 0;
      const high = (aligned > 0 ? wordsAboveOne(new Uint32Array(buffer, offset, aligned >>> 2)) : 0) | bytesAboveOne(bytes, aligned);
      if (high === 0) {
        out.set(bytes);
        return out;
      }
    }
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x === 1 || x === true) out[i] = 1;
      else if (x !== 0 && x !== false) throw new Invalid(name + "[" + i + "] is " + valueName(x) + "; event series hold only 0/1 or true/false");
    }
    return out;
  }

  function target(v, n) {
    if (!isSeries(v)) throw new Invalid("target must be a series of numbers in [-1, 1] (e.g. a Float64Array); got " + typeName(v));
    const length = lengthOfSeries(v);
    if (length !== n) throw new Invalid("target has length " + length + "; expected " + n + " (one value per bar)");
    const out = new Float64Array(n);
    let warm = true;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (typeof x !== "number") throw new Invalid("target[" + i + "] is " + valueName(x) + "; target holds numbers in [-1, 1]");
      if (x !== x) {
        if (warm) continue; // leading warm-up NaN means flat
        throw new Invalid("target[" + i + "] is NaN after the warm-up; only a leading run of NaN is allowed (use 0 for flat)");
      }
      warm = false;
      if (!(x >= -1 && x <= 1)) throw new Invalid("target[" + i + "] is " + x + "; target must be in [-1, 1]");
      out[i] = x;
    }
    return out;
  }

  function normalise(output, n) {
    if (typeof output !== "object" || output === null || isArray(output) || isTyped(output)) {
      throw new Invalid("signals must return { enterLong, exitLong, enterShort?, exitShort? } or { target }; got " + typeName(output));
    }
    if (typeof output.then === "function") throw new Invalid("signals must return its series synchronously; got a Promise");
    const keys = objectKeys(output);
    for (const key of keys) {
      if (!ALLOWED_SET.has(key)) {
        throw new Invalid("signals returned unknown key '" + key + "'; allowed keys are " + ALLOWED.join(", "), key);
      }
    }
    const present = new Set(keys);
    if (present.has("target")) {
      if (keys.length > 1) throw new Invalid("signals returned both target and event series; return one or the other");
      return { kind: "target", target: target(output.target, n) };
    }
    for (const key of ["enterLong", "exitLong"]) {
      if (!present.has(key)) throw new Invalid("signals returned no " + key + "; event signals need enterLong and exitLong (all zeros if unused)");
    }
    const result = { kind: "events", enterLong: events("enterLong", output.enterLong, n), exitLong: events("exitLong", output.exitLong, n) };
    if (output.enterShort !== undefined) result.enterShort = events("enterShort", output.enterShort, n);
    if (output.exitShort !== undefined) result.exitShort = events("exitShort", output.exitShort, n);
    return result;
  }

  /** The output as plain typed arrays of this realm, or { invalid } (other throws propagate: they are the strategy's). */
  function validate(output, n) {
    try {
      return { signals: normalise(output, n) };
    } catch (e) {
      if (e instanceof Invalid) return { invalid: e.message, unknownKey: e.unknownKey };
      throw e;
    }
  }

  /**
   * A bar column as a Float64Array of this realm over the transferred buffer. ta's optimised code
   * checks the maps of its inputs, and a map of a candidate's realm dies with the candidate: bars
   * from this realm keep that code valid from one candidate to the next.
   */
  function column(buffer) {
    return new Float64Array(buffer);
  }

  return Object.freeze({
    ta,
    checkBuiltins: Object.freeze(checkBuiltins),
    validate: Object.freeze(validate),
    column: Object.freeze(column),
    isPolicy: Object.freeze(isPolicy),
  });
}`;

const PRELUDE = `
function alphaloopPrelude(harness) {
  "use strict";
  const g = globalThis;
  const ta = harness.ta;
  const harnessCheck = harness.checkBuiltins;
  const validate = harness.validate;
  const column = harness.column;
  const isHarnessPolicy = harness.isPolicy;
  const policyErrors = new WeakSet();
  const policy = (message) => { const e = new Error(message); policyErrors.add(e); return e; };

  // Seeded PRNG (mulberry32): reseeded before every call so results do not depend on call order.
  let state = 0;
  const random = function random() {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // A plain assignment, not defineProperty: redefining a property of Math moves it off V8's fast
  // path and every Math.max/min/abs call in a strategy ran ~2.5x slower. The lockdown below
  // freezes Math, which makes random read-only all the same.
  Math.random = random;

  const realNow = Date.now; // for the driver's own timings only; strategies cannot reach it
  alphaloopHarden(g, policy);

  let logs = [];
  const show = (v) => {
    if (typeof v === "string") return v;
    if (typeof v === "object" && v !== null) {
      if (ArrayBuffer.isView(v)) return v.constructor.name + "(" + v.length + ")";
      try { return JSON.stringify(v); } catch { return String(v); }
    }
    return String(v);
  };
  const log = function log(...args) {
    if (logs.length >= ${MAX_LOG_LINES}) return;
    logs.push(args.map(show).join(" ").slice(0, 300));
  };
  g.console = { log, info: log, warn: log, error: log, debug: log };

  // The candidate's own realm; ta belongs to the harness realm, frozen and checked there.
  // The harness realm is checked with this one after the strategy ran. Before it runs, its check
  // comes first and apart: a change found then predates the call (see sandbox.ts for the blame).
  const ownCheck = alphaloopLockdown(g, [], "");
  const checkBuiltins = () => ownCheck() ?? harnessCheck();

  // The driver's own tools, taken before any strategy code runs (Object and Array stay mutable).
  const objectKeys = Object.keys;
  const isArray = Array.isArray;
  const arrayFrom = Array.from;
  class Invalid { constructor(message, unknownKey) { this.message = message; this.unknownKey = unknownKey; } }

  function instantiate(factory) {
    const module = { exports: {} };
    factory(module, module.exports);
    const exported = module.exports;
    const def = exported !== null && typeof exported === "object" ? exported.default : undefined;
    if (def === null || typeof def !== "object") {
      throw new Invalid("the strategy module must 'export default defineStrategy({ ... })'");
    }
    if (typeof def.signals !== "function") throw new Invalid("the strategy definition has no signals(bars, p, ta) function");
    return def;
  }

  function describe(def) {
    const specs = {};
    const params = def.params;
    if (params !== undefined && (params === null || typeof params !== "object")) throw new Invalid("params must be an object of int/float/bool/choice declarations");
    for (const key of params === undefined ? [] : objectKeys(params)) {
      const s = params[key];
      if (s === null || typeof s !== "object") throw new Invalid("param '" + key + "' must be declared with int(), float(), bool() or choice()");
      specs[key] = {
        type: s.type, min: s.min, max: s.max, default: s.default,
        options: isArray(s.options) ? arrayFrom(s.options) : s.options,
      };
    }
    return { name: def.name, family: def.family, description: def.description, params: specs };
  }

  // Errors from either realm: ta throws from the harness realm, where instanceof Error is false.
  const objectToString = Object.prototype.toString;
  const isError = (e) => e instanceof Error || objectToString.call(e) === "[object Error]";

  function fail(e) {
    if (e instanceof Invalid) return { ok: false, kind: "invalid_output", message: e.message, unknownKey: e.unknownKey };
    let message;
    let stack;
    let memory = false;
    try {
      if (isError(e)) {
        message = e.name + ": " + e.message;
        stack = typeof e.stack === "string" ? e.stack.slice(0, 4000) : undefined;
        memory = e.name === "RangeError" && (e.message === "Array buffer allocation failed" || e.message === "Invalid string length");
      } else message = "threw a non-Error value: " + String(e).slice(0, 200);
    } catch {
      message = "threw a value that cannot be described";
    }
    if (policyErrors.has(e) || isHarnessPolicy(e)) return { ok: false, kind: "policy", message: String(e.message), stack };
    return { ok: false, kind: memory ? "memory" : "runtime", message, stack };
  }

  let missingColumn;
  // One getter per column for the whole driver, not one per call: V8 gives objects the same hidden
  // class only when their accessors are the same functions, and with fresh getters every call's
  // bars was of a new class, so a strategy reading bars.close inside its loop paid a polymorphic
  // lookup per bar (S2's loop in the sandbox: 13.5 ms against 6 ms with the column in a local).
  const notLoaded = {};
  for (const name of ["time", "open", "high", "low", "close", "volume"]) {
    notLoaded[name] = Object.freeze(function () {
      if (missingColumn === undefined) missingColumn = name;
      throw new Error("bars." + name + " is not loaded yet");
    });
  }
  const columnProperty = (name, buffer) =>
    buffer === undefined
      ? { get: notLoaded[name], enumerable: true, configurable: false }
      : { value: column(buffer), enumerable: true, writable: false, configurable: false };
  const missing = () => ({ ok: false, kind: "missing_column", message: "bars." + missingColumn, column: missingColumn });

  return function driver(op, factory, seed, params, n, time, open, high, low, close, volume) {
    logs = [];
    state = seed | 0;
    missingColumn = undefined;
    // Checked before as well as after: a microtask queued by the last call runs after its check.
    // A change to the harness realm found now predates this call: the host decides whose it is.
    const shared = harnessCheck();
    if (shared) return { ok: false, kind: "harness_tainted", message: shared, logs };
    const own = ownCheck();
    if (own) return { ok: false, kind: "policy", message: own, logs };
    try {
      const def = instantiate(factory);
      if (op === "describe") {
        const meta = describe(def);
        const changed = checkBuiltins();
        return changed ? { ok: false, kind: "policy", message: changed, logs } : { ok: true, meta };
      }
      const bars =
        time !== undefined && open !== undefined && high !== undefined && low !== undefined && close !== undefined && volume !== undefined
          ? Object.freeze({
              time: column(time), open: column(open), high: column(high),
              low: column(low), close: column(close), volume: column(volume),
            })
          : Object.freeze(Object.defineProperties({}, {
              time: columnProperty("time", time), open: columnProperty("open", open), high: columnProperty("high", high),
              low: columnProperty("low", low), close: columnProperty("close", close), volume: columnProperty("volume", volume),
            }));
      const t0 = realNow();
      const output = def.signals(bars, Object.freeze(params), ta);
      const t1 = realNow();
      const changed = checkBuiltins();
      if (changed) return { ok: false, kind: "policy", message: changed, logs };
      if (missingColumn !== undefined) return missing();
      // Validation reads the output, which may run the strategy's getters: check again after it.
      const checked = validate(output, n);
      const changedAfter = checkBuiltins();
      if (changedAfter) return { ok: false, kind: "policy", message: changedAfter, logs };
      if (missingColumn !== undefined) return missing();
      if (checked.invalid !== undefined) {
        return { ok: false, kind: "invalid_output", message: checked.invalid, unknownKey: checked.unknownKey, logs };
      }
      return { ok: true, signals: checked.signals, logs, signalsMs: t1 - t0, validateMs: realNow() - t1 };
    } catch (e) {
      const changed = checkBuiltins();
      if (!changed && missingColumn !== undefined) return missing();
      const result = changed ? { ok: false, kind: "policy", message: changed } : fail(e);
      result.logs = logs;
      return result;
    }
  };
}`;

/**
 * Source of the harness script, evaluated once per isolate in a context of its own: it yields the
 * frozen harness ({ ta, checkBuiltins, validate }).
 * `taBundle` is an esbuild IIFE assigning the ta module namespace to `var __alphaloopTa`.
 */
export function harnessSource(taBundle: string): string {
  return `(function () {
${LOCKDOWN}
${HARDEN}
${HARNESS}
const taModule = (function () {
${taBundle}
return __alphaloopTa;
})();
return alphaloopHarness(taModule.ta);
})()`;
}

/** Source of the per-candidate setup script: evaluating it in a fresh context yields `setup(harness) → driver`. */
export function runtimeSource(): string {
  return `(function () {
${LOCKDOWN}
${HARDEN}
${PRELUDE}
return alphaloopPrelude;
})()`;
}
