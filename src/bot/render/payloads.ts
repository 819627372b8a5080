/**
 * The shapes of outbox event payloads as the research loop writes them (src/loop/research-loop.ts),
 * read defensively: a payload is stored JSON, so every field may be missing or of another type,
 * and a renderer must still produce a legal post.
 */
import type { EquityCurve } from "../../charts/equity-chart.ts";
import { isEquityCurve } from "../../charts/equity-chart.ts";

export interface GateLine {
  readonly gate: string;
  readonly value: number;
  readonly threshold: number;
  readonly op: string;
  readonly pass: boolean;
}

/** Another island's best, shown to this iteration's island at the last migration. */
export interface MigrantLine {
  readonly island: number;
  readonly n: number;
  readonly name: string | null;
}

export interface IterationPayload {
  readonly n: number;
  /** The island (0-based, as in the terminal's `isl` column); null in a run without islands. */
  readonly island: number | null;
  /** Empty before the first migration and in a run without islands. */
  readonly migrants: readonly MigrantLine[];
  readonly name: string | null;
  readonly family: string | null;
  readonly status: string;
  readonly hypothesis: string | null;
  readonly metrics: Readonly<Record<string, number>>;
  readonly gates: readonly GateLine[];
  readonly reasons: readonly string[];
  readonly decision: { decision: string; rationale: string; nextHypothesis: string } | null;
  readonly forced: string | null;
  readonly nudges: readonly { id: number; author: string; text: string }[];
  readonly tokens: {
    promptTokens: number;
    completionTokens: number;
    cachedTokens: number;
    calls: number;
  } | null;
  readonly timings: Readonly<Record<string, number>> | null;
  readonly curve: EquityCurve | undefined;
}

export interface GatePassedPayload {
  readonly n: number;
  readonly island: number | null;
  readonly name: string | null;
  readonly family: string | null;
  readonly metrics: Readonly<Record<string, number>>;
  readonly gates: readonly GateLine[];
  readonly code: string | null;
  readonly configYaml: string | null;
}

export interface HoldoutPayload {
  readonly n: number;
  readonly name: string | null;
  readonly ok: boolean;
  readonly metrics: Readonly<Record<string, number>>;
  readonly error: string | null;
  readonly from: number | null;
  readonly to: number | null;
  readonly peeks: number;
}

type Json = Readonly<Record<string, unknown>>;

const obj = (x: unknown): Json => (x && typeof x === "object" && !Array.isArray(x) ? (x as Json) : {});
const str = (x: unknown): string | null => (typeof x === "string" ? x : null);
const num = (x: unknown, d = 0): number => (typeof x === "number" && Number.isFinite(x) ? x : d);
const arr = (x: unknown): readonly unknown[] => (Array.isArray(x) ? x : []);

function numbers(x: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(x))) if (typeof v === "number") out[k] = v;
  return out;
}

/** A non-negative integer island, or null (no islands, or a field of another type). */
function island(x: unknown): number | null {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 ? x : null;
}

function migrants(x: unknown): MigrantLine[] {
  return arr(x).flatMap((m) => {
    const o = obj(m);
    const from = island(o["island"]);
    return from === null ? [] : [{ island: from, n: num(o["n"]), name: str(o["name"]) }];
  });
}

function gates(x: unknown): GateLine[] {
  return arr(x).map((g) => {
    const o = obj(g);
    return {
      gate: str(o["gate"]) ?? "?",
      value: num(o["value"], Number.NaN),
      threshold: num(o["threshold"], Number.NaN),
      op: str(o["op"]) ?? ">=",
      pass: o["pass"] === true,
    };
  });
}

export function iterationPayload(p: Json): IterationPayload {
  const d = obj(p["decision"]);
  const t = obj(p["tokens"]);
  return {
    n: num(p["n"]),
    island: island(p["island"]),
    migrants: migrants(p["migrants"]),
    name: str(p["name"]),
    family: str(p["family"]),
    status: str(p["status"]) ?? "discarded",
    hypothesis: str(p["hypothesis"]),
    metrics: numbers(p["metrics"]),
    gates: gates(p["gates"]),
    reasons: arr(p["reasons"]).map((r) => (typeof r === "string" ? r : JSON.stringify(r))),
    decision: str(d["decision"])
      ? {
          decision: str(d["decision"]) ?? "",
          rationale: str(d["rationale"]) ?? "",
          nextHypothesis: str(d["nextHypothesis"]) ?? "",
        }
      : null,
    forced: str(p["forced"]),
    nudges: arr(p["nudges"]).map((x) => {
      const o = obj(x);
      return { id: num(o["id"]), author: str(o["author"]) ?? "?", text: str(o["text"]) ?? "" };
    }),
    tokens: p["tokens"]
      ? {
          promptTokens: num(t["promptTokens"]),
          completionTokens: num(t["completionTokens"]),
          cachedTokens: num(t["cachedTokens"]),
          calls: num(t["calls"]),
        }
      : null,
    timings: p["timings"] ? numbers(p["timings"]) : null,
    curve: isEquityCurve(p["curve"]) ? p["curve"] : undefined,
  };
}

export function gatePassedPayload(p: Json): GatePassedPayload {
  return {
    n: num(p["n"]),
    island: island(p["island"]),
    name: str(p["name"]),
    family: str(p["family"]),
    metrics: numbers(p["metrics"]),
    gates: gates(p["gates"]),
    code: str(p["code"]),
    configYaml: str(p["configYaml"]),
  };
}

export function holdoutPayload(p: Json): HoldoutPayload {
  return {
    n: num(p["n"]),
    name: str(p["name"]),
    ok: p["ok"] === true,
    metrics: numbers(p["metrics"]),
    error: str(p["error"]),
    from: typeof p["from"] === "number" ? p["from"] : null,
    to: typeof p["to"] === "number" ? p["to"] : null,
    peeks: num(p["peeks"]),
  };
}

export { num as payloadNumber, str as payloadString };
