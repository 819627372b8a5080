import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadLibrary,
  loadNotes,
  normaliseWorkspacePath,
  Workspace,
  WorkspaceError,
} from "../../src/llm/workspace.ts";
import type { Db } from "../../src/store/db.ts";
import { PgWorkspaceFiles } from "../../src/store/workspace-files.ts";
import { backends, dropSchema, testSchema } from "../support/databases.ts";

describe.each(backends)("workspace files on $name", ({ name, open }) => {
  let db: Db;
  let store: PgWorkspaceFiles;
  const schema = testSchema(`ws_${name}`);
  beforeAll(async () => {
    db = await open(schema);
    store = new PgWorkspaceFiles(db);
  });
  afterAll(async () => {
    await dropSchema(db, schema);
  });

  it("stores, overwrites, lists by literal prefix and removes per run", async () => {
    await store.write("r1", "strategies/a.ts", "one");
    await store.write("r1", "strategies/a.ts", "two ✓");
    await store.write("r1", "strategies/b_c.yaml", "x");
    await store.write("r1", "strategiesXb.ts", "not under the folder");
    await store.write("r2", "strategies/a.ts", "other run");
    expect(await store.read("r1", "strategies/a.ts")).toBe("two ✓");
    expect(await store.read("r2", "strategies/a.ts")).toBe("other run");
    expect(await store.read("r1", "strategies/zzz.ts")).toBeUndefined();
    const listed = await store.list("r1", "strategies/");
    expect(listed.map((f) => f.path)).toEqual(["strategies/a.ts", "strategies/b_c.yaml"]);
    expect(listed[0]?.size).toBe(Buffer.byteLength("two ✓"));
    expect(listed[0]?.updatedAt).toBeInstanceOf(Date);
    // `_` and `%` in a prefix are literal characters, not wildcards.
    expect((await store.list("r1", "strategies/b_")).map((f) => f.path)).toEqual(["strategies/b_c.yaml"]);
    expect((await store.list("r1", "strategies%")).length).toBe(0);
    expect(await store.remove("r1", "strategies/a.ts")).toBe(true);
    expect(await store.remove("r1", "strategies/a.ts")).toBe(false);
    expect(await store.read("r1", "strategies/a.ts")).toBeUndefined();
  });

  it("a Workspace overlays the read-only library with the run's writable files", async () => {
    const library = loadLibrary();
    const ws = new Workspace({
      runId: "run-ws",
      store,
      library,
      notes: new Map([["notes/ideas.md", "try funding"]]),
      maxFileBytes: 1024,
      maxFiles: 3,
    });
    expect(await ws.list()).toEqual(["strategies/", "notes/"]);
    expect(await ws.read("strategies/ema-cross.ts")).toContain("defineStrategy");
    await expect(ws.write("strategies/ema-cross.ts", "x")).rejects.toThrow(/library file.*ema-cross-v2\.ts/);
    await expect(ws.edit("strategies/ema-cross.ts", "ema", "sma")).rejects.toThrow(/read-only/);
    await expect(ws.write("notes/ideas.md", "x")).rejects.toThrow(/read-only/);
    expect(await ws.write("./strategies//mine.ts", "const a = 1;\nconst a = 1;\n")).toMatchObject({
      path: "strategies/mine.ts",
      created: true,
    });
    const listing = await ws.list("strategies");
    expect(listing).toContain("strategies/mine.ts  (26 B, yours)");
    expect(listing.some((l) => l.startsWith("strategies/ema-cross.ts") && l.endsWith("read-only)"))).toBe(
      true,
    );
    expect(await ws.list("notes")).toEqual(["notes/ideas.md  (11 B, read-only)"]);
    expect(await ws.read("notes/ideas.md")).toBe("try funding");

    await expect(ws.edit("strategies/mine.ts", "const b", "x")).rejects.toThrow(/not found/);
    await expect(ws.edit("strategies/mine.ts", "const a = 1;", "x")).rejects.toThrow(/appears 2 times/);
    await ws.edit("strategies/mine.ts", "const a = 1;\nconst a", "const a = 1;\nconst b");
    expect(await ws.read("strategies/mine.ts")).toBe("const a = 1;\nconst b = 1;\n");
    await expect(ws.edit("strategies/none.ts", "a", "b")).rejects.toThrow(/write_file first/);

    await expect(ws.write("strategies/big.ts", "x".repeat(1025))).rejects.toThrow(/limit is 1024 bytes/);
    await ws.write("strategies/two.yaml", "a: 1");
    await ws.write("strategies/three.md", "b");
    await expect(ws.write("strategies/four.ts", "c")).rejects.toThrow(/limit 3/);
    await ws.write("strategies/mine.ts", "overwrite is fine at the limit");
    await expect(ws.read("strategies/missing.ts")).rejects.toThrow(/no file "strategies\/missing.ts"/);
  });

  it("refuses every path that could leave the workspace, before touching storage", async () => {
    const ws = new Workspace({ runId: "run-esc", store, library: new Map() });
    for (const bad of [
      "../configs/default.yaml",
      "/etc/passwd",
      "strategies/../../x",
      "strategies/../configs/default.yaml",
      "C:\\x",
      "C:/x",
      "strategies\\x.ts",
      "strategies/x\0.ts",
      "~/x.ts",
      "configs/default.yaml",
      "src/loop/gates.ts",
    ]) {
      await expect(ws.read(bad), bad).rejects.toBeInstanceOf(WorkspaceError);
      await expect(ws.write(bad, "x"), bad).rejects.toBeInstanceOf(WorkspaceError);
    }
    expect(await store.list("run-esc")).toEqual([]);
  });
});

describe("workspace paths and folders", () => {
  it("normalises harmless spellings and names the reason for a refusal", () => {
    expect(normaliseWorkspacePath("strategies/./a.ts")).toBe("strategies/a.ts");
    expect(normaliseWorkspacePath(" strategies/ ")).toBe("strategies");
    expect(normaliseWorkspacePath("")).toBe("");
    expect(() => normaliseWorkspacePath("strategies/../../x")).toThrow(/"\.\." is not allowed/);
    expect(() => normaliseWorkspacePath("/etc/passwd")).toThrow(/relative to the workspace root/);
    expect(() => normaliseWorkspacePath("C:\\x")).toThrow(/forward slashes/);
    expect(() => normaliseWorkspacePath("etc/passwd")).toThrow(/outside the workspace/);
  });

  it("loads the repository library (code, configs, README) and no README from notes", () => {
    const lib = loadLibrary();
    expect(lib.has("strategies/README.md")).toBe(true);
    expect(lib.has("strategies/ema-cross.ts")).toBe(true);
    expect(lib.has("strategies/ema-cross.yaml")).toBe(true);
    expect([...lib.keys()].every((k) => /^strategies\/[^/]+\.(ts|yaml|md)$/.test(k))).toBe(true);
    expect(loadNotes().has("notes/README.md")).toBe(false);
  });
});
