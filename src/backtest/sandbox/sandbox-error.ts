/**
 * Every way a candidate strategy can fail, as data. The loop shows `message` (and `line`) to the
 * model so it can fix its code; nothing here is ever thrown into the host.
 */
export type SandboxErrorKind = "compile" | "runtime" | "timeout" | "memory" | "invalid_output" | "policy";

export interface SandboxError {
  readonly kind: SandboxErrorKind;
  readonly message: string;
  /** 1-based line in the strategy's own source, when known. */
  readonly line?: number;
  /** 1-based column in the strategy's own source, when known. */
  readonly column?: number;
}

export interface Failure {
  readonly ok: false;
  readonly error: SandboxError;
}

export function failure(kind: SandboxErrorKind, message: string, line?: number, column?: number): Failure {
  const error: SandboxError =
    line === undefined
      ? { kind, message }
      : column === undefined
        ? { kind, message, line }
        : { kind, message, line, column };
  return { ok: false, error };
}
