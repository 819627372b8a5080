import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { canonicalJson, sha256Hex } from "./canonical-json.ts";
import { closest } from "./suggest.ts";
import { isTimeframe } from "./timeframe.ts";

/**
 * The run config: everything the harness (never the model) decides about a run — data, windows,
 * walk-forward folds, costs, gates, budgets and loop settings. Strict at every level so a typo
 * is an error instead of a silently ignored gate.
 */

const isoDate = z
  .string()
  .refine(
    (s) =>
      /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) &&
      !Number.isNaN(Date.parse(s)),
    {
      message: "expected an ISO date such as 2024-01-01 or 2024-01-01T00:00Z (UTC)",
    },
  );

// YAML turns an unquoted 2024-01-01 into a Date; accept it and keep the ISO form.
const dateField = z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), isoDate);

const WindowSchema = z.strictObject({ start: dateField, end: dateField });

const duration = z.union([
  z.number().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*(s|m|h|d)$/, "a duration such as 90m, 6h or 1d"),
]);

export const GateBoundSchema = z
  .strictObject({ min: z.number().optional(), max: z.number().optional() })
  .refine((b) => b.min !== undefined || b.max !== undefined, { message: "give min, max or both" })
  .refine((b) => b.min === undefined || b.max === undefined || b.min <= b.max, {
    message: "min must be ≤ max",
  });

export const GatesSchema = z.strictObject({
  sharpe_min: z.number().default(1),
  max_drawdown_max: z
    .number()
    .gt(0, "a drawdown fraction in (0, 1]")
    .max(1, "a drawdown fraction in (0, 1]")
    .default(0.25),
  profit_factor_min: z.number().min(0, "must be ≥ 0").default(1.2),
  trades_min: z.number().int().min(0, "must be ≥ 0").default(30),
  dsr_min: z.number().min(0, "a probability in [0, 1]").max(1, "a probability in [0, 1]").default(0.95),
  folds_positive_min: z.number().int().min(0, "must be ≥ 0").default(3),
  /** Any other metric by name, e.g. `sortino: { min: 1 }`, `exposure: { max: 0.8 }`. */
  metrics: z.record(z.string(), GateBoundSchema).default({}),
});

export const RunConfigSchema = z
  .strictObject({
    dataset: z.strictObject({
      symbol: z.string().regex(/^[A-Z0-9]{2,20}$/, "an exchange symbol such as BTCUSDT"),
      timeframe: z.string().refine(isTimeframe, "a timeframe such as 1m, 5m, 1h"),
    }),
    windows: z.strictObject({ search: WindowSchema, holdout: WindowSchema }),
    walk_forward: z.strictObject({
      folds: z.number().int().min(1).max(50).default(4),
      scheme: z.enum(["anchored", "rolling"]).default("rolling"),
      /** Bars of history before each fold (inside the search window) given to indicators only. */
      warmup_bars: z.number().int().min(0).default(500),
    }),
    costs: z.strictObject({
      fee_bps: z.number().min(0).max(1000).default(10),
      slippage_bps: z.number().min(0).max(1000).default(5),
    }),
    gates: GatesSchema,
    budgets: z.strictObject({
      max_iterations: z.number().int().min(1).default(50),
      max_wall_clock: duration.default("6h"),
      max_tokens_per_iteration: z.number().int().min(1000).default(150_000),
      max_tokens_total: z.number().int().min(1000).optional(),
    }),
    loop: z.strictObject({
      driver: z.enum(["auto", "llm", "heuristic", "ga", "random"]).default("auto"),
      seed: z.number().int().min(0).default(1),
      temperature: z.number().min(0).max(2).default(0.7),
      stop_on_first_pass: z.boolean().default(false),
      max_fix_attempts: z.number().int().min(1).default(3),
      stuck_after: z.number().int().min(2).default(8),
      /** When the model endpoint is down: probe it every N seconds and resume by itself (0 = wait for a person). */
      auto_resume_seconds: z.number().int().min(0).default(0),
      /** Sub-searches sharing the run's ledger; iteration n belongs to island (n − 1) mod islands. */
      islands: z.number().int().min(1, "at least 1 island").max(16, "at most 16 islands").default(1),
      /** Every this many iterations each island is shown the other islands' best. */
      migrate_every: z.number().int().min(1, "migrate every 1 or more iterations").default(10),
    }),
  })
  .superRefine((c, ctx) => {
    const { search, holdout } = c.windows;
    for (const [name, w] of [
      ["search", search],
      ["holdout", holdout],
    ] as const) {
      if (utcMs(w.end) <= utcMs(w.start)) {
        ctx.addIssue({
          code: "custom",
          path: ["windows", name, "end"],
          message: `windows.${name}.end (${w.end}) must be after windows.${name}.start (${w.start})`,
        });
      }
    }
    if (utcMs(holdout.start) < utcMs(search.end)) {
      ctx.addIssue({
        code: "custom",
        path: ["windows", "holdout", "start"],
        message: `windows.holdout.start (${holdout.start}) must not be before windows.search.end (${search.end}): the holdout comes after the search window and never overlaps it`,
      });
    }
    if (c.loop.islands > c.budgets.max_iterations) {
      ctx.addIssue({
        code: "custom",
        path: ["loop", "islands"],
        message: `loop.islands (${c.loop.islands}) exceeds budgets.max_iterations (${c.budgets.max_iterations}): islands take turns, so some would never run`,
      });
    }
    if (c.gates.folds_positive_min > c.walk_forward.folds) {
      ctx.addIssue({
        code: "custom",
        path: ["gates", "folds_positive_min"],
        message: `gates.folds_positive_min (${c.gates.folds_positive_min}) cannot exceed walk_forward.folds (${c.walk_forward.folds})`,
      });
    }
  });

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type Gates = z.infer<typeof GatesSchema>;

export class RunConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    source = "run config",
  ) {
    super(`${source} is invalid:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "RunConfigError";
  }
}

/** Keys the schema accepts at `path`, for "did you mean" hints. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  const unwrap = (s: z.ZodType): z.ZodType => {
    let cur = s;
    for (;;) {
      if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
      else if (cur instanceof z.ZodPipe) cur = cur.out as z.ZodType;
      else return cur;
    }
  };
  for (const key of path) {
    const cur = unwrap(node);
    if (cur instanceof z.ZodObject) node = cur.shape[String(key)] as z.ZodType | undefined;
    else if (cur instanceof z.ZodRecord) node = cur.valueType as z.ZodType;
    else return [];
    if (!node) return [];
  }
  const last = unwrap(node);
  return last instanceof z.ZodObject ? Object.keys(last.shape) : [];
}

export function describeIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const where = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        const full = where ? `${where}.${key}` : key;
        out.push(
          `${full}: unknown key${hint ? `; did you mean ${hint}?` : known.length ? `; expected one of ${known.join(", ")}` : ""}`,
        );
      }
    } else {
      out.push(`${where || "(root)"}: ${issue.message}`);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

/** Deep merge: objects merge key by key, anything else in `override` replaces `base`. */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = mergeConfig(base[k], v);
  return out;
}

export function parseYamlDocument(text: string, source: string): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new RunConfigError([`not valid YAML: ${(err as Error).message}`], source);
  }
}

/** Validates a run config object (already merged over the defaults). */
export function parseRunConfig(raw: unknown, source = "run config"): RunConfig {
  const result = RunConfigSchema.safeParse(raw);
  if (!result.success) throw new RunConfigError(describeIssues(RunConfigSchema, result.error.issues), source);
  return result.data;
}

/** Default config text merged with zero or more override documents (later wins). */
export function loadRunConfig(
  defaultYaml: string,
  overrides: { text: string; source: string }[] = [],
): RunConfig {
  let merged = parseYamlDocument(defaultYaml, "configs/default.yaml");
  for (const o of overrides) merged = mergeConfig(merged, parseYamlDocument(o.text, o.source));
  return parseRunConfig(merged, overrides.at(-1)?.source ?? "configs/default.yaml");
}

export interface FrozenRunConfig {
  readonly config: RunConfig;
  /** Canonical JSON of `config`: sorted keys, defaults filled, so equal configs have equal bytes. */
  readonly canonical: string;
  readonly hash: string;
}

export function freezeRunConfig(config: RunConfig): FrozenRunConfig {
  const canonical = canonicalJson(config);
  return Object.freeze({
    config: deepFreeze(structuredClone(config)),
    canonical,
    hash: sha256Hex(canonical),
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Window bounds in epoch milliseconds; a bare date means midnight UTC. */
export function windowMs(w: { start: string; end: string }): { start: number; end: number } {
  return { start: utcMs(w.start), end: utcMs(w.end) };
}

/** Epoch ms of an ISO date or date-time; a bare date (2024-01-01) is midnight UTC, never local time. */
export function utcMs(s: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `max_wall_clock` in milliseconds (a bare number is seconds). */
export function durationMs(d: number | string): number {
  if (typeof d === "number") return d * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(d);
  if (!m) throw new Error(`invalid duration "${d}"`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** `SYMBOL:timeframe`: how the ledger names a dataset. */
export function datasetKey(config: RunConfig): string {
  return `${config.dataset.symbol}:${config.dataset.timeframe}`;
}

/**
 * Identifies "the same data" for Deflated Sharpe: every candidate tried on this dataset and search
 * window counts as a trial, whatever its costs or folds, because selection bias comes from looking
 * at the same bars again.
 */
export function searchWindowHash(config: RunConfig): string {
  const w = windowMs(config.windows.search);
  return sha256Hex(canonicalJson({ dataset: datasetKey(config), search: w }));
}

export function holdoutWindowHash(config: RunConfig): string {
  const w = windowMs(config.windows.holdout);
  return sha256Hex(canonicalJson({ dataset: datasetKey(config), holdout: w }));
}
