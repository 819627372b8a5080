/**
 * The trusted simulator: turns a strategy's signals into fills, equity and trades. Pure, one pass
 * over the bars, typed arrays, no allocation per bar (only one object per closed trade).
 *
 * Timing. A signal read at bar t's close fills at bar t+1's open; nothing fills on the bar whose
 * close produced it. Inside bar t the order of events is: (1) the order decided at t-1's close
 * fills at the open, (2) stop loss / take profit / trailing stop are checked against the bar's
 * open, low and high, (3) the book is marked at the close, (4) the signals of bar t are read and
 * the order for t+1's open is decided (time stop included). The position still open after the
 * last bar is closed at the last close with reason "end".
 *
 * Costs. Every fill pays `slippageBps` against you (buys at price·(1+s), sells at price·(1−s)) and
 * `feeBps` on the filled notional, per side. Stops fill at their level (with slippage), or at the
 * open when the bar gaps through them.
 *
 * Intrabar rule (conservative). Bars have no path, so: open beyond the stop → stop fills at the
 * open; else open beyond the target → target fills at the open (the open is the bar's first
 * price); else if the low (long) reaches the stop the stop fills — even when the high also
 * reached the target in the same bar; else if the high reaches the target the target fills.
 * Stop loss and trailing stop share the test; the tighter level wins and names the reason
 * (a tie is "stop_loss").
 *
 * Event semantics, at bar t's close:
 *   - exit wins: an entry with its own exit on the same bar is void (enterLong ∧ exitLong → no
 *     long entry; if long, the long exits). enterLong ∧ enterShort on one bar → both void.
 *   - flat: enterLong → long; enterShort (long_short only) → short.
 *   - long: exitLong → flat; enterShort (long_short) → reverse to short at the same open;
 *     enterLong is ignored (no pyramiding). Short is the mirror image.
 *   - long_only ignores enterShort and exitShort entirely.
 *   - after any exit decided at a close, only the opposite side may enter on that close (no
 *     exit-and-re-enter the same side on one open). After an intrabar stop the bar's own close
 *     may enter again: event arrays that stay 1 while a condition holds will re-enter at once.
 *
 * Target semantics. target[t] ∈ [-1, 1] (NaN → 0, clamped; negative → 0 under long_only) is the
 * wanted exposure from t+1's open, scaled by the sizing. The book rebalances only when the target
 * value changes (so a constant target lets the exposure drift with price instead of paying fees
 * every bar); the rebalance pays fees and slippage on |Δ units|. A sign flip closes the trade and
 * opens a new one. Stops and the time stop apply in target mode too, per position (entry price =
 * the fill that opened it, later resizes do not move the stops); after a stop or time stop the book
 * stays flat until the target takes a different value.
 *
 * Sizing. Exposure is notional / equity measured right after the fill at the fill bar's open, so a
 * fill's own costs are paid out of the equity before the size is set (position[t] equals the
 * wanted exposure exactly on a fill bar). fixed_fraction: exposure = fraction. volatility_target: exposure =
 * min(max_leverage, target_volatility / realised), realised = sample std of the last vol_lookback
 * close-to-close log returns up to the signal bar, annualised 24/7 for the timeframe; realised 0 →
 * max_leverage; fewer than vol_lookback returns of history → the entry is skipped. A position is
 * sized at entry (events) or at each rebalance (target) and then held in units.
 *
 * Ruin. If equity marked at a close is ≤ 0 the position is closed there with reason
 * "liquidation", equity is floored at 0 and nothing trades afterwards.
 *
 * Trade fields: entryTime/exitTime are the open times of the bars where the fills happened;
 * entryPrice/exitPrice are fill prices (slippage included); `bars` counts the bars whose price
 * moves the position was exposed to; `pnl` = equity after the exit / equity before the entry − 1
 * (so it includes sizing and both sides' costs); `fees` = fees paid / equity before the entry.
 */
import type { Bars } from "../domain/bars.ts";
import type { Signals } from "../domain/signals.ts";
import type { RiskConfig, SizingConfig } from "../domain/strategy-config.ts";
import { barsPerYear } from "../domain/timeframe.ts";
import { wilderAtr } from "./wilder-atr.ts";

export type ExitReason =
  | "signal"
  | "stop_loss"
  | "take_profit"
  | "trailing_stop"
  | "time_stop"
  | "end"
  | "liquidation";

export interface Trade {
  side: "long" | "short";
  entryIndex: number;
  entryTime: number;
  entryPrice: number;
  exitIndex: number;
  exitTime: number;
  exitPrice: number;
  reason: ExitReason;
  bars: number;
  pnl: number;
  fees: number;
}

export interface SimulationOptions {
  direction: "long_only" | "long_short";
  risk?: RiskConfig;
  sizing?: Partial<SizingConfig>;
  feeBps: number;
  slippageBps: number;
  timeframe: string;
  /** First bar that may hold a position (its open is the earliest fill); earlier bars are warm-up. */
  startIndex?: number;
  /**
   * @internal Step through every bar even where nothing can happen (flat, no order, no entry
   * event): the reference the skipping fast path is tested against.
   */
  exhaustive?: boolean;
  /**
   * Columns to write into instead of allocating three fresh ones, each as long as the bars. The
   * equity is written on every bar; returns and position from startIndex on only — the bars
   * before it are left as they are (the caller's: stitched folds pass views whose warm-up part is
   * the previous fold's record). Whatever the buffers held from startIndex on is overwritten.
   */
  into?: SimulationBuffers;
}

export interface SimulationBuffers {
  equity: Float64Array;
  returns: Float64Array;
  position: Float64Array;
}

export interface SimulationResult {
  /** Equity marked at each close, 1 before startIndex. */
  equity: Float64Array;
  /** equity[t] / equity[t-1] − 1; 0 before startIndex (and after ruin). */
  returns: Float64Array;
  /** Signed exposure (notional / equity) held through bar t, measured right after its open fill. */
  position: Float64Array;
  trades: Trade[];
  startIndex: number;
  /** Bar open times (the input's array, not a copy), for daily aggregation. */
  time: Float64Array;
  /** Σ |filled notional| / equity at the fill: how many times the equity was traded. */
  turnover: number;
}

const NO_REASON: ExitReason = "signal";

/**
 * The ATR columns of a stop and of a trailing stop live only inside one simulate call, which
 * writes them in full before reading them, so one pair of buffers per thread serves every call:
 * no fresh 8 MB column (and its page faults) per million bars simulated.
 */
const atrBuffers: Float64Array[] = [new Float64Array(0), new Float64Array(0)];

function atrScratch(slot: 0 | 1, n: number): Float64Array {
  let buffer = atrBuffers[slot] as Float64Array;
  if (buffer.length < n) {
    buffer = new Float64Array(n);
    atrBuffers[slot] = buffer;
  }
  return buffer.subarray(0, n);
}

/** Mutable book and per-trade state; a class so V8 keeps every field monomorphic. */
class Book {
  units = 0;
  cash = 1;
  side = 0;
  turnover = 0;
  entryIndex = -1;
  entryPrice = 0;
  equityBefore = 0;
  fees = 0;
  stopLv = 0;
  tpLv = 0;
  trailLv = 0;
  readonly trades: Trade[] = [];

  constructor(
    private readonly time: Float64Array,
    private readonly slip: number,
    private readonly feeRate: number,
  ) {}

  /** Buy (du > 0) or sell (du < 0) units at the reference price, paying slippage and fees. */
  fill(du: number, ref: number): number {
    const px = du > 0 ? ref * (1 + this.slip) : ref * (1 - this.slip);
    const notional = Math.abs(du) * px;
    const fee = notional * this.feeRate;
    const marked = this.cash + this.units * ref;
    if (marked > 0) this.turnover += (Math.abs(du) * ref) / marked;
    this.cash -= du * px + fee;
    this.units += du;
    this.fees += fee;
    return px;
  }

  /**
   * Units to hold so that, right after this fill, notional / equity equals `exposure` exactly —
   * the fill's own slippage and fee come out of the equity first. Solves
   * u·ref = exposure · (equity − k·|u − units|) with k the cost per unit traded on that side.
   */
  unitsFor(exposure: number, ref: number): number {
    const eq = this.cash + this.units * ref;
    if (exposure === 0 || !(eq > 0)) return 0;
    const cur = this.units;
    const kBuy = ref * this.slip + ref * (1 + this.slip) * this.feeRate;
    const buy = (exposure * (eq + cur * kBuy)) / (ref + exposure * kBuy);
    if (buy >= cur) return buy;
    const kSell = ref * this.slip + ref * (1 - this.slip) * this.feeRate;
    const sell = (exposure * (eq - cur * kSell)) / (ref - exposure * kSell);
    return sell <= cur ? sell : (exposure * eq) / ref;
  }

  open(t: number, units: number, ref: number): void {
    this.equityBefore = this.cash + this.units * ref;
    this.fees = 0;
    this.entryIndex = t;
    this.side = units > 0 ? 1 : -1;
    this.entryPrice = this.fill(units, ref);
  }

  /** Closes the whole position; `intrabar` exits count the exit bar as held. */
  close(t: number, ref: number, reason: ExitReason, intrabar: boolean): void {
    const px = this.fill(-this.units, ref);
    this.units = 0;
    const before = this.equityBefore;
    this.trades.push({
      side: this.side > 0 ? "long" : "short",
      entryIndex: this.entryIndex,
      entryTime: this.time[this.entryIndex] as number,
      entryPrice: this.entryPrice,
      exitIndex: t,
      exitTime: this.time[t] as number,
      exitPrice: px,
      reason,
      bars: t - this.entryIndex + (intrabar ? 1 : 0),
      pnl: before > 0 ? this.cash / before - 1 : 0,
      fees: before > 0 ? this.fees / before : 0,
    });
    this.side = 0;
    this.entryIndex = -1;
  }
}

/** Rolling sample std of the last `len` values, O(1) per push; sums are rebuilt now and then to stop drift. */
class RollingStd {
  private readonly ring: Float64Array;
  private count = 0;
  private pos = 0;
  private sum = 0;
  private sumSq = 0;
  private pushes = 0;

  constructor(readonly length: number) {
    this.ring = new Float64Array(length);
  }

  push(x: number): void {
    if (this.count === this.length) {
      const old = this.ring[this.pos] as number;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.count++;
    this.ring[this.pos] = x;
    this.sum += x;
    this.sumSq += x * x;
    this.pos = (this.pos + 1) % this.length;
    if (++this.pushes % 4096 === 0) this.rebuild();
  }

  private rebuild(): void {
    let s = 0;
    let q = 0;
    for (let i = 0; i < this.count; i++) {
      const v = this.ring[i] as number;
      s += v;
      q += v * v;
    }
    this.sum = s;
    this.sumSq = q;
  }

  /** NaN until `len` values were pushed. */
  std(): number {
    if (this.count < this.length) return Number.NaN;
    const v = (this.sumSq - (this.sum * this.sum) / this.count) / (this.count - 1);
    return v > 0 ? Math.sqrt(v) : 0;
  }
}

function resolveSizing(s: Partial<SizingConfig> | undefined): SizingConfig {
  const sizing: SizingConfig = {
    mode: s?.mode ?? "fixed_fraction",
    fraction: s?.fraction ?? 1,
    vol_lookback: s?.vol_lookback ?? 48,
    max_leverage: s?.max_leverage ?? 1,
    ...(s?.target_volatility !== undefined ? { target_volatility: s.target_volatility } : {}),
  };
  if (sizing.mode === "volatility_target" && !(sizing.target_volatility && sizing.target_volatility > 0)) {
    throw new Error(
      "sizing.mode volatility_target needs sizing.target_volatility (e.g. 0.2 for 20 % a year)",
    );
  }
  return sizing;
}

export function simulate(bars: Bars, signals: Signals, opts: SimulationOptions): SimulationResult {
  const n = bars.close.length;
  const risk: RiskConfig = opts.risk ?? {};
  if (signals.kind === "events") {
    for (const [name, arr] of Object.entries(signals)) {
      if (arr instanceof Uint8Array && arr.length !== n) {
        throw new Error(`signals.${name} has ${arr.length} values for ${n} bars`);
      }
    }
  } else if (signals.target.length !== n) {
    throw new Error(`signals.target has ${signals.target.length} values for ${n} bars`);
  }
  if (opts.into) {
    for (const [name, arr] of Object.entries(opts.into)) {
      if (!(arr instanceof Float64Array) || arr.length !== n) {
        throw new Error(`into.${name} must be a Float64Array of ${n} values`);
      }
    }
  }
  if (risk.take_profit && "r_multiple" in risk.take_profit && !risk.stop_loss) {
    throw new Error("take_profit.r_multiple needs a stop_loss to define R");
  }
  return new Engine(bars, signals, opts, risk, resolveSizing(opts.sizing)).run(opts.into);
}

/**
 * The simulation loop and its state. One class with numeric fields and small methods, so V8
 * keeps the hot loop in one optimised frame (closures over `let`s in a big function deoptimised
 * and ran several times slower).
 */
class Engine {
  private readonly open: Float64Array;
  private readonly high: Float64Array;
  private readonly low: Float64Array;
  private readonly close: Float64Array;
  private readonly time: Float64Array;
  private readonly n: number;
  private readonly start: number;
  private readonly allowShort: boolean;
  private readonly book: Book;
  // Risk, precomputed so the loop only compares numbers.
  private readonly slPct: number;
  private readonly slAtrK: number;
  private readonly slAtr: Float64Array | null;
  private readonly tpPct: number;
  private readonly tpR: number;
  private readonly trK: number;
  private readonly trAtr: Float64Array | null;
  private readonly timeStop: number;
  // Sizing.
  private readonly fraction: number;
  private readonly maxLeverage: number;
  private readonly targetVol: number;
  private readonly annualise: number;
  private readonly vol: RollingStd | null;
  // Signals.
  private readonly enterLong: Uint8Array | null;
  private readonly exitLong: Uint8Array | null;
  private readonly enterShort: Uint8Array | null;
  private readonly exitShort: Uint8Array | null;
  private readonly target: Float64Array | null;
  // Order decided at the previous close.
  private pending = false;
  private pendSide = 0;
  private pendTarget = 0;
  private pendScale = 0;
  private pendReason: ExitReason = NO_REASON;
  // Target-mode memory: the target the open position was sized from, and the stop lock.
  private heldTarget = 0;
  private locked = false;
  private lockValue = 0;
  /** Flat stretches may be skipped to the next entry event (events mode, no per-bar sizing state). */
  private readonly skipFlat: boolean;
  /** Any stop loss, take profit or trailing stop: without one the intrabar check has nothing to do. */
  private readonly hasStops: boolean;

  constructor(bars: Bars, signals: Signals, opts: SimulationOptions, risk: RiskConfig, sizing: SizingConfig) {
    const { open, high, low, close, time } = bars;
    this.open = open;
    this.high = high;
    this.low = low;
    this.close = close;
    this.time = time;
    this.n = close.length;
    this.start = Math.max(0, Math.min(this.n, Math.floor(opts.startIndex ?? 0)));
    this.allowShort = opts.direction === "long_short";
    this.book = new Book(time, opts.slippageBps / 1e4, opts.feeBps / 1e4);

    const sl = risk.stop_loss;
    this.slPct = sl && "percent" in sl ? sl.percent / 100 : 0;
    this.slAtrK = sl && "atr" in sl ? sl.atr : 0;
    const slPeriod = sl && "atr" in sl ? (sl.atr_period ?? 14) : 0;
    this.slAtr = slPeriod > 0 ? wilderAtr(high, low, close, slPeriod, atrScratch(0, this.n)) : null;
    const tp = risk.take_profit;
    this.tpPct = tp && "percent" in tp ? tp.percent / 100 : 0;
    this.tpR = tp && "r_multiple" in tp ? tp.r_multiple : 0;
    const tr = risk.trailing_stop;
    this.trK = tr ? tr.atr : 0;
    const trPeriod = tr ? (tr.atr_period ?? 14) : 0;
    this.trAtr = !tr
      ? null
      : trPeriod === slPeriod && this.slAtr
        ? this.slAtr
        : wilderAtr(high, low, close, trPeriod, atrScratch(1, this.n));
    this.timeStop = risk.time_stop_bars ?? 0;

    this.fraction = sizing.fraction;
    this.maxLeverage = sizing.max_leverage;
    this.targetVol = sizing.target_volatility ?? 0;
    this.annualise = Math.sqrt(barsPerYear(opts.timeframe));
    this.vol = sizing.mode === "volatility_target" ? new RollingStd(sizing.vol_lookback) : null;

    const ev = signals.kind === "events" ? signals : null;
    this.enterLong = ev ? ev.enterLong : null;
    this.exitLong = ev ? ev.exitLong : null;
    this.enterShort = ev && this.allowShort ? (ev.enterShort ?? null) : null;
    this.exitShort = ev && this.allowShort ? (ev.exitShort ?? null) : null;
    this.target = signals.kind === "target" ? signals.target : null;
    this.skipFlat = ev !== null && this.vol === null && opts.exhaustive !== true;
    this.hasStops =
      this.slPct !== 0 || this.slAtr !== null || this.tpPct !== 0 || this.tpR !== 0 || this.trAtr !== null;
  }

  /**
   * First bar at or after `from` whose close may end (or reverse) the position held on `side`, or
   * the last bar: long ends on exitLong or, under long_short, enterShort; short the mirror image.
   */
  private nextExit(from: number, side: number): number {
    const last = this.n - 1;
    const exit = side > 0 ? this.exitLong : this.exitShort;
    const reverse = side > 0 ? this.enterShort : this.enterLong;
    let next = exit === null ? -1 : exit.indexOf(1, from);
    if (next < 0 || next > last) next = last;
    if (reverse !== null) {
      const r = reverse.indexOf(1, from);
      if (r >= 0 && r < next) next = r;
    }
    return next;
  }

  /**
   * Marks a position held without stops over bars [from, to), where no event can change it: the
   * same arithmetic as the main loop, minus its checks. Stops early (returning that bar) where the
   * equity reaches 0, so the main loop liquidates there. The last marked equity stays in `equity`
   * for the caller to read back: carried out of the loop in a field, the running value made V8
   * compile a slower loop (1M held bars: 7.7 ms, against 5.5 ms read back).
   * holdWithStops gives the same result with no levels set, but reading high and low and testing
   * them on every held bar cost S1 (EMA 12/26, 1M bars) 1.2–1.8 ms of its 11, so this stays.
   */
  private holdThrough(
    from: number,
    to: number,
    prevEq: number,
    equity: Float64Array,
    returns: Float64Array,
    position: Float64Array,
  ): number {
    const { open, close, book } = this;
    const units = book.units;
    const cash = book.cash;
    let prev = prevEq;
    let t = from;
    for (; t < to; t++) {
      const o = open[t] as number;
      const eqOpen = cash + units * o;
      const c = close[t] as number;
      const eq = cash + units * c;
      if (!(eqOpen > 0) || !(eq > 0)) break;
      position[t] = (units * o) / eqOpen;
      equity[t] = eq;
      returns[t] = prev > 0 ? eq / prev - 1 : 0;
      prev = eq;
    }
    return t;
  }

  /**
   * holdThrough for a position with stop, target or trailing levels: each bar is first tested as
   * checkStops tests it, and the first bar that touches a level is returned unmarked (the main
   * loop exits there). Untouched bars ratchet the trailing level as checkStops does at their
   * close. S2's 2×ATR stop on 1M bars: its 39k held bars no longer go through the main loop.
   */
  private holdWithStops(
    from: number,
    to: number,
    prevEq: number,
    equity: Float64Array,
    returns: Float64Array,
    position: Float64Array,
  ): number {
    const { open, high, low, close, book, trAtr, trK } = this;
    const units = book.units;
    const cash = book.cash;
    const long = book.side > 0;
    const stopLv = book.stopLv;
    const tpLv = book.tpLv;
    let trail = book.trailLv;
    let prev = prevEq;
    let t = from;
    for (; t < to; t++) {
      const o = open[t] as number;
      const h = high[t] as number;
      const l = low[t] as number;
      if (long) {
        // biome-ignore lint/complexity/useMathMinMax: checkStops' own test, NaN levels included.
        const stop = trail > stopLv ? trail : stopLv;
        if (o <= stop || o >= tpLv || l <= stop || h >= tpLv) break;
      } else {
        // biome-ignore lint/complexity/useMathMinMax: as above.
        const stop = trail < stopLv ? trail : stopLv;
        if (o >= stop || o <= tpLv || h >= stop || l <= tpLv) break;
      }
      const eqOpen = cash + units * o;
      const c = close[t] as number;
      const eq = cash + units * c;
      if (!(eqOpen > 0) || !(eq > 0)) break;
      position[t] = (units * o) / eqOpen;
      equity[t] = eq;
      returns[t] = prev > 0 ? eq / prev - 1 : 0;
      prev = eq;
      if (trAtr !== null) {
        const a = trK * (trAtr[t] as number);
        if (long) {
          if (h - a > trail) trail = h - a;
        } else if (l + a < trail) trail = l + a;
      }
    }
    book.trailLv = trail;
    return t;
  }

  /**
   * First bar at or after `from` whose close may open a position (an entry event), or the last
   * bar. While flat with no order pending, decide() changes nothing on any bar before it.
   */
  private nextEntry(from: number): number {
    const last = this.n - 1;
    let next = (this.enterLong as Uint8Array).indexOf(1, from);
    if (next < 0 || next > last) next = last;
    if (this.enterShort !== null) {
      const s = this.enterShort.indexOf(1, from);
      if (s >= 0 && s < next) next = s;
    }
    return next;
  }

  run(into: SimulationBuffers | undefined): SimulationResult {
    const { open, close, n, start, book, vol } = this;
    const equity = into ? into.equity : new Float64Array(n);
    equity.fill(1, 0, start);
    // The loop leaves returns and position at 0 wherever nothing is held (flat stretches, ruin),
    // as a fresh array already is; a caller's buffer is cleared from the start bar on.
    const returns = into ? into.returns.fill(0, start) : new Float64Array(n);
    const position = into ? into.position.fill(0, start) : new Float64Array(n);
    if (vol) for (let j = Math.max(1, start - vol.length); j < start; j++) pushLogReturn(vol, close, j);
    if (start > 0 && start < n) this.decide(start - 1);
    let prevEq = 1;
    let ruined = false;
    for (let t = start; t < n; t++) {
      if (ruined) {
        equity[t] = 0;
        continue;
      }
      if (vol && t > 0) pushLogReturn(vol, close, t);
      if (this.pending) this.execute(t);
      if (book.side !== 0) {
        const o = open[t] as number;
        const eqOpen = book.cash + book.units * o;
        position[t] = eqOpen > 0 ? (book.units * o) / eqOpen : 0;
        if (this.hasStops) this.checkStops(t);
      }
      const c = close[t] as number;
      let eq = book.cash + book.units * c;
      if (eq <= 0) {
        if (book.side !== 0) book.close(t, c, "liquidation", true);
        eq = 0;
        ruined = true;
      } else if (t === n - 1) {
        if (book.side !== 0) book.close(t, c, "end", true);
        eq = book.cash;
      } else this.decide(t);
      equity[t] = eq;
      returns[t] = prevEq > 0 ? eq / prevEq - 1 : 0;
      prevEq = eq;
      if (this.skipFlat && book.side !== 0 && !this.pending && !ruined) {
        // Held until the next exit event (or the bar whose close is due for the time stop): a
        // tight loop marks the bars, and stops there if a stop or target level is touched, for
        // the main loop to take that bar.
        let next = this.nextExit(t + 1, book.side);
        if (this.timeStop > 0) next = Math.min(next, book.entryIndex + this.timeStop - 1);
        if (next > t + 1) {
          t =
            (this.hasStops
              ? this.holdWithStops(t + 1, next, eq, equity, returns, position)
              : this.holdThrough(t + 1, next, eq, equity, returns, position)) - 1;
          // Every bar a hold loop passes is marked; if it passed none, bar t is still this one.
          prevEq = equity[t] as number;
        }
      } else if (this.skipFlat && book.side === 0 && !this.pending && !ruined) {
        // Flat until the next entry event: equity stands still, so its returns and position stay
        // 0 (as allocated) and only the equity needs writing. The bar with the event runs normally.
        const next = this.nextEntry(t + 1);
        if (next > t + 1) {
          equity.fill(eq, t + 1, next);
          t = next - 1;
        }
      }
    }
    return {
      equity,
      returns,
      position,
      trades: book.trades,
      startIndex: start,
      time: this.time,
      turnover: book.turnover,
    };
  }

  private scaleAt(): number {
    const vol = this.vol;
    if (!vol) return this.fraction;
    const sd = vol.std();
    if (Number.isNaN(sd)) return 0;
    const realised = sd * this.annualise;
    return realised > 0 ? Math.min(this.maxLeverage, this.targetVol / realised) : this.maxLeverage;
  }

  /** Reads bar i's signals at its close and sets the order for the next open. */
  private decide(i: number): void {
    this.pending = false;
    const book = this.book;
    const s = book.side;
    const timeDue = this.timeStop > 0 && s !== 0 && i - book.entryIndex + 1 >= this.timeStop;
    const enterLong = this.enterLong;
    if (enterLong !== null) {
      const xL = (this.exitLong as Uint8Array)[i] !== 0;
      const xS = this.exitShort !== null && this.exitShort[i] !== 0;
      let eL = enterLong[i] !== 0 && !xL;
      let eS = this.enterShort !== null && this.enterShort[i] !== 0 && !xS;
      if (eL && eS) eL = eS = false;
      let next = s;
      let reason: ExitReason = "signal";
      if (s > 0) {
        if (xL || eS) next = eS ? -1 : 0;
        else if (timeDue) {
          next = 0;
          reason = "time_stop";
        }
      } else if (s < 0) {
        if (xS || eL) next = eL ? 1 : 0;
        else if (timeDue) {
          next = 0;
          reason = "time_stop";
        }
      } else next = eL ? 1 : eS ? -1 : 0;
      if (next === s) return;
      let scale = 0;
      if (next !== 0) {
        scale = this.scaleAt();
        if (!(scale > 0)) next = 0;
      }
      if (next === s) return;
      this.pending = true;
      this.pendSide = next;
      this.pendScale = scale;
      this.pendReason = reason;
      return;
    }
    let tg = (this.target as Float64Array)[i] as number;
    if (Number.isNaN(tg)) tg = 0;
    else if (tg > 1) tg = 1;
    else if (tg < -1) tg = -1;
    if (!this.allowShort && tg < 0) tg = 0;
    if (this.locked) {
      if (tg === this.lockValue) return;
      this.locked = false;
    }
    if (timeDue) {
      this.pending = true;
      this.pendTarget = 0;
      this.pendScale = 0;
      this.pendReason = "time_stop";
      this.locked = true;
      this.lockValue = tg;
      return;
    }
    if (tg === this.heldTarget) return;
    this.pending = true;
    this.pendTarget = tg;
    this.pendScale = tg !== 0 ? this.scaleAt() : 0;
    this.pendReason = "signal";
  }

  /** Fills the pending order at bar t's open. */
  private execute(t: number): void {
    const o = this.open[t] as number;
    const book = this.book;
    if (this.target === null) {
      if (book.side !== 0) book.close(t, o, this.pendReason, false);
      if (this.pendSide !== 0) {
        book.open(t, book.unitsFor(this.pendSide * this.pendScale, o), o);
        this.setLevels(t);
      }
      return;
    }
    const exposure = this.pendTarget * this.pendScale;
    let want = book.unitsFor(exposure, o);
    if (book.side !== 0 && (want === 0 || want > 0 !== book.side > 0)) {
      book.close(t, o, this.pendReason, false);
      want = book.unitsFor(exposure, o); // re-sized on the equity left after closing
    }
    if (want !== 0) {
      if (book.side === 0) {
        book.open(t, want, o);
        this.setLevels(t);
      } else if (want !== book.units) book.fill(want - book.units, o);
    }
    this.heldTarget = want !== 0 ? this.pendTarget : 0;
  }

  /** Stop, target and trailing levels of a position opened at bar t's open. */
  private setLevels(t: number): void {
    const book = this.book;
    const e = book.entryPrice;
    const s = book.side;
    const a = t - 1; // the signal bar: the last bar known when the order was decided
    book.stopLv = s > 0 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    book.tpLv = s > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    book.trailLv = book.stopLv;
    if (this.slPct > 0) book.stopLv = e * (1 - s * this.slPct);
    else if (this.slAtr) book.stopLv = e - s * this.slAtrK * (this.slAtr[a] as number);
    if (this.tpPct > 0) book.tpLv = e * (1 + s * this.tpPct);
    else if (this.tpR > 0) book.tpLv = e + this.tpR * (e - book.stopLv);
    if (this.trAtr) book.trailLv = e - s * this.trK * (this.trAtr[a] as number);
  }

  /** Intrabar exits under the conservative rule, then the trailing stop's ratchet at the close. */
  private checkStops(t: number): void {
    // Prices read here rather than passed in: V8 does not inline this call into the long run
    // loop, and a double argument to a call that is not inlined is boxed on the heap each time.
    const o = this.open[t] as number;
    const h = this.high[t] as number;
    const l = this.low[t] as number;
    const book = this.book;
    if (book.side > 0) {
      const trailTighter = book.trailLv > book.stopLv;
      const stop = trailTighter ? book.trailLv : book.stopLv;
      const why: ExitReason = trailTighter ? "trailing_stop" : "stop_loss";
      if (o <= stop) this.exitIntrabar(t, o, why);
      else if (o >= book.tpLv) this.exitIntrabar(t, o, "take_profit");
      else if (l <= stop) this.exitIntrabar(t, stop, why);
      else if (h >= book.tpLv) this.exitIntrabar(t, book.tpLv, "take_profit");
      else if (this.trAtr) {
        const lv = h - this.trK * (this.trAtr[t] as number);
        if (lv > book.trailLv) book.trailLv = lv;
      }
    } else {
      const trailTighter = book.trailLv < book.stopLv;
      const stop = trailTighter ? book.trailLv : book.stopLv;
      const why: ExitReason = trailTighter ? "trailing_stop" : "stop_loss";
      if (o >= stop) this.exitIntrabar(t, o, why);
      else if (o <= book.tpLv) this.exitIntrabar(t, o, "take_profit");
      else if (h >= stop) this.exitIntrabar(t, stop, why);
      else if (l <= book.tpLv) this.exitIntrabar(t, book.tpLv, "take_profit");
      else if (this.trAtr) {
        const lv = l + this.trK * (this.trAtr[t] as number);
        if (lv < book.trailLv) book.trailLv = lv;
      }
    }
  }

  private exitIntrabar(t: number, ref: number, reason: ExitReason): void {
    this.book.close(t, ref, reason, true);
    if (this.target !== null) {
      this.locked = true;
      this.lockValue = this.heldTarget;
      this.heldTarget = 0;
    }
  }
}

function pushLogReturn(vol: RollingStd, close: Float64Array, j: number): void {
  vol.push(Math.log((close[j] as number) / (close[j - 1] as number)));
}
