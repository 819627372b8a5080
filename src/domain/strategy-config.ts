import { z } from "zod";

/**
 * A strategy config (the YAML beside a strategy module). Strict: the harness owns dates, windows,
 * fees and gates, so those keys are not part of this schema at all — the policy check in
 * `src/backtest/strategy-config.ts` reports them as violations before this schema runs.
 */
const positive = z.number().positive();

export const StopLossSchema = z.union([
  z.strictObject({ percent: positive.max(100) }),
  z.strictObject({ atr: positive, atr_period: z.number().int().min(1).default(14) }),
]);

export const TakeProfitSchema = z.union([
  z.strictObject({ percent: positive }),
  z.strictObject({ r_multiple: positive }),
]);

export const TrailingStopSchema = z.strictObject({
  atr: positive,
  atr_period: z.number().int().min(1).default(14),
});

export const RiskSchema = z
  .strictObject({
    stop_loss: StopLossSchema.optional(),
    take_profit: TakeProfitSchema.optional(),
    trailing_stop: TrailingStopSchema.optional(),
    time_stop_bars: z.number().int().positive().optional(),
  })
  // The simulator needs these together; saying so here makes it a config error the model can fix.
  .refine((r) => !(r.take_profit && "r_multiple" in r.take_profit) || r.stop_loss !== undefined, {
    message:
      "take_profit.r_multiple needs a stop_loss to define R (add risk.stop_loss or use take_profit.percent)",
    path: ["take_profit", "r_multiple"],
  });

export const SizingSchema = z
  .strictObject({
    mode: z.enum(["fixed_fraction", "volatility_target"]).default("fixed_fraction"),
    /** Share of equity per position for fixed_fraction (1 = all in). */
    fraction: z.number().gt(0).max(1).default(1),
    /** Annualised volatility the position aims for under volatility_target, e.g. 0.2 = 20 %. */
    target_volatility: positive.optional(),
    vol_lookback: z.number().int().min(2).default(48),
    max_leverage: z.number().gt(0).max(10).default(1),
  })
  .refine((z0) => z0.mode !== "volatility_target" || (z0.target_volatility ?? 0) > 0, {
    message: "sizing.mode volatility_target needs sizing.target_volatility (e.g. 0.2 for 20 % a year)",
    path: ["target_volatility"],
  });

export const ParamValueSchema = z.union([z.number(), z.boolean(), z.string()]);

export const StrategyConfigSchema = z.strictObject({
  /** Name of the strategy (as given to defineStrategy) or its workspace path. */
  strategy: z.string().min(1),
  timeframe: z.string().regex(/^\d+[mhdw]$/, "a timeframe such as 5m, 1h, 4h, 1d"),
  params: z.record(z.string(), ParamValueSchema).default({}),
  direction: z.enum(["long_only", "long_short"]).default("long_only"),
  risk: RiskSchema.default({}),
  sizing: SizingSchema.default({ mode: "fixed_fraction", fraction: 1, vol_lookback: 48, max_leverage: 1 }),
});

export type StrategyConfig = z.infer<typeof StrategyConfigSchema>;
export type RiskConfig = z.infer<typeof RiskSchema>;
export type SizingConfig = z.infer<typeof SizingSchema>;
