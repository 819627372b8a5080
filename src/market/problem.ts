/** One finding about an input file, located by line (line 0 = the file as a whole). */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

/** `file:line: reason`, the form editors and terminals turn into a link. */
export function formatProblem(p: Problem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.reason}` : `${p.file}: ${p.reason}`;
}

/** The first `limit` problems, one per line, then "… and N more". */
export function formatProblems(problems: readonly Problem[], limit = 20): string {
  const shown = problems.slice(0, limit).map(formatProblem);
  if (problems.length > limit) shown.push(`… and ${problems.length - limit} more`);
  return shown.join("\n");
}
