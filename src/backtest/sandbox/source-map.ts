/**
 * Just enough of Source Map v3 to turn a position in the compiled strategy back into a position in
 * the strategy's own TypeScript: decode the VLQ `mappings` once, then look positions up.
 * Spec: https://sourcemaps.info/spec.html
 */

export interface RawSourceMap {
  readonly sources: readonly string[];
  readonly mappings: string;
}

/** One mapping segment: generated column → original source index, line and column (all 0-based). */
interface Segment {
  readonly generatedColumn: number;
  readonly source: number;
  readonly line: number;
  readonly column: number;
}

export interface OriginalPosition {
  readonly source: string;
  /** 1-based, as editors and error messages show it. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

export class SourceMapLookup {
  private readonly lines: Segment[][];
  private readonly sources: readonly string[];

  constructor(map: RawSourceMap) {
    this.sources = map.sources;
    this.lines = decodeMappings(map.mappings);
  }

  /** Original position of a generated position (line and column 1-based), or undefined if unmapped. */
  originalPosition(generatedLine: number, generatedColumn: number): OriginalPosition | undefined {
    const segments = this.lines[generatedLine - 1];
    if (!segments || segments.length === 0) return undefined;
    const column = generatedColumn - 1;
    // Last segment starting at or before the column; segments are sorted by generated column.
    let lo = 0;
    let hi = segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((segments[mid] as Segment).generatedColumn <= column) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const segment = segments[found === -1 ? 0 : found] as Segment;
    const source = this.sources[segment.source];
    if (source === undefined) return undefined;
    return { source, line: segment.line + 1, column: segment.column + 1 };
  }
}

function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let source = 0;
  let line = 0;
  let column = 0;
  let current: Segment[] = [];
  let generatedColumn = 0;
  let i = 0;
  const fields: number[] = [];
  while (i <= mappings.length) {
    const ch = i < mappings.length ? mappings.charCodeAt(i) : 59; /* ';' ends the last line */
    if (ch === 59 /* ; */ || ch === 44 /* , */) {
      i++;
      if (ch === 59) {
        lines.push(current);
        current = [];
        generatedColumn = 0;
      }
      continue;
    }
    fields.length = 0;
    while (i < mappings.length) {
      const c = mappings.charCodeAt(i);
      if (c === 44 || c === 59) break;
      let value = 0;
      let shift = 0;
      let digit: number;
      do {
        digit = BASE64_VALUE[mappings.charCodeAt(i++)] ?? -1;
        if (digit < 0) throw new Error("invalid source map mappings");
        value += (digit & 31) << shift;
        shift += 5;
      } while (digit & 32);
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
    }
    generatedColumn += fields[0] ?? 0;
    if (fields.length >= 4) {
      source += fields[1] as number;
      line += fields[2] as number;
      column += fields[3] as number;
      current.push({ generatedColumn, source, line, column });
    }
  }
  return lines;
}
