import { resolve } from "node:path";

/**
 * The local state folder of the embedded default (PGlite data, caches): ALPHALOOP_HOME, or
 * `.alphaloop` under the current directory.
 */
export function alphaloopHome(): string {
  return resolve(process.env["ALPHALOOP_HOME"] ?? ".alphaloop");
}
