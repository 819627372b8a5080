/**
 * The iteration chart: candidate equity against buy-and-hold, with the candidate's drawdown in a
 * panel below. The config is plain JSON for Chart.js 4 (QuickChart `version: "4"`, where stacked
 * y axes give the two panels); `renderChartPng` sends it to a QuickChart server with quickchart-js
 * and returns the PNG. The bot attaches the bytes — Discord cannot fetch a chart URL that lives
 * on a private network.
 */
import QuickChartImport from "quickchart-js";

// The package's types describe its CommonJS build (class at `.default`); Node's ESM import of its
// .mjs build hands over the class itself. Accept either.
type QuickChartClass = typeof QuickChartImport.default;
const QuickChart: QuickChartClass =
  (QuickChartImport as unknown as { default?: QuickChartClass }).default ??
  (QuickChartImport as unknown as QuickChartClass);

export interface EquityCurve {
  /** Bar open times, epoch ms. */
  readonly t: readonly number[];
  readonly equity: readonly number[];
  readonly benchmark: readonly number[];
}

/** A Chart.js configuration; loose on purpose, it is serialised and rendered elsewhere. */
export type ChartConfig = Record<string, unknown>;

export const CHART_SIZE = { width: 800, height: 450 } as const;
const MAX_POINTS = 300;

/** Drawdown from the running peak, as a non-positive fraction (−0.2 = 20 % below the peak). */
export function drawdownOf(equity: readonly number[]): number[] {
  let peak = Number.NEGATIVE_INFINITY;
  return equity.map((v) => {
    if (v > peak) peak = v;
    return peak > 0 ? v / peak - 1 : 0;
  });
}

function round(x: number, digits: number): number {
  // `|| 0` turns −0 into 0, so the config survives a JSON round trip unchanged.
  return Number.isFinite(x) ? Number(x.toFixed(digits)) || 0 : 0;
}

/** Every k-th point (and always the last), so the request stays small on long curves. */
function thin<T>(xs: readonly T[], keep: readonly number[]): T[] {
  return keep.map((i) => xs[i] as T);
}

export function isEquityCurve(x: unknown): x is EquityCurve {
  if (!x || typeof x !== "object") return false;
  const c = x as Record<string, unknown>;
  return (
    Array.isArray(c["t"]) &&
    Array.isArray(c["equity"]) &&
    Array.isArray(c["benchmark"]) &&
    c["t"].length > 1 &&
    c["equity"].length === c["t"].length &&
    c["benchmark"].length === c["t"].length
  );
}

export function equityChartConfig(curve: EquityCurve, title: string): ChartConfig {
  const n = curve.t.length;
  const step = Math.max(1, Math.ceil(n / MAX_POINTS));
  const keep: number[] = [];
  for (let i = 0; i < n; i += step) keep.push(i);
  if (keep[keep.length - 1] !== n - 1) keep.push(n - 1);
  const dd = drawdownOf(curve.equity);
  const labels = thin(curve.t, keep).map((t) => new Date(t).toISOString().slice(0, 10));
  return {
    type: "line",
    data: {
      labels,
      datasets: [
        {
          label: "candidate",
          data: thin(curve.equity, keep).map((v) => round(v, 4)),
          borderColor: "#2f80ed",
          borderWidth: 2,
          pointRadius: 0,
          fill: false,
          yAxisID: "equity",
        },
        {
          label: "buy & hold",
          data: thin(curve.benchmark, keep).map((v) => round(v, 4)),
          borderColor: "#9aa0a6",
          borderWidth: 1.5,
          pointRadius: 0,
          fill: false,
          yAxisID: "equity",
        },
        {
          label: "drawdown",
          data: thin(dd, keep).map((v) => round(v * 100, 2)),
          borderColor: "#eb5757",
          backgroundColor: "rgba(235,87,87,0.25)",
          borderWidth: 1,
          pointRadius: 0,
          fill: "origin",
          yAxisID: "drawdown",
        },
      ],
    },
    options: {
      animation: false,
      plugins: { title: { display: true, text: title }, legend: { position: "top" } },
      scales: {
        x: { ticks: { maxTicksLimit: 8 } },
        equity: {
          type: "linear",
          position: "left",
          stack: "panels",
          stackWeight: 3,
          title: { display: true, text: "equity (×)" },
        },
        drawdown: {
          type: "linear",
          position: "left",
          stack: "panels",
          stackWeight: 1,
          max: 0,
          offset: true,
          title: { display: true, text: "drawdown %" },
        },
      },
    },
  };
}

export interface RenderChartOptions {
  /** QuickChart server base URL, e.g. http://quickchart:3400 (QUICKCHART_URL). */
  readonly url: string;
  readonly timeoutMs?: number;
  readonly width?: number;
  readonly height?: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export class ChartRenderError extends Error {
  override readonly name = "ChartRenderError";
}

/** Renders `config` to PNG bytes on the QuickChart server; rejects on timeout or a non-PNG answer. */
export async function renderChartPng(config: ChartConfig, o: RenderChartOptions): Promise<Buffer> {
  const base = new URL(o.url);
  const chart = new QuickChart()
    // JSON rather than a JS object literal, so the server (and a test double) can parse it plainly.
    .setConfig(JSON.stringify(config))
    .setScheme(base.protocol.replace(/:$/, ""))
    // quickchart-js concatenates scheme://host/chart, so a path prefix rides along in the host.
    .setHost(`${base.host}${base.pathname.replace(/\/+$/, "")}`)
    .setWidth(o.width ?? CHART_SIZE.width)
    .setHeight(o.height ?? CHART_SIZE.height)
    .setBackgroundColor("white")
    .setVersion("4")
    .setFormat("png");
  const timeoutMs = o.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  // toBinary takes no signal; the race bounds how long a post waits for its picture.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ChartRenderError(`QuickChart did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const png = await Promise.race([chart.toBinary(), timeout]);
    if (png.length < PNG_MAGIC.length || PNG_MAGIC.some((b, i) => png[i] !== b)) {
      throw new ChartRenderError(`QuickChart answered ${png.length} bytes that are not a PNG`);
    }
    return png;
  } catch (err) {
    if (err instanceof ChartRenderError) throw err;
    throw new ChartRenderError((err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}
