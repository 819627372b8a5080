/**
 * Secrets must never reach logs, Discord threads or the model. Two layers: field names that hold
 * secrets are redacted wherever they appear, and the literal values of the secret environment
 * variables are masked inside any string (an error message that echoes a URL with a key in it).
 */
export const SECRET_ENV_VARS = [
  "DISCORD_TOKEN",
  "LLM_API_KEY",
  "NOTIFY_WEBHOOK_URL",
  "DATABASE_URL",
  "REDIS_URL",
];

const SECRET_KEY_PATTERN = /(token|api[_-]?key|apikey|secret|password|authorization|cookie)/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key);
}

/** Values worth masking: long enough that masking them cannot garble ordinary text. */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values: string[] = [];
  for (const name of SECRET_ENV_VARS) {
    const v = env[name];
    if (v && v.length >= 8) values.push(v);
    // Passwords embedded in connection URLs are secrets on their own.
    if (v?.includes("://")) {
      try {
        const u = new URL(v);
        if (u.password && u.password.length >= 4) values.push(decodeURIComponent(u.password));
      } catch {
        // not a URL: nothing more to extract
      }
    }
  }
  return values;
}

export function maskSecrets(text: string, values: readonly string[] = secretValues()): string {
  let out = text;
  for (const v of values) out = out.split(v).join("[REDACTED]");
  return out;
}

/** Deep copy with secret-named fields replaced and secret values masked in every string. */
export function scrub(value: unknown, values: readonly string[] = secretValues(), depth = 0): unknown {
  if (typeof value === "string") return maskSecrets(value, values);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, values, depth + 1));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: maskSecrets(value.message, values),
      stack: maskSecrets(value.stack ?? "", values),
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? "[REDACTED]" : scrub(v, values, depth + 1);
  }
  return out;
}
