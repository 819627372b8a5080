import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../loop/config-files.ts";
import type { WorkspaceFileStore } from "../store/workspace-files.ts";

/**
 * The agent's world: a virtual file tree with two folders. `strategies/` overlays the repository's
 * strategy library (read-only) with the run's own files (stored per run, writable); `notes/` holds the
 * user's notes from configs/notes/ (read-only). Nothing else exists: every path is normalised here and
 * anything that could reach outside (absolute paths, `..`, backslashes, drive letters, NUL) is refused
 * before storage is touched. Errors are `WorkspaceError`s whose message is written for the model.
 */

export const STRATEGIES_DIR = "strategies";
export const NOTES_DIR = "notes";
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024;
export const DEFAULT_MAX_FILES = 200;
const MAX_PATH_LENGTH = 200;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const WRITABLE_EXTENSIONS = [".ts", ".yaml", ".yml", ".md", ".txt", ".json"];

/** A refusal or failure the model should read and act on (the tool result is the message). */
export class WorkspaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkspaceError";
  }
}

export interface WorkspaceOptions {
  runId: string;
  store: WorkspaceFileStore;
  /** Library files by workspace path (`strategies/ema-cross.ts`): readable, never writable. */
  library: ReadonlyMap<string, string>;
  /** Note files by workspace path (`notes/ideas.md`): readable, never writable. */
  notes?: ReadonlyMap<string, string>;
  maxFileBytes?: number;
  maxFiles?: number;
}

/**
 * A workspace path in canonical form (`strategies/x.ts`; "" is the root), or a WorkspaceError saying
 * why it is refused. Pure; exported for tests and for the tools' argument messages.
 */
export function normaliseWorkspacePath(input: string): string {
  if (input.includes("\0")) throw new WorkspaceError("path refused: it contains a NUL character");
  if (input.includes("\\")) {
    throw new WorkspaceError(`path "${input}" refused: use forward slashes, e.g. strategies/my-idea.ts`);
  }
  const trimmed = input.trim();
  if (trimmed.startsWith("/") || trimmed.startsWith("~") || /^[A-Za-z]:/.test(trimmed)) {
    throw new WorkspaceError(
      `path "${input}" refused: paths are relative to the workspace root, e.g. strategies/my-idea.ts`,
    );
  }
  if (trimmed.length > MAX_PATH_LENGTH) {
    throw new WorkspaceError(`path refused: longer than ${MAX_PATH_LENGTH} characters`);
  }
  const segments: string[] = [];
  for (const s of trimmed.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") {
      throw new WorkspaceError(
        `path "${input}" refused: ".." is not allowed; the workspace has only ${STRATEGIES_DIR}/ and ${NOTES_DIR}/`,
      );
    }
    if (!SEGMENT.test(s)) {
      throw new WorkspaceError(
        `path "${input}" refused: file and folder names may use letters, digits, ".", "_" and "-" only`,
      );
    }
    segments.push(s);
  }
  const first = segments[0];
  if (first !== undefined && first !== STRATEGIES_DIR && first !== NOTES_DIR) {
    throw new WorkspaceError(
      `path "${input}" is outside the workspace: it has only ${STRATEGIES_DIR}/ and ${NOTES_DIR}/`,
    );
  }
  return segments.join("/");
}

function bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

export interface WriteResult {
  path: string;
  bytes: number;
  created: boolean;
}

export class Workspace {
  readonly runId: string;
  readonly #store: WorkspaceFileStore;
  readonly #library: ReadonlyMap<string, string>;
  readonly #notes: ReadonlyMap<string, string>;
  readonly #maxFileBytes: number;
  readonly #maxFiles: number;

  constructor(options: WorkspaceOptions) {
    this.runId = options.runId;
    this.#store = options.store;
    this.#library = options.library;
    this.#notes = options.notes ?? new Map();
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  }

  isLibraryFile(path: string): boolean {
    return this.#library.has(path);
  }

  /** The note files, by path, for `read_notes`. */
  noteFiles(): [string, string][] {
    return [...this.#notes];
  }

  /** The canonical form of a file path (throws a WorkspaceError like every other method). */
  resolve(path: string): string {
    return this.#filePath(path);
  }

  /** Paths under `folder` (recursively), library and notes marked read-only; folders end in `/`. */
  async list(folder = ""): Promise<string[]> {
    const dir = normaliseWorkspacePath(folder);
    if (dir === "") return [`${STRATEGIES_DIR}/`, `${NOTES_DIR}/`];
    const prefix = `${dir}/`;
    const own = await this.#store.list(this.runId, prefix);
    const lines: { path: string; line: string }[] = [];
    for (const [path, content] of [...this.#library, ...this.#notes]) {
      if (path.startsWith(prefix)) lines.push({ path, line: `${path}  (${bytes(content)} B, read-only)` });
    }
    for (const f of own) lines.push({ path: f.path, line: `${f.path}  (${f.size} B, yours)` });
    if (lines.length === 0) {
      const known = await this.#exists(dir);
      if (!known && dir !== STRATEGIES_DIR && dir !== NOTES_DIR) {
        throw new WorkspaceError(`no folder "${dir}" in the workspace`);
      }
    }
    return lines.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((l) => l.line);
  }

  async #exists(path: string): Promise<boolean> {
    return (
      this.#library.has(path) ||
      this.#notes.has(path) ||
      (await this.#store.read(this.runId, path)) !== undefined
    );
  }

  async read(path: string): Promise<string> {
    const p = this.#filePath(path);
    const fixed = this.#library.get(p) ?? this.#notes.get(p);
    if (fixed !== undefined) return fixed;
    const own = await this.#store.read(this.runId, p);
    if (own === undefined) {
      const hint = p.startsWith(`${STRATEGIES_DIR}/`)
        ? `; list_files ${STRATEGIES_DIR} shows what exists`
        : "";
      throw new WorkspaceError(`no file "${p}" in the workspace${hint}`);
    }
    return own;
  }

  async write(path: string, content: string): Promise<WriteResult> {
    const p = this.#writablePath(path);
    this.#checkSize(p, content);
    const existing = await this.#store.read(this.runId, p);
    if (existing === undefined) {
      const count = (await this.#store.list(this.runId)).length;
      if (count >= this.#maxFiles) {
        throw new WorkspaceError(
          `the workspace already holds ${count} of your files (limit ${this.#maxFiles}): overwrite or edit one instead`,
        );
      }
    }
    await this.#store.write(this.runId, p, content);
    return { path: p, bytes: bytes(content), created: existing === undefined };
  }

  /** Replaces the single occurrence of `oldText`; refuses when it is missing or ambiguous. */
  async edit(path: string, oldText: string, newText: string): Promise<WriteResult> {
    const p = this.#writablePath(path);
    if (oldText === "") throw new WorkspaceError("`old` is empty: give the exact text to replace");
    const current = await this.#store.read(this.runId, p);
    if (current === undefined) {
      throw new WorkspaceError(`no file "${p}" of yours to edit; create it with write_file first`);
    }
    const first = current.indexOf(oldText);
    if (first < 0) {
      throw new WorkspaceError(
        `\`old\` was not found in ${p}: it must match the file exactly (spaces, indentation, line breaks); read_file it and copy the text`,
      );
    }
    let count = 0;
    for (let at = first; at >= 0; at = current.indexOf(oldText, at + 1)) count++;
    if (count > 1) {
      throw new WorkspaceError(
        `\`old\` is ambiguous: it appears ${count} times in ${p}; include more surrounding lines so it matches exactly once`,
      );
    }
    const next = current.slice(0, first) + newText + current.slice(first + oldText.length);
    this.#checkSize(p, next);
    await this.#store.write(this.runId, p, next);
    return { path: p, bytes: bytes(next), created: false };
  }

  #filePath(path: string): string {
    const p = normaliseWorkspacePath(path);
    if (p === "" || p === STRATEGIES_DIR || p === NOTES_DIR) {
      throw new WorkspaceError(`"${path}" is a folder, not a file; list_files shows its files`);
    }
    return p;
  }

  #writablePath(path: string): string {
    const p = this.#filePath(path);
    if (!p.startsWith(`${STRATEGIES_DIR}/`)) {
      throw new WorkspaceError(`"${p}" is read-only: you can write only under ${STRATEGIES_DIR}/`);
    }
    if (this.#library.has(p)) {
      const dot = p.lastIndexOf(".");
      const suggestion = `${p.slice(0, dot)}-v2${p.slice(dot)}`;
      throw new WorkspaceError(
        `"${p}" is a library file and read-only: write your version under a new file name, e.g. ${suggestion}`,
      );
    }
    if (!WRITABLE_EXTENSIONS.some((e) => p.endsWith(e))) {
      throw new WorkspaceError(`"${p}": use one of the extensions ${WRITABLE_EXTENSIONS.join(", ")}`);
    }
    return p;
  }

  #checkSize(path: string, content: string): void {
    const n = bytes(content);
    if (n > this.#maxFileBytes) {
      throw new WorkspaceError(
        `${path} would be ${n} bytes; the limit is ${this.#maxFileBytes} bytes per file: keep strategies small`,
      );
    }
  }
}

const LIBRARY_FILE = /^(?:[A-Za-z0-9][A-Za-z0-9._-]*\.(?:ts|yaml)|README\.md)$/;
const NOTE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.(?:md|txt|yaml|yml)$/;

function readFolder(dir: string, keep: (name: string) => boolean, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw err;
  }
  for (const name of names) {
    if (!keep(name)) continue;
    const full = join(dir, name);
    if (!statSync(full).isFile()) continue;
    out.set(`${prefix}/${name}`, readFileSync(full, "utf8"));
  }
  return out;
}

/** The repository's strategy library (strategies/*.ts, *.yaml, README.md) as workspace files. */
export function loadLibrary(dir = join(PROJECT_ROOT, "strategies")): Map<string, string> {
  return readFolder(dir, (n) => LIBRARY_FILE.test(n), STRATEGIES_DIR);
}

/** The user's notes (configs/notes/*.md|txt|yaml, minus the folder's own README) as workspace files. */
export function loadNotes(dir = join(PROJECT_ROOT, "configs", "notes")): Map<string, string> {
  return readFolder(dir, (n) => NOTE_FILE.test(n) && n !== "README.md", NOTES_DIR);
}
