/**
 * int8 text to a JS number when it fits exactly, else the original string: counts and ids are
 * numbers everywhere, and a value past 2^53 is never silently rounded.
 */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}
