/** How numbers, gates and durations read in the thread. */
import type { GateLine } from "./payloads.ts";

export const COLORS = {
  pass: 0x27ae60,
  discard: 0xe67e22,
  crash: 0xc0392b,
  info: 0x5865f2,
  warn: 0xf1c40f,
} as const;

/** Gates whose values are fractions and read better as percentages. */
const PERCENT = /drawdown|return|cagr|win_?rate|exposure/i;

export function formatNumber(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "n/a" : x > 0 ? "∞" : "−∞";
  if (Math.abs(x) >= 1e6) return x.toExponential(2);
  return x.toFixed(digits).replace("-", "−");
}

export function formatMetric(name: string, x: number): string {
  return PERCENT.test(name) ? `${formatNumber(x * 100, 1)} %` : formatNumber(x);
}

export function gateValue(g: GateLine): string {
  const op = g.op === "<=" ? "≤" : "≥";
  // Counts (trades, positive folds) read as whole numbers.
  const counts = Number.isInteger(g.value) && Number.isInteger(g.threshold) && !PERCENT.test(g.gate);
  const show = (x: number) => (counts ? String(x) : formatMetric(g.gate, x));
  return `${show(g.value)} ${op} ${show(g.threshold)} ${g.pass ? "✓" : "✗"}`;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "n/a";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  return String(Math.round(n));
}

export const STATUS_LABEL: Readonly<Record<string, string>> = {
  passed: "PASS",
  discarded: "DISCARD",
  crashed: "CRASH",
  model_error: "MODEL ERROR",
};

/** A Discord user id (snowflake): only those can be mentioned or DMed. */
export function isSnowflake(x: string | null | undefined): x is string {
  return typeof x === "string" && /^\d{15,21}$/.test(x);
}

export function dateOnly(ms: number | string): string {
  const d = new Date(typeof ms === "string" && /^\d{4}-\d{2}-\d{2}$/.test(ms) ? `${ms}T00:00:00Z` : ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().slice(0, 10);
}

/** Neutralises mass mentions in text that came from a model or a user. */
export function quoteUntrusted(text: string): string {
  return text.replace(/@(everyone|here)/g, "@\u200b$1");
}
