/**
 * Loads a strategy config (the YAML beside a strategy module) for the harness.
 *
 * Order matters: first a policy walk over the raw YAML for keys the harness owns (dates, windows,
 * data, costs, gates) anywhere in the document, because a config that tries to pick its own test
 * window or fees must be reported as exactly that, not as a typo; then the strict zod schema, with
 * "did you mean" hints for unknown keys; then the params against the strategy's declared ranges,
 * with defaults filled in. All problems are returned together so the model can fix them in one go.
 */
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type StrategyConfig, StrategyConfigSchema } from "../domain/strategy-config.ts";
import { closest } from "../domain/suggest.ts";
import type { ParamSpec, ParamSpecs } from "./strategy.ts";

export interface ConfigError {
  readonly kind: "policy" | "schema";
  /** Dotted path of the offending key, e.g. `risk.stop_loss.atr`; empty for the whole document. */
  readonly path: string;
  /** One line, starting with the path, ready to show to the model. */
  readonly message: string;
}

export type ParseConfigResult =
  | { readonly ok: true; readonly config: StrategyConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/**
 * Keys (compared case-insensitively, `-` read as `_`) that only the harness may set. Exact names,
 * not substrings: `atr_period` or `vol_lookback` are strategy settings, `period` alone is ambiguous
 * and left to the schema.
 */
export const HARNESS_OWNED_KEYS: ReadonlySet<string> = new Set([
  // dates
  "start",
  "end",
  "from",
  "to",
  "since",
  "until",
  "date",
  "dates",
  "start_date",
  "end_date",
  "start_time",
  "end_time",
  // windows and data
  "window",
  "windows",
  "search",
  "search_window",
  "holdout",
  "holdout_window",
  "fold",
  "folds",
  "walk_forward",
  "train",
  "test",
  "validation",
  "in_sample",
  "out_of_sample",
  "oos",
  "data",
  "dataset",
  "symbol",
  "symbols",
  "exchange",
  // costs
  "fee",
  "fees",
  "fee_bps",
  "maker_fee",
  "taker_fee",
  "slippage",
  "slippage_bps",
  "spread",
  "cost",
  "costs",
  "commission",
  "commissions",
  "funding",
  "initial_capital",
  // gates
  "gate",
  "gates",
  "threshold",
  "thresholds",
  "sharpe_min",
  "min_sharpe",
  "dsr_min",
  "min_dsr",
  "psr_min",
  "min_psr",
  "pbo_max",
  "max_pbo",
  "min_trades",
  "trades_min",
  "max_drawdown",
  "drawdown_max",
]);

const POLICY_REASON = "the harness owns dates, windows, data, costs and gates; remove it";
const MAX_CONFIG_BYTES = 64 * 1024;

export function isHarnessOwnedKey(key: string): boolean {
  return HARNESS_OWNED_KEYS.has(key.toLowerCase().replaceAll("-", "_"));
}

export function parseStrategyConfig(yamlText: string, declaredParams?: ParamSpecs): ParseConfigResult {
  if (yamlText.length > MAX_CONFIG_BYTES) {
    return fail([schemaError("", `config is ${yamlText.length} bytes; a strategy config is a few lines`)]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(yamlText, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    return fail([schemaError("", `not valid YAML: ${(error as Error).message.split("\n")[0]}`)]);
  }
  if (!isPlainObject(raw)) {
    return fail([
      schemaError("", "config must be a YAML mapping with strategy, timeframe, params, risk, sizing"),
    ]);
  }

  const errors: ConfigError[] = [];
  const declared = declaredParams ? new Set(Object.keys(declaredParams)) : new Set<string>();
  const cleaned = stripHarnessKeys(raw, [], declared, errors);

  const parsed = StrategyConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors.push(...describeIssue(issue, [], cleaned));
  }
  let params: Record<string, ParamValue> | undefined;
  if (declaredParams) {
    const given = parsed.success ? parsed.data.params : (cleaned as Record<string, unknown>)["params"];
    const resolved = resolveParams(declaredParams, isPlainObject(given) ? given : {});
    if (resolved.ok) params = resolved.values;
    else {
      const reported = new Set(errors.map((e) => e.path));
      errors.push(...resolved.errors.filter((e) => !reported.has(e.path)));
    }
  }
  if (errors.length > 0 || !parsed.success) return fail(errors);
  return { ok: true, config: params ? { ...parsed.data, params } : parsed.data };
}

export type ParamValue = number | boolean | string;

export type ResolveParamsResult =
  | { readonly ok: true; readonly values: Record<string, ParamValue> }
  | { readonly ok: false; readonly errors: ConfigError[] };

/**
 * Checks values against declared params (type and range) and fills defaults. Unknown names are
 * errors with a suggestion, since a typo would otherwise silently run the default.
 */
export function resolveParams(
  declared: ParamSpecs,
  values: Readonly<Record<string, unknown>> = {},
  pathPrefix = "params",
): ResolveParamsResult {
  const errors: ConfigError[] = [];
  const out: Record<string, ParamValue> = {};
  const names = Object.keys(declared);
  for (const [name, value] of Object.entries(values)) {
    const path = `${pathPrefix}.${name}`;
    const spec = declared[name];
    if (!spec) {
      const hint = closest(name, names);
      const known =
        names.length > 0 ? `declared params are ${names.join(", ")}` : "the strategy declares no params";
      errors.push(schemaError(path, `unknown param${hint ? `; did you mean ${hint}?` : `; ${known}`}`));
      continue;
    }
    const problem = checkParam(spec, value);
    if (problem) errors.push(schemaError(path, problem));
    else out[name] = value as ParamValue;
  }
  for (const name of names) {
    if (!(name in out) && !(name in values)) out[name] = (declared[name] as ParamSpec).default;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values: out };
}

function checkParam(spec: ParamSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case "int":
    case "float": {
      const range = `[${spec.min}, ${spec.max}]`;
      if (typeof value !== "number" || !Number.isFinite(value))
        return `must be a number in ${range}; got ${show(value)}`;
      if (spec.type === "int" && !Number.isInteger(value))
        return `must be an integer in ${range}; got ${value}`;
      if (value < spec.min || value > spec.max) return `${value} is outside the declared range ${range}`;
      return undefined;
    }
    case "bool":
      return typeof value === "boolean" ? undefined : `must be true or false; got ${show(value)}`;
    case "choice":
      return typeof value === "string" && spec.options.includes(value)
        ? undefined
        : `must be one of ${spec.options.map((o) => JSON.stringify(o)).join(", ")}; got ${show(value)}`;
  }
}

/** Copies the document without harness-owned keys, recording one policy error per offending key. */
function stripHarnessKeys(
  value: unknown,
  path: readonly (string | number)[],
  declaredParams: ReadonlySet<string>,
  errors: ConfigError[],
): unknown {
  if (Array.isArray(value))
    return value.map((v, i) => stripHarnessKeys(v, [...path, i], declaredParams, errors));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  const inParams = path.length === 1 && path[0] === "params";
  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, key];
    // A declared strategy param may legitimately be called `window`; it is the strategy's own.
    if (isHarnessOwnedKey(key) && !(inParams && declaredParams.has(key))) {
      const leaves = leafPaths(child, childPath);
      const shown = leaves.slice(0, 5).join(", ") + (leaves.length > 5 ? ", …" : "");
      errors.push({
        kind: "policy",
        path: formatPath(childPath),
        message: `policy: config sets ${shown} — ${POLICY_REASON}`,
      });
      continue;
    }
    out[key] = stripHarnessKeys(child, childPath, declaredParams, errors);
  }
  return out;
}

function leafPaths(value: unknown, path: (string | number)[]): string[] {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...path, k]));
  }
  return [formatPath(path)];
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, base: readonly PropertyKey[], root: unknown): ConfigError[] {
  const path = [...base, ...issue.path];
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(path);
    return issue.keys.map((key) => {
      const hint = closest(key, allowed);
      const keyPath = formatPath([...path, key]);
      const tail = hint ? `did you mean ${hint}?` : `allowed keys here are ${allowed.join(", ")}`;
      return schemaError(keyPath, `unknown key; ${tail}`);
    });
  }
  if (issue.code === "invalid_union") {
    // Unknown keys first: they are the likeliest cause and every branch reports them.
    const value = valueAt(root, path);
    const allowed = allowedKeysAt(path);
    if (isPlainObject(value) && allowed.length > 0) {
      const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
      if (unknown.length > 0) {
        return describeIssue(
          { code: "unrecognized_keys", keys: unknown, path: [], message: "", input: value },
          path,
          root,
        );
      }
    }
    const branches = issue.errors.filter((b) => b.length > 0).sort((a, b) => a.length - b.length);
    const best = branches[0];
    if (best) {
      const alternatives = unionAlternatives(path);
      const errors = best.flatMap((inner) => describeIssue(inner, path, root));
      if (alternatives) {
        return errors.map((e) => ({
          ...e,
          message: `${e.message} (${formatPath(path)} is one of ${alternatives})`,
        }));
      }
      return errors;
    }
  }
  return [schemaError(formatPath(path), issue.message)];
}

/** Unwraps optional/default/nullable wrappers down to the schema that validates the value. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: z.core.$ZodType };
    if ((def.type === "optional" || def.type === "default" || def.type === "nullable") && def.innerType) {
      current = def.innerType;
    } else return current;
  }
}

function schemaAt(path: readonly PropertyKey[]): z.core.$ZodType[] {
  let schemas: z.core.$ZodType[] = [StrategyConfigSchema];
  for (const segment of path) {
    const next: z.core.$ZodType[] = [];
    for (const s of schemas) {
      for (const option of objectOptions(s)) {
        const child = shapeOf(option)[String(segment)];
        if (child) next.push(child);
      }
    }
    schemas = next;
  }
  return schemas;
}

function objectOptions(schema: z.core.$ZodType): z.core.$ZodType[] {
  const inner = unwrap(schema);
  const def = inner._zod.def as { type: string; options?: z.core.$ZodType[] };
  if (def.type === "object") return [inner];
  if (def.type === "union" && def.options) return def.options.flatMap(objectOptions);
  return [];
}

function shapeOf(objectSchema: z.core.$ZodType): Record<string, z.core.$ZodType> {
  return (objectSchema._zod.def as unknown as { shape: Record<string, z.core.$ZodType> }).shape;
}

function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of schemaAt(path)) {
    for (const option of objectOptions(s)) {
      for (const key of Object.keys(shapeOf(option))) keys.add(key);
    }
  }
  return [...keys];
}

/** "{ percent } or { atr, atr_period }" for a union of objects, to show what shapes are accepted. */
function unionAlternatives(path: readonly PropertyKey[]): string | undefined {
  const options = schemaAt(path).flatMap(objectOptions);
  if (options.length < 2) return undefined;
  return options.map((o) => `{ ${Object.keys(shapeOf(o)).join(", ")} }`).join(" or ");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const segment of path) {
    if (!isPlainObject(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function schemaError(path: string, message: string): ConfigError {
  return { kind: "schema", path, message: path === "" ? message : `${path}: ${message}` };
}

function fail(errors: ConfigError[]): ParseConfigResult {
  return { ok: false, errors };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
