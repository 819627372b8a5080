/**
 * Runs `fn` with process.stdout.write captured (commands print `--json` there), restoring it
 * afterwards whatever happens. Returns what was written and what `fn` threw, if anything.
 */
export async function captureStdout(fn: () => Promise<unknown>): Promise<{ stdout: string; error: unknown }> {
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string) => {
    chunks.push(String(c));
    return true;
  }) as typeof process.stdout.write;
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  } finally {
    process.stdout.write = original;
  }
  return { stdout: chunks.join(""), error };
}
