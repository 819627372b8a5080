/**
 * What can go wrong talking to the model server, split by what the caller should do about it:
 * `LlmUnreachableError` → pause the run and try later (the retry budget is spent);
 * `LlmRequestError` → a bug or misconfiguration (wrong model name, context too long): retrying is useless;
 * `LlmAbortedError` → the caller cancelled.
 */
export class LlmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LlmError";
  }
}

export class LlmUnreachableError extends LlmError {
  constructor(
    readonly baseURL: string,
    readonly attempts: number,
    /** The last failure: HTTP status, "timeout", "connection" or "malformed response". */
    readonly lastFailure: string,
    options?: { cause?: unknown },
  ) {
    super(
      `LLM endpoint unreachable at ${baseURL} after ${attempts} attempt(s); last failure: ${lastFailure}`,
      options,
    );
    this.name = "LlmUnreachableError";
  }
}

export class LlmRequestError extends LlmError {
  constructor(
    readonly status: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`LLM endpoint rejected the request with HTTP ${status}: ${detail}`, options);
    this.name = "LlmRequestError";
  }
}

export class LlmAbortedError extends LlmError {
  constructor() {
    super("LLM call aborted");
    this.name = "LlmAbortedError";
  }
}
