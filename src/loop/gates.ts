import type { Gates } from "../domain/run-config.ts";

/**
 * Gates: every candidate is judged against all of them at once. Pure: the numbers come in, the
 * verdict goes out. Each result carries its margin (positive = pass) and the reasons are short
 * lines a person reads at a glance in a Discord thread.
 */
export interface GateResult {
  readonly gate: string;
  readonly value: number;
  readonly threshold: number;
  readonly op: ">=" | "<=";
  readonly pass: boolean;
  /** value − threshold for a minimum, threshold − value for a maximum: ≥ 0 passes. */
  readonly margin: number;
}

/** What the gates look at: aggregate metrics over the search window plus the harness's checks. */
export interface GateInput {
  readonly sharpe: number;
  readonly maxDrawdown: number;
  readonly profitFactor: number;
  readonly tradeCount: number;
  /** Deflated Sharpe Ratio against the ledger for this dataset and window. */
  readonly dsr: number;
  /** Folds with a positive total return. */
  readonly foldsPositive: number;
  /** Every scalar metric by name, for `gates.metrics` bounds (snake_case or camelCase). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly lookahead?: { readonly time: number } | undefined;
  readonly duplicateOf?: { readonly iteration: number; readonly correlation?: number } | undefined;
  readonly policyViolations?: readonly string[];
}

export interface GateVerdict {
  readonly pass: boolean;
  readonly results: readonly GateResult[];
  /** DISCARD reasons: failed checks (policy, look-ahead, duplicate) first, then failed gates in config order. */
  readonly reasons: readonly string[];
  /** 0 when every gate passes; grows with the normalised shortfall (mean over gates, each ≤ 1). */
  readonly distance: number;
}

const COUNT_GATES = new Set(["trades", "folds_positive"]);

function fmt(gateName: string, x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return COUNT_GATES.has(gateName) ? String(Math.round(x)) : x.toFixed(2);
}

/** `2023-04-02 13:00` in UTC. */
export function formatBarTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function gate(name: string, value: number, threshold: number, op: ">=" | "<="): GateResult {
  const v = Number.isFinite(value)
    ? value
    : op === ">="
      ? Number.NEGATIVE_INFINITY
      : Number.POSITIVE_INFINITY;
  const margin = op === ">=" ? v - threshold : threshold - v;
  return { gate: name, value, threshold, op, pass: margin >= 0, margin };
}

/** Shortfall of one failed gate scaled to [0, 1], so gates of different units add up. */
function shortfall(r: GateResult): number {
  if (r.pass) return 0;
  const scale = Math.max(Math.abs(r.threshold), r.gate === "sharpe" ? 1 : 1e-9);
  const s = -r.margin / scale;
  return Number.isFinite(s) ? Math.min(1, Math.max(0, s)) : 1;
}

export function evaluateGates(input: GateInput, gates: Gates): GateVerdict {
  const results: GateResult[] = [
    gate("sharpe", input.sharpe, gates.sharpe_min, ">="),
    gate("max_drawdown", input.maxDrawdown, gates.max_drawdown_max, "<="),
    gate("profit_factor", input.profitFactor, gates.profit_factor_min, ">="),
    gate("trades", input.tradeCount, gates.trades_min, ">="),
    gate("dsr", input.dsr, gates.dsr_min, ">="),
    gate("folds_positive", input.foldsPositive, gates.folds_positive_min, ">="),
  ];
  const checkReasons: string[] = [];
  for (const [name, bound] of Object.entries(gates.metrics)) {
    const value = input.metrics[name] ?? input.metrics[snakeToCamel(name)];
    if (value === undefined) {
      checkReasons.push(`gate on unknown metric ${name}`);
      results.push({
        gate: name,
        value: Number.NaN,
        threshold: bound.min ?? bound.max ?? 0,
        op: ">=",
        pass: false,
        margin: Number.NEGATIVE_INFINITY,
      });
      continue;
    }
    if (bound.min !== undefined) results.push(gate(name, value, bound.min, ">="));
    if (bound.max !== undefined) results.push(gate(name, value, bound.max, "<="));
  }

  for (const v of input.policyViolations ?? []) checkReasons.push(`policy: ${v}`);
  if (input.lookahead) checkReasons.push(`lookahead at ${formatBarTime(input.lookahead.time)}`);
  if (input.duplicateOf) {
    const rho = input.duplicateOf.correlation;
    checkReasons.push(
      `duplicate of #${input.duplicateOf.iteration}${rho === undefined ? " (same code and config)" : ` (ρ ${rho.toFixed(2)})`}`,
    );
  }

  const failed = results.filter((r) => !r.pass);
  const gateReasons = failed
    .filter((r) => !Number.isNaN(r.value))
    .map((r) => `${r.gate} ${fmt(r.gate, r.value)} ${r.op === ">=" ? "<" : ">"} ${fmt(r.gate, r.threshold)}`);
  const checksFailed = checkReasons.length > 0;
  const mean = results.reduce((s, r) => s + shortfall(r), 0) / results.length;
  return {
    pass: failed.length === 0 && !checksFailed,
    results,
    reasons: [...checkReasons, ...gateReasons],
    // A failed check (look-ahead, duplicate, policy) disqualifies whatever the numbers say.
    distance: checksFailed ? Math.max(1, mean) : mean,
  };
}
