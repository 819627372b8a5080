/**
 * The model-free drivers by name. The `llm` driver needs a model client and is built by the loop's
 * own wiring, not here.
 */
import type { Driver } from "../driver.ts";
import type { Library } from "../library.ts";
import { GaDriver, type GaOptions } from "./ga.ts";
import { HeuristicDriver, type HeuristicOptions } from "./heuristic.ts";
import { RandomDriver } from "./random.ts";

export const MODEL_FREE_DRIVERS = ["heuristic", "random", "ga"] as const;
export type ModelFreeDriverName = (typeof MODEL_FREE_DRIVERS)[number];

export interface DriverDeps {
  readonly library: Library;
  readonly ga?: GaOptions;
  readonly heuristic?: HeuristicOptions;
}

export function createDriver(name: ModelFreeDriverName, deps: DriverDeps): Driver {
  switch (name) {
    case "heuristic":
      return new HeuristicDriver(deps.library, deps.heuristic);
    case "random":
      return new RandomDriver(deps.library);
    case "ga":
      return new GaDriver(deps.library, deps.ga);
    default: {
      const unknown: never = name;
      throw new Error(`unknown driver "${String(unknown)}"; expected ${MODEL_FREE_DRIVERS.join(", ")}`);
    }
  }
}

export { GaDriver, type GaOptions } from "./ga.ts";
export { HeuristicDriver, type HeuristicOptions } from "./heuristic.ts";
export { RandomDriver } from "./random.ts";
