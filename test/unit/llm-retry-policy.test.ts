import { describe, expect, it } from "vitest";
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  retryAfterMs,
} from "../../src/llm/retry-policy.ts";

const headers = (h: Record<string, string>) => new Headers(h);

describe("retry policy", () => {
  it("retries rate limits, timeouts and server errors, never other 4xx", () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 413, 422].some(isRetryableStatus)).toBe(false);
  });

  it("backs off exponentially with jitter inside [window/2, window], capped", () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect(backoffMs(p, 1, () => 0)).toBe(500);
    expect(backoffMs(p, 1, () => 1)).toBe(1000);
    expect(backoffMs(p, 3, () => 0.5)).toBe(3000);
    expect(backoffMs(p, 10, () => 1)).toBe(5000);
  });

  it("reads Retry-After as seconds or an HTTP date, and retry-after-ms first", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(headers({ "retry-after": "2.5" }), now)).toBe(2500);
    expect(retryAfterMs(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now)).toBe(30_000);
    expect(retryAfterMs(headers({ "retry-after": "1", "retry-after-ms": "250" }), now)).toBe(250);
    expect(retryAfterMs(headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
