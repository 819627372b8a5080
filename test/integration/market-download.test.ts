import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Command } from "commander";
import { strToU8, zipSync } from "fflate";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { registerDataDownload } from "../../src/cli/data-download-command.ts";
import { defaultDownloadDir, downloadKlines, monthRange, resolveBaseUrl } from "../../src/market/download.ts";

/** Binance kline CSV: open time, o, h, l, c, volume, close time, quote volume, trades, taker base, taker quote, ignore. */
function klineCsv(month: string, rows: number): string {
  const start = Date.parse(`${month}-01T00:00:00Z`);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const t = start + i * 60_000;
    const o = 42_000 + i;
    lines.push(
      [
        t,
        o.toFixed(2),
        (o + 5).toFixed(2),
        (o - 5).toFixed(2),
        (o + 1).toFixed(2),
        "1.5",
        t + 59_999,
        "63000.5",
        12,
        "0.7",
        "29400.2",
        0,
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

function zipOf(name: string, csv: string): Uint8Array {
  return zipSync({ [`${name}.csv`]: strToU8(csv) });
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Route {
  body?: Uint8Array | string;
  /** Status codes to answer before serving the body (e.g. [500] = fail once). */
  failFirst?: number[];
  hang?: boolean;
}

let server: Server;
let baseUrl: string;
const routes = new Map<string, Route>();
const hits = new Map<string, number>();
let outDir: string;

const PREFIX = "/data/spot/monthly/klines";
const csvs = new Map<string, string>();

function publish(
  symbol: string,
  tf: string,
  month: string,
  opts: { checksum?: "good" | "bad" | "none"; failFirst?: number[] } = {},
) {
  const name = `${symbol}-${tf}-${month}`;
  const csv = klineCsv(month, 30);
  csvs.set(name, csv);
  const zip = zipOf(name, csv);
  const path = `${PREFIX}/${symbol}/${tf}/${name}.zip`;
  routes.set(path, { body: zip, failFirst: opts.failFirst });
  const checksum = opts.checksum ?? "good";
  if (checksum !== "none") {
    const digest = checksum === "good" ? sha256(zip) : sha256(strToU8("something else"));
    routes.set(`${path}.CHECKSUM`, { body: `${digest}  ${name}.zip\n` });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? "";
    hits.set(url, (hits.get(url) ?? 0) + 1);
    const route = routes.get(url);
    if (!route) {
      res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
      return;
    }
    if (route.hang) return; // never answers: exercises the timeout
    const pending = route.failFirst?.shift();
    if (pending !== undefined) {
      res.writeHead(pending).end("try later");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(async () => {
  routes.clear();
  hits.clear();
  outDir = await mkdtemp(join(tmpdir(), "alphaloop-download-"));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(outDir, { recursive: true, force: true });
});

describe("downloadKlines against a local HTTP server", () => {
  it("downloads, verifies, retries a 500, reports a 404 month and continues", async () => {
    publish("BTCUSDT", "1m", "2024-01");
    publish("BTCUSDT", "1m", "2024-02", { failFirst: [500, 503] });
    // 2024-03 is not published: 404.
    publish("BTCUSDT", "1m", "2024-04", { checksum: "none" });
    const seen: string[] = [];
    const report = await downloadKlines({
      symbol: "btcusdt",
      timeframe: "1m",
      from: "2024-01",
      to: "2024-04",
      baseUrl,
      outDir,
      retryDelayMs: 5,
      onMonth: (m) => seen.push(m.month),
    });

    expect(report.months.map((m) => [m.month, m.status, m.checksum])).toEqual([
      ["2024-01", "downloaded", "verified"],
      ["2024-02", "downloaded", "verified"],
      ["2024-03", "missing", undefined],
      ["2024-04", "downloaded", "unavailable"],
    ]);
    expect(report.months[2]?.error).toMatch(/BTCUSDT-1m-2024-03\.zip not found \(404\)/);
    expect(hits.get(`${PREFIX}/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip`)).toBe(3);
    expect(seen.sort()).toEqual(["2024-01", "2024-02", "2024-03", "2024-04"]);

    expect(report.files).toEqual(
      ["2024-01", "2024-02", "2024-04"].map((m) => join(outDir, `BTCUSDT-1m-${m}.csv.gz`)),
    );
    for (const [i, m] of ["2024-01", "2024-02", "2024-04"].entries()) {
      const text = gunzipSync(await readFile(report.files[i]!)).toString("utf8");
      expect(text).toBe(csvs.get(`BTCUSDT-1m-${m}`));
      expect(text.split("\n")[0]?.split(",")).toHaveLength(12);
    }
  });

  it("a checksum mismatch fails that month with an error naming the file", async () => {
    publish("ETHUSDT", "1h", "2024-05", { checksum: "bad" });
    publish("ETHUSDT", "1h", "2024-06");
    const report = await downloadKlines({
      symbol: "ETHUSDT",
      timeframe: "1h",
      from: "2024-05",
      to: "2024-06",
      baseUrl,
      outDir,
    });
    expect(report.months[0]?.status).toBe("failed");
    expect(report.months[0]?.error).toMatch(/checksum mismatch for ETHUSDT-1h-2024-05\.zip/);
    expect(report.months[1]?.status).toBe("downloaded");
    expect(report.files).toEqual([join(outDir, "ETHUSDT-1h-2024-06.csv.gz")]);
  });

  it("skips files already downloaded unless forced", async () => {
    publish("BTCUSDT", "1d", "2024-01");
    const opts = { symbol: "BTCUSDT", timeframe: "1d", from: "2024-01", to: "2024-01", baseUrl, outDir };
    await downloadKlines(opts);
    const again = await downloadKlines(opts);
    expect(again.months[0]?.status).toBe("cached");
    expect(again.files).toEqual([join(outDir, "BTCUSDT-1d-2024-01.csv.gz")]);
    expect(hits.get(`${PREFIX}/BTCUSDT/1d/BTCUSDT-1d-2024-01.zip`)).toBe(1);
    const forced = await downloadKlines({ ...opts, force: true });
    expect(forced.months[0]?.status).toBe("downloaded");
    expect(hits.get(`${PREFIX}/BTCUSDT/1d/BTCUSDT-1d-2024-01.zip`)).toBe(2);
  });

  it("gives up after the retries on persistent 5xx, timeouts and refused connections", async () => {
    publish("BTCUSDT", "1m", "2024-01", { failFirst: [502, 502, 502] });
    routes.set(`${PREFIX}/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip`, { hang: true });
    const report = await downloadKlines({
      symbol: "BTCUSDT",
      timeframe: "1m",
      from: "2024-01",
      to: "2024-02",
      baseUrl,
      outDir,
      retries: 2,
      retryDelayMs: 5,
      timeoutMs: 300,
    });
    expect(report.months[0]).toMatchObject({ status: "failed" });
    expect(report.months[0]?.error).toMatch(/failed after 3 attempts: HTTP 502/);
    expect(report.months[1]?.error).toMatch(/failed after 3 attempts: timed out/);
    expect(report.files).toEqual([]);

    // A port nobody listens on: connection refused, retried, then reported.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await downloadKlines({
      symbol: "BTCUSDT",
      timeframe: "1m",
      from: "2024-01",
      to: "2024-01",
      baseUrl: `http://127.0.0.1:${deadPort}`,
      outDir,
      retries: 1,
      retryDelayMs: 5,
    });
    expect(refused.months[0]?.error).toMatch(/failed after 2 attempts: .*ECONNREFUSED/);
  });

  it("takes its base URL from BINANCE_DATA_URL when no option is given", async () => {
    publish("SOLUSDT", "4h", "2024-02");
    const report = await downloadKlines({
      symbol: "SOLUSDT",
      timeframe: "4h",
      from: "2024-02",
      to: "2024-02",
      outDir,
      env: { BINANCE_DATA_URL: `${baseUrl}/` },
    });
    expect(report.months[0]?.url).toBe(`${baseUrl}${PREFIX}/SOLUSDT/4h/SOLUSDT-4h-2024-02.zip`);
    expect(report.months[0]?.status).toBe("downloaded");
    expect(resolveBaseUrl(undefined, {})).toBe("https://data.binance.vision");
    expect(defaultDownloadDir({ ALPHALOOP_HOME: "/srv/alpha" })).toBe("/srv/alpha/downloads");
    expect(defaultDownloadDir({})).toBe(join(".alphaloop", "downloads"));
  });

  it("validates months, symbols and intervals before any request", async () => {
    expect(monthRange("2023-11", "2024-02")).toEqual(["2023-11", "2023-12", "2024-01", "2024-02"]);
    expect(() => monthRange("2024-13", "2024-14")).toThrow(/--from must be a month like 2024-01/);
    expect(() => monthRange("2024-06", "2024-01")).toThrow(/--to 2024-01 is before --from 2024-06/);
    await expect(
      downloadKlines({ symbol: "BTCUSDT", timeframe: "7m", from: "2024-01", to: "2024-01", baseUrl, outDir }),
    ).rejects.toThrow(/no "7m" klines/);
    await expect(
      downloadKlines({
        symbol: "BTC/USDT",
        timeframe: "1m",
        from: "2024-01",
        to: "2024-01",
        baseUrl,
        outDir,
      }),
    ).rejects.toThrow(/invalid symbol/);
    expect(hits.size).toBe(0);
  });
});

describe("alphaloop data download", () => {
  function program(importFiles?: (paths: string[]) => Promise<unknown>) {
    const root = new Command("alphaloop").exitOverride();
    const data = root.command("data");
    registerDataDownload(data, { importFiles, retryDelayMs: 5 });
    return root;
  }

  function captureStdout(): { text: () => string } {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    return { text: () => out };
  }

  it("downloads, then hands the files to the injected importer", async () => {
    publish("BTCUSDT", "1m", "2024-01");
    publish("BTCUSDT", "1m", "2024-02");
    const imported: string[][] = [];
    const stdout = captureStdout();
    await program(async (paths) => {
      imported.push(paths);
      return { bars: 60 };
    }).parseAsync(
      [
        "data",
        "download",
        "--symbol",
        "BTCUSDT",
        "--timeframe",
        "1m",
        "--from",
        "2024-01",
        "--to",
        "2024-03",
        "--base-url",
        baseUrl,
        "--out",
        outDir,
        "--json",
      ],
      { from: "user" },
    );
    const files = ["2024-01", "2024-02"].map((m) => join(outDir, `BTCUSDT-1m-${m}.csv.gz`));
    expect(imported).toEqual([files]);
    const json = JSON.parse(stdout.text());
    expect(json.files).toEqual(files);
    expect(json.import).toEqual({ bars: 60 });
    expect(json.months.map((m: { status: string }) => m.status)).toEqual([
      "downloaded",
      "downloaded",
      "missing",
    ]);
  });

  it("--no-import only downloads and prints a table", async () => {
    publish("BTCUSDT", "1m", "2024-01");
    let called = false;
    const stdout = captureStdout();
    await program(async () => {
      called = true;
    }).parseAsync(
      [
        "data",
        "download",
        "--symbol",
        "BTCUSDT",
        "--timeframe",
        "1m",
        "--from",
        "2024-01",
        "--to",
        "2024-01",
        "--base-url",
        baseUrl,
        "--out",
        outDir,
        "--no-import",
      ],
      { from: "user" },
    );
    expect(called).toBe(false);
    expect(stdout.text()).toMatch(/2024-01\s+downloaded\s+verified/);
    expect(stdout.text()).toMatch(/BTCUSDT 1m: 1 downloaded, 0 already present, 0 missing, 0 failed/);
    expect(stdout.text()).toMatch(/import skipped \(--no-import\)/);
  });

  it("exits with an error naming the file when a checksum fails", async () => {
    publish("BTCUSDT", "1m", "2024-01", { checksum: "bad" });
    captureStdout();
    await expect(
      program().parseAsync(
        [
          "data",
          "download",
          "--symbol",
          "BTCUSDT",
          "--timeframe",
          "1m",
          "--from",
          "2024-01",
          "--to",
          "2024-01",
          "--base-url",
          baseUrl,
          "--out",
          outDir,
        ],
        { from: "user" },
      ),
    ).rejects.toThrow(/1 month\(s\) failed:\n {2}2024-01: checksum mismatch for BTCUSDT-1m-2024-01\.zip/);
  });

  it("prints the importer's summary, and fails when the importer says ok: false", async () => {
    publish("BTCUSDT", "1m", "2024-01");
    const stdout = captureStdout();
    const args = [
      "data",
      "download",
      "--symbol",
      "BTCUSDT",
      "--timeframe",
      "1m",
      "--from",
      "2024-01",
      "--to",
      "2024-01",
      "--base-url",
      baseUrl,
      "--out",
      outDir,
    ];
    await program(async () => ({ ok: true, inserted: 30, files: ["x"] })).parseAsync(args, { from: "user" });
    expect(stdout.text()).toMatch(/import of 1 file\(s\): ok=true inserted=30\n/);
    await expect(
      program(async () => ({ ok: false, inserted: 0 })).parseAsync([...args, "--force"], { from: "user" }),
    ).rejects.toThrow(/import failed/);
  });

  it("refuses to import a Binance interval the store cannot hold, before downloading", async () => {
    captureStdout();
    await expect(
      program(async () => ({})).parseAsync(
        [
          "data",
          "download",
          "--symbol",
          "BTCUSDT",
          "--timeframe",
          "1s",
          "--from",
          "2024-01",
          "--to",
          "2024-01",
          "--base-url",
          baseUrl,
          "--out",
          outDir,
        ],
        { from: "user" },
      ),
    ).rejects.toThrow(/not "1s"; pass --no-import/);
    expect(hits.size).toBe(0);
  });

  it("exits with an error when no month exists at all", async () => {
    captureStdout();
    await expect(
      program().parseAsync(
        [
          "data",
          "download",
          "--symbol",
          "BTCUSDT",
          "--timeframe",
          "1m",
          "--from",
          "2019-01",
          "--to",
          "2019-02",
          "--base-url",
          baseUrl,
          "--out",
          outDir,
        ],
        { from: "user" },
      ),
    ).rejects.toThrow(/no data for BTCUSDT 1m in 2019-01\.\.2019-02/);
  });
});
