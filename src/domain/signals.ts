/**
 * What a strategy's `signals` function returns, after validation. Two shapes:
 * - event signals: 1 on the bar whose close triggers the action, 0 elsewhere;
 * - target positions: the wanted exposure in [-1, 1] from the bar's close on.
 * Either way the trusted simulator fills at the *next* bar's open, so a strategy cannot trade on
 * the bar whose close it just looked at.
 */
export interface EventSignals {
  readonly kind: "events";
  readonly enterLong: Uint8Array;
  readonly exitLong: Uint8Array;
  readonly enterShort?: Uint8Array;
  readonly exitShort?: Uint8Array;
}

export interface TargetSignals {
  readonly kind: "target";
  readonly target: Float64Array;
}

export type Signals = EventSignals | TargetSignals;
