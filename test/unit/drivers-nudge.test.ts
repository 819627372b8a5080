import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../src/backtest/sandbox/index.ts";
import type { Nudge } from "../../src/domain/run.ts";
import { readNudges, understood } from "../../src/loop/drivers/nudge-intent.ts";
import { type Library, loadLibrary } from "../../src/loop/library.ts";

const nudge = (text: string): Nudge => ({
  id: 1,
  runId: "r",
  author: "a",
  source: "discord-thread",
  text,
  createdAt: new Date(0),
  claimedIteration: null,
});

describe("what the model-free drivers read from a nudge", () => {
  const sandbox = new Sandbox();
  let library: Library;
  beforeAll(async () => {
    library = await loadLibrary("strategies", sandbox);
  });
  afterAll(() => sandbox.dispose());
  const read = (text: string, base = "1h") => readNudges([nudge(text)], library, base);

  it("names a strategy with hyphens or spaces, the longest name winning over a family word in it", () => {
    expect(read("Try Donchian Breakout").strategy?.name).toBe("donchian-breakout");
    expect(read("vol-adjusted-trend please").strategy?.name).toBe("vol-adjusted-trend");
    expect(read("vol-adjusted-trend please").family).toBeUndefined();
  });

  it("names a family, and 'volatility target' is sizing, not the volatility family", () => {
    expect(read("something mean reversion").family).toBe("mean-reversion");
    expect(read("more trend following").family).toBe("trend");
    const i = read("use a volatility target");
    expect(i.family).toBeUndefined();
    expect(i.smallerSize).toBe(true);
    expect(read("volatility strategies").family).toBe("volatility");
  });

  it("reads timeframes on the dataset's grid only", () => {
    expect(read("go to 4h").timeframe).toBe("4h");
    expect(read("go to 30m").timeframe).toBeUndefined();
    expect(read("go to 30m", "15m").timeframe).toBe("30m");
    expect(read("go to 6h", "4h").timeframe).toBeUndefined();
  });

  it("reads lookback, stop, sizing and direction words", () => {
    expect(read("shorter lookbacks").lookbacks).toBe("shorter");
    expect(read("fewer trades").lookbacks).toBe("longer");
    expect(read("tighter stop").stop).toBe("tighter");
    expect(read("add a stop loss").stop).toBe("tighter");
    expect(read("looser stops").stop).toBe("wider");
    expect(read("reduce size").smallerSize).toBe(true);
    expect(read("allow shorts").direction).toBe("long_short");
    expect(read("long only").direction).toBe("long_only");
    expect(understood(read("what a lovely day"))).toBe(false);
    expect(understood(read("tighter stop"))).toBe(true);
  });
});
