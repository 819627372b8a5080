/**
 * Raised when a statistic is asked for outside its domain (too few observations,
 * a probability outside (0, 1), an odd number of CSCV blocks…). The message names
 * the input and the rule it broke, so it can be shown to a person unchanged.
 */
export class StatsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatsError";
  }
}
