import { StatsError } from "./stats-error.ts";

/** Trials' per-period returns as columns: the T×N matrix CSCV works on. */
export interface ReturnsTable {
  readonly names: readonly string[];
  readonly columns: readonly Float64Array[];
}

function unquote(cell: string): string {
  const trimmed = cell.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1).replaceAll('""', '"')
    : trimmed;
}

/**
 * Parses a CSV whose header row names the trials and whose every other row holds one
 * period's return for each trial (comma-separated, plain decimal or exponent numbers).
 * Blank lines are skipped; a missing or non-numeric cell is an error naming its line,
 * because silently dropping a period would shift every later period of that trial.
 */
export function parseReturnsCsv(text: string): ReturnsTable {
  const lines = text.split(/\r?\n/);
  let headerLine = -1;
  for (let i = 0; i < lines.length; i++) {
    if ((lines[i] ?? "").trim() !== "") {
      headerLine = i;
      break;
    }
  }
  if (headerLine < 0) throw new StatsError("the CSV is empty: expected a header row of trial names");
  const names = (lines[headerLine] ?? "").split(",").map(unquote);
  names.forEach((name, j) => {
    if (name === "") throw new StatsError(`header column ${j + 1} has no trial name`);
  });
  const values: number[][] = names.map(() => []);
  for (let i = headerLine + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "") continue;
    const cells = line.split(",");
    if (cells.length !== names.length) {
      throw new StatsError(
        `line ${i + 1} has ${cells.length} values, the header names ${names.length} trials`,
      );
    }
    cells.forEach((cell, j) => {
      const text = cell.trim();
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) {
        throw new StatsError(`line ${i + 1}, column "${names[j]}": "${text}" is not a finite number`);
      }
      values[j]?.push(value);
    });
  }
  return { names, columns: values.map((v) => Float64Array.from(v)) };
}
