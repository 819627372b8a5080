/**
 * Checks the plain-data description of a strategy that the sandbox driver copies out: name, family,
 * description and the declared params. The definition comes from untrusted code, so its shape is
 * validated before the harness relies on it (the config loader reads its ranges and defaults).
 */
import type { ParamSpec, ParamSpecs } from "../strategy.ts";

export interface StrategyMeta {
  readonly name: string;
  readonly family: string;
  readonly description: string;
  readonly params: ParamSpecs;
}

export type MetaResult =
  | { readonly ok: true; readonly meta: StrategyMeta }
  | { readonly ok: false; readonly message: string };

interface RawSpec {
  type?: unknown;
  min?: unknown;
  max?: unknown;
  default?: unknown;
  options?: unknown;
}

export function checkMeta(raw: unknown): MetaResult {
  if (typeof raw !== "object" || raw === null)
    return { ok: false, message: "the strategy definition is not an object" };
  const r = raw as {
    name?: unknown;
    family?: unknown;
    description?: unknown;
    params?: Record<string, RawSpec>;
  };
  for (const field of ["name", "family", "description"] as const) {
    const value = r[field];
    if (typeof value !== "string" || value.trim() === "") {
      return { ok: false, message: `the strategy definition needs a non-empty string ${field}` };
    }
  }
  const params: Record<string, ParamSpec> = {};
  for (const [key, spec] of Object.entries(r.params ?? {})) {
    const checked = checkSpec(key, spec);
    if (typeof checked === "string") return { ok: false, message: checked };
    params[key] = checked;
  }
  return {
    ok: true,
    meta: {
      name: (r.name as string).slice(0, 100),
      family: (r.family as string).slice(0, 100),
      description: (r.description as string).slice(0, 2000),
      params,
    },
  };
}

function checkSpec(key: string, s: RawSpec): ParamSpec | string {
  const where = `param '${key}'`;
  switch (s.type) {
    case "int":
    case "float": {
      const { min, max } = s;
      const value = s.default;
      if (
        typeof min !== "number" ||
        typeof max !== "number" ||
        !Number.isFinite(min) ||
        !Number.isFinite(max)
      ) {
        return `${where}: min and max must be finite numbers`;
      }
      if (min > max) return `${where}: min ${min} is above max ${max}`;
      if (typeof value !== "number" || value < min || value > max) {
        return `${where}: default ${String(value)} is outside [${min}, ${max}]`;
      }
      if (s.type === "int" && !(Number.isInteger(min) && Number.isInteger(max) && Number.isInteger(value))) {
        return `${where}: int(min, max, default) takes integers`;
      }
      return { type: s.type, min, max, default: value };
    }
    case "bool":
      if (typeof s.default !== "boolean") return `${where}: bool(default) takes true or false`;
      return { type: "bool", default: s.default };
    case "choice": {
      const options = s.options;
      if (!Array.isArray(options) || options.length === 0 || !options.every((o) => typeof o === "string")) {
        return `${where}: choice(options, default) takes a non-empty array of strings`;
      }
      if (typeof s.default !== "string" || !options.includes(s.default)) {
        return `${where}: default ${JSON.stringify(s.default)} is not one of the options`;
      }
      return { type: "choice", options: options as string[], default: s.default };
    }
    default:
      return `${where} must be declared with int(), float(), bool() or choice()`;
  }
}
