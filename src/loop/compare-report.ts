/**
 * The driver comparison's figures and its markdown report, from per-run data (pure: no I/O). The
 * question it answers: with the same frozen config and the same number of backtests, which driver
 * reaches a full gate pass, how fast, how good (DSR, holdout) and how varied its results are.
 */
import { alignDaily } from "./daily-series.ts";
import type { DailySeries } from "./ledger.ts";
import { averagePairwiseCorrelation } from "./stats/index.ts";

export interface HoldoutFigures {
  readonly ok: boolean;
  readonly sharpe?: number;
  readonly totalReturn?: number;
  readonly maxDrawdown?: number;
  readonly error?: string;
  /** Holdout evaluations on that holdout window so far, this one included (shared by every run). */
  readonly peeks: number;
}

export interface PassingCandidate {
  readonly iteration: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly dsr: number | null;
  readonly holdout: HoldoutFigures | null;
}

export interface FinalCandidate {
  readonly iteration: number;
  readonly name: string | null;
  readonly family: string | null;
  readonly distance: number;
  readonly daily: DailySeries | null;
  /** Its Deflated Sharpe against every trial of its run (N = the whole budget), not just those before it. */
  readonly endDsr: number | null;
}

/** One driver × seed run, as the comparison read it back from the store. */
export interface RunFigures {
  readonly driver: string;
  readonly seed: number;
  readonly runId: string;
  readonly iterations: number;
  readonly backtests: number;
  /** Best gate distance so far after each backtest (index 0 = after the first); null before any. */
  readonly bestDistanceByBacktest: readonly (number | null)[];
  /** Backtests spent up to and including the iteration that first passed every gate. */
  readonly backtestsToFirstPass: number | null;
  readonly passes: readonly PassingCandidate[];
  readonly bestDsr: number | null;
  readonly families: readonly string[];
  /** The run's best-distance candidate (the one a person would take away); null if all crashed. */
  readonly final: FinalCandidate | null;
  readonly crashed: number;
  readonly wallMs: number;
}

export interface DriverSummary {
  readonly driver: string;
  readonly seeds: number;
  readonly runsWithPass: number;
  readonly medianBacktestsToFirstPass: number | null;
  readonly bestDsr: number | null;
  readonly passes: readonly (PassingCandidate & { readonly seed: number })[];
  readonly families: readonly string[];
  /** Mean pairwise daily-return correlation of the seeds' final candidates; lower = more diverse. */
  readonly finalCorrelation: number | null;
  /** How many final candidates entered the correlation (shared days ≥ 20, non-constant returns). */
  readonly correlated: number;
  readonly medianBestDistance: number | null;
  /** Passing candidates whose holdout return was positive, of those with a holdout result. */
  readonly holdoutPositive: number;
  readonly holdoutEvaluated: number;
  readonly medianHoldoutSharpe: number | null;
  /** Median over seeds of the final candidate's end-of-run DSR. */
  readonly medianEndDsr: number | null;
  /** Median over seeds of the best distance after each backtest. */
  readonly curve: readonly (number | null)[];
  readonly backtests: number;
  readonly crashed: number;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Mean pairwise correlation of daily return series over the days all of them share. Fewer than two
 * usable series (or too little overlap) gives null: no diversity figure rather than a made-up one.
 */
export function finalCorrelation(series: readonly DailySeries[]): { value: number | null; used: number } {
  const usable = series.filter((s) => s.returns.length > 1 && hasVariance(s.returns));
  if (usable.length < 2) return { value: null, used: usable.length };
  const aligned = alignDaily(usable);
  if (aligned.length < 2) return { value: null, used: 0 };
  const varying = aligned.filter(hasVariance);
  if (varying.length < 2) return { value: null, used: varying.length };
  return { value: averagePairwiseCorrelation(varying), used: varying.length };
}

function hasVariance(xs: ArrayLike<number>): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[0]) return true;
  return false;
}

/** Median curve over runs of different lengths: at each step, the median of the runs that got there. */
function medianCurve(curves: readonly (readonly (number | null)[])[]): (number | null)[] {
  const len = Math.max(0, ...curves.map((c) => c.length));
  const out: (number | null)[] = [];
  for (let i = 0; i < len; i++) {
    const at = curves.flatMap((c) => {
      const v = c[i];
      return v === undefined || v === null ? [] : [v];
    });
    out.push(median(at));
  }
  return out;
}

export function summariseDriver(driver: string, runs: readonly RunFigures[]): DriverSummary {
  const mine = runs.filter((r) => r.driver === driver);
  const firsts = mine.flatMap((r) => (r.backtestsToFirstPass === null ? [] : [r.backtestsToFirstPass]));
  const dsrs = mine.flatMap((r) => (r.bestDsr === null ? [] : [r.bestDsr]));
  const corr = finalCorrelation(mine.flatMap((r) => (r.final?.daily ? [r.final.daily] : [])));
  const holdouts = mine.flatMap((r) => r.passes.flatMap((p) => (p.holdout?.ok ? [p.holdout] : [])));
  const bests = mine.flatMap((r) => {
    const end = r.bestDistanceByBacktest.at(-1);
    return end === undefined || end === null ? [] : [end];
  });
  return {
    driver,
    seeds: mine.length,
    runsWithPass: firsts.length,
    medianBacktestsToFirstPass: median(firsts),
    bestDsr: dsrs.length ? Math.max(...dsrs) : null,
    passes: mine.flatMap((r) => r.passes.map((p) => ({ ...p, seed: r.seed }))),
    families: [...new Set(mine.flatMap((r) => r.families))].sort(),
    finalCorrelation: corr.value,
    correlated: corr.used,
    medianBestDistance: median(bests),
    holdoutPositive: holdouts.filter((h) => (h.totalReturn ?? 0) > 0).length,
    holdoutEvaluated: holdouts.length,
    medianHoldoutSharpe: median(holdouts.flatMap((h) => (h.sharpe === undefined ? [] : [h.sharpe]))),
    medianEndDsr: median(mine.flatMap((r) => (r.final?.endDsr == null ? [] : [r.final.endDsr]))),
    curve: medianCurve(mine.map((r) => r.bestDistanceByBacktest)),
    backtests: mine.reduce((s, r) => s + r.backtests, 0),
    crashed: mine.reduce((s, r) => s + r.crashed, 0),
  };
}

export interface ComparisonMeta {
  readonly drivers: readonly string[];
  readonly seeds: readonly number[];
  readonly budget: number;
  readonly dataset: string;
  readonly searchWindow: string;
  readonly holdoutWindow: string;
  readonly configHash: string;
  readonly gates: Readonly<Record<string, unknown>>;
  /** Independent trials on the search window before the comparison started, and after it. */
  readonly ledgerBefore: number;
  readonly ledgerAfter: number;
  readonly wallMs: number;
  readonly command?: string;
  readonly date?: string;
}

export interface Comparison {
  readonly meta: ComparisonMeta;
  readonly runs: readonly RunFigures[];
  readonly drivers: readonly DriverSummary[];
}

export function summarise(meta: ComparisonMeta, runs: readonly RunFigures[]): Comparison {
  return { meta, runs, drivers: meta.drivers.map((d) => summariseDriver(d, runs)) };
}

const f2 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(2);
const f3 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(3);
const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(1)}%`;

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

const SPARK = "▁▂▃▄▅▆▇█";

/** A one-line sparkline of a curve on a fixed 0..`top` scale (so drivers can be compared by eye). */
export function sparkline(curve: readonly (number | null)[], width: number, top: number): string {
  if (curve.length === 0) return "";
  const cols = Math.min(width, curve.length);
  let out = "";
  for (let c = 0; c < cols; c++) {
    // The value at the end of each bucket: best-so-far curves only fall, so the end is the bucket's best.
    const i = Math.min(curve.length - 1, Math.round(((c + 1) * curve.length) / cols) - 1);
    const v = curve[i];
    if (v === null || v === undefined) {
      out += " ";
      continue;
    }
    const level = Math.round((Math.min(Math.max(v, 0), top) / top) * (SPARK.length - 1));
    out += SPARK[level];
  }
  return out;
}

/** Backtest counts at which the curve table shows the median best distance. */
export function checkpoints(budget: number, count = 8): number[] {
  const pts = new Set<number>();
  for (let k = 1; k <= count; k++) pts.add(Math.max(1, Math.round((k * budget) / count)));
  return [...pts].sort((a, b) => a - b);
}

function holdoutText(h: HoldoutFigures | null): string {
  if (!h) return "not evaluated";
  if (!h.ok) return `failed: ${h.error ?? "?"} (peek ${h.peeks})`;
  return `sharpe ${f2(h.sharpe)}, return ${pct(h.totalReturn)}, max DD ${pct(h.maxDrawdown)} (peek ${h.peeks})`;
}

export function renderReport(c: Comparison): string {
  const m = c.meta;
  const out: string[] = [];
  out.push(`# Driver comparison: ${m.drivers.join(", ")}`);
  out.push("");
  out.push(
    `${m.dataset}, search window ${m.searchWindow}, holdout ${m.holdoutWindow} (sealed; evaluated once per passing candidate). ` +
      `Budget ${m.budget} backtests per run, seeds ${m.seeds.join(", ")}, config ${m.configHash.slice(0, 12)}` +
      `${m.date ? `, ${m.date}` : ""}; wall clock ${(m.wallMs / 1000).toFixed(0)} s.`,
  );
  if (m.command) out.push("", `Reproduce: \`${m.command}\``);
  out.push("");
  out.push(
    `Gates: ${Object.entries(m.gates)
      .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(", ")}.`,
  );
  out.push("");
  out.push(
    "**Ledger.** Every backtest is recorded in the shared trial ledger (so later research on this window " +
      "is deflated by it), but each run's Deflated Sharpe and effective-N are computed against the ledger " +
      "as it stood when the comparison started plus that run's own trials: no driver is penalised for the " +
      "trials of the runs before it, and a run's figures do not depend on which drivers ran beside it. " +
      `Independent trials on this window: ${m.ledgerBefore} before, ${m.ledgerAfter} after.`,
  );
  out.push("");
  out.push("## Summary");
  out.push("");
  out.push(
    mdTable(
      [
        "driver",
        "runs with a full pass",
        "median backtests to 1st pass",
        "best DSR",
        "final DSR at N = budget",
        "passing candidates",
        "holdout: positive return / median sharpe",
        "distinct families",
        "final-candidate correlation",
        "median best distance",
        "crashed backtests",
      ],
      c.drivers.map((d) => [
        d.driver,
        `${d.runsWithPass}/${d.seeds}`,
        d.medianBacktestsToFirstPass === null ? "—" : String(d.medianBacktestsToFirstPass),
        f2(d.bestDsr),
        f2(d.medianEndDsr),
        String(d.passes.length),
        d.holdoutEvaluated === 0
          ? "—"
          : `${d.holdoutPositive}/${d.holdoutEvaluated} / ${f2(d.medianHoldoutSharpe)}`,
        `${d.families.length} (${d.families.join(", ") || "—"})`,
        d.finalCorrelation === null
          ? `— (${d.correlated} usable)`
          : `${d.finalCorrelation.toFixed(2)} (n=${d.correlated})`,
        f3(d.medianBestDistance),
        `${d.crashed}/${d.backtests}`,
      ]),
    ),
  );
  out.push("");
  out.push(
    "Best DSR = the highest Deflated Sharpe any candidate of the driver had when it was judged (N = the trials " +
      "before it, so early candidates are barely deflated); final DSR = median over seeds of the final candidate's " +
      "DSR deflated by every backtest of its run. " +
      "Final candidate = each seed's best-distance candidate; correlation = mean pairwise Pearson correlation of " +
      "their daily returns over the days they share (lower = more diverse across seeds). Gate distance is 0 " +
      "when every gate passes and grows with the mean normalised shortfall (≥ 1 for a crash or a failed check).",
  );
  out.push("");
  out.push("## Holdout of passing candidates");
  out.push("");
  const passRows = c.drivers.flatMap((d) =>
    d.passes.map((p) => [
      d.driver,
      String(p.seed),
      `#${p.iteration} ${p.name ?? "?"}`,
      p.family ?? "—",
      f2(p.dsr),
      holdoutText(p.holdout),
    ]),
  );
  out.push(
    passRows.length === 0
      ? "No candidate passed every gate, so the holdout was never opened."
      : mdTable(["driver", "seed", "candidate", "family", "DSR", "holdout"], passRows),
  );
  out.push("");
  out.push("## Best gate distance against backtests spent (median over seeds)");
  out.push("");
  const top = Math.max(
    1e-9,
    ...c.drivers.flatMap((d) => d.curve.flatMap((v) => (v === null ? [] : [Math.min(v, 1)]))),
  );
  const width = Math.min(60, m.budget);
  out.push("```");
  const pad = Math.max(...c.drivers.map((d) => d.driver.length));
  for (const d of c.drivers) {
    out.push(`${d.driver.padEnd(pad)} ${sparkline(d.curve, width, top)}  ${f3(d.curve.at(-1) ?? null)}`);
  }
  out.push(
    `${"".padEnd(pad)} scale: ▁ = 0 (every gate passes) … █ = ${top.toFixed(2)}; ${width} columns over ${m.budget} backtests`,
  );
  out.push("```");
  out.push("");
  const pts = checkpoints(m.budget);
  out.push(
    mdTable(
      ["backtests", ...c.drivers.map((d) => d.driver)],
      pts.map((p) => [String(p), ...c.drivers.map((d) => f3(d.curve[p - 1] ?? null))]),
    ),
  );
  out.push("");
  out.push("## Runs");
  out.push("");
  out.push(
    mdTable(
      [
        "driver",
        "seed",
        "run",
        "backtests",
        "passes",
        "1st pass at",
        "best DSR",
        "final candidate",
        "distance",
        "final DSR",
        "families",
        "wall",
      ],
      c.runs.map((r) => [
        r.driver,
        String(r.seed),
        r.runId,
        String(r.backtests),
        String(r.passes.length),
        r.backtestsToFirstPass === null ? "—" : String(r.backtestsToFirstPass),
        f2(r.bestDsr),
        r.final ? `#${r.final.iteration} ${r.final.name ?? "?"}` : "—",
        f3(r.final?.distance ?? null),
        f2(r.final?.endDsr ?? null),
        String(r.families.length),
        `${(r.wallMs / 1000).toFixed(0)} s`,
      ]),
    ),
  );
  out.push("");
  out.push(
    '"Passes the gates" is eligibility, not proof of alpha: read the DSR, the holdout and the holdout peek count together.',
  );
  return `${out.join("\n")}\n`;
}

/** A QuickChart (Chart.js 2) line chart of the median best distance per driver. */
export function chartConfig(c: Comparison): Record<string, unknown> {
  const colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"];
  const len = Math.max(0, ...c.drivers.map((d) => d.curve.length));
  return {
    type: "line",
    data: {
      labels: Array.from({ length: len }, (_, i) => i + 1),
      datasets: c.drivers.map((d, i) => ({
        label: d.driver,
        data: d.curve.map((v) => (v === null ? null : Number(v.toFixed(4)))),
        fill: false,
        pointRadius: 0,
        borderColor: colours[i % colours.length],
        steppedLine: true,
      })),
    },
    options: {
      title: {
        display: true,
        text: `Best gate distance vs backtests (median of ${c.meta.seeds.length} seeds), ${c.meta.dataset}`,
      },
      scales: {
        xAxes: [{ scaleLabel: { display: true, labelString: "backtests spent" } }],
        yAxes: [
          { scaleLabel: { display: true, labelString: "best gate distance (0 = pass)" }, ticks: { min: 0 } },
        ],
      },
    },
  };
}
