import { describe, expect, it } from "vitest";
import { maskSecrets, scrub, secretValues } from "../../src/log/secrets.ts";

describe("secret scrubbing", () => {
  const env = {
    DISCORD_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.ghijklmnop",
    LLM_API_KEY: "sk-local-0123456789",
    DATABASE_URL: "postgres://app:hunter2pw@db:5432/alpha",
  };
  const values = secretValues(env);

  it("masks secret env values inside free text", () => {
    const msg = `401 from https://x/api?key=${env.LLM_API_KEY} with token ${env.DISCORD_TOKEN}`;
    const out = maskSecrets(msg, values);
    expect(out).not.toContain(env.LLM_API_KEY);
    expect(out).not.toContain(env.DISCORD_TOKEN);
    expect(out).toContain("[REDACTED]");
  });

  it("masks the password inside a connection URL", () => {
    expect(maskSecrets("connect failed: hunter2pw rejected", values)).toBe(
      "connect failed: [REDACTED] rejected",
    );
  });

  it("redacts secret-named fields at any depth and leaves the rest", () => {
    const out = scrub(
      { run: 7, headers: { Authorization: "Bot abc" }, nested: [{ apiKey: "x", ok: "fine" }] },
      values,
    );
    expect(out).toEqual({
      run: 7,
      headers: { Authorization: "[REDACTED]" },
      nested: [{ apiKey: "[REDACTED]", ok: "fine" }],
    });
  });
});
