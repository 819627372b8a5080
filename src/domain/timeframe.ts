/**
 * Timeframes are written the way exchanges write them (`1m`, `5m`, `1h`, `4h`, `1d`, `1w`).
 * Everything below the parser works in milliseconds so arithmetic never re-parses strings.
 */
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export type Timeframe = string;

const PATTERN = /^(\d+)([mhdw])$/;

export function isTimeframe(tf: string): boolean {
  const m = PATTERN.exec(tf);
  return m !== null && Number(m[1]) > 0;
}

export function timeframeMs(tf: Timeframe): number {
  const m = PATTERN.exec(tf);
  if (!m || Number(m[1]) <= 0) {
    throw new Error(`invalid timeframe "${tf}": expected a number and a unit m, h, d or w (e.g. 5m, 1h, 1d)`);
  }
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Bars per year in a market that trades 24/7 (crypto): the annualisation factor for Sharpe and friends. */
export function barsPerYear(tf: Timeframe): number {
  return (365 * UNIT_MS.d) / timeframeMs(tf);
}
