/**
 * `ta` must run inside the strategy sandbox: a bare V8 isolate (isolated-vm) with no Node APIs,
 * loaded from an esbuild bundle of src/backtest/ta/index.ts. Every function in `ta` is called in
 * there and must give the same numbers as in Node.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ivm from "isolated-vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ta } from "../../src/backtest/ta/index.ts";
import { indicatorCases, makeMarket, outputsOf } from "./ta-cases.ts";

const entry = fileURLToPath(new URL("../../src/backtest/ta/index.ts", import.meta.url));

describe("ta inside a bare V8 isolate", () => {
  let isolate: ivm.Isolate;
  let context: ivm.Context;
  let bundleBytes = 0;

  beforeAll(async () => {
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      format: "iife",
      globalName: "taModule",
      platform: "neutral",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const code = out.outputFiles[0]!.text;
    bundleBytes = code.length;
    isolate = new ivm.Isolate({ memoryLimit: 64 });
    context = await isolate.createContext();
    await context.eval(code);
  });

  afterAll(() => {
    isolate?.dispose();
  });

  it("bundles to a small self-contained script", () => {
    expect(bundleBytes).toBeGreaterThan(1000);
    expect(bundleBytes).toBeLessThan(200_000);
  });

  it("exposes every function and computes the same values as in Node", async () => {
    const names = (await context.eval("Object.keys(taModule.ta).join(',')")) as string;
    expect(names.split(",").sort()).toEqual(Object.keys(ta).sort());

    const m = makeMarket(120, 5, "ticks");
    const fields = ["open", "high", "low", "close", "volume"] as const;
    const setup = fields.map((f) => `${f}: new Float64Array(${JSON.stringify(Array.from(m[f]))})`).join(", ");
    await context.eval(`globalThis.m = { ${setup} };`);
    for (const c of indicatorCases) {
      // The case's call is rebuilt in the isolate from its source text: same arguments, other realm.
      // Vitest rewrites the `ta` import to `__vite_ssr_import_N__.ta`, hence the optional prefix.
      const src = c.call.toString().replace(/(?:[\w$]+\.)?\bta\./g, "taModule.ta.");
      const params = JSON.stringify(c.params);
      const script = `(() => {
        const p = ${params};
        const out = (${src})(globalThis.m);
        const plain = (a) => Array.from(a, (x) => (Number.isNaN(x) ? "NaN" : x));
        return JSON.stringify(ArrayBuffer.isView(out) ? { value: plain(out) }
          : Object.fromEntries(Object.entries(out).map(([k, v]) => [k, plain(v)])));
      })()`;
      const inside = JSON.parse((await context.eval(script)) as string) as Record<string, (number | "NaN")[]>;
      const outside = outputsOf(c.call(m));
      for (const [key, arr] of Object.entries(outside)) {
        // Through JSON like the isolate's values (which also folds −0 into 0).
        const expected = JSON.parse(JSON.stringify(Array.from(arr, (x) => (Number.isNaN(x) ? "NaN" : x))));
        expect(inside[key], `${c.name}.${key}`).toEqual(expected);
      }
    }
  });
});
