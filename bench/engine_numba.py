"""
The engine benchmark's (b) baseline: S1 and S2 as numba-compiled per-bar loops (bench/engine.bench.ts
spawns this). Same trading rules as src/backtest/simulate.ts for these two cases: a signal read at
bar t's close fills at t+1's open; fees and slippage per side; fixed fraction 1; S2's 2×ATR(14)
stop (Wilder ATR with the simulator's mean-of-first-TRs warm-up, level set from the signal bar's
ATR) checked intrabar conservatively (open through the stop fills at the open, else a low at or
below it fills at the stop); the position left open is closed at the last close. Metrics: total
return and annualised Sharpe of per-bar returns (sample std, 24/7 year). `s1_full` is S1 again
with everything the engine's core produces: the equity, return and position columns, the trade
records, the core's scalar metrics and the daily series.

Input: argv[1] is a JSON object {path, n, feeBps, slippageBps, s1: {fast, slow}, s2: {period,
mult, rsiPeriod, rsiMax, atrPeriod, atrMult}, runs}; the file holds n float64 values each of open,
high, low, close and open time (ms), in that order. Output: one JSON line with per-strategy median
wall and best-of CPU milliseconds of the compiled loop (after a warm-up call that compiles it),
trade count, final equity and Sharpe (s1, s2), and for s1Outputs also the checks above.
"""

import json
import math
import sys
import time

import numpy as np
from numba import njit

BARS_PER_YEAR_1M = 525_600.0


@njit(cache=False)
def _metrics(ret):
    n = ret.shape[0]
    s = 0.0
    for i in range(n):
        s += ret[i]
    mean = s / n
    m2 = 0.0
    for i in range(n):
        d = ret[i] - mean
        m2 += d * d
    std = math.sqrt(m2 / (n - 1))
    return (mean / std) * math.sqrt(BARS_PER_YEAR_1M) if std > 1e-12 else 0.0


@njit(cache=False)
def _entry_units(cash, ref, fee, slip):
    """Units a buy of all the cash at `ref` gets once its slippage and fee are paid."""
    return cash / (ref * (1.0 + slip + (1.0 + slip) * fee))


@njit(cache=False)
def _s1_emas(t, x, ef, es, af, aslow):
    """S1's two EMAs stepped to bar t's close (seeded with the first close)."""
    if t == 0:
        return x, x
    return x * af + ef * (1.0 - af), x * aslow + es * (1.0 - aslow)


@njit(cache=False)
def _s1_order(units, ef, es, pf, ps):
    """S1's order for the next open (1 buy, -1 sell, 0 none): enter on the cross up while flat,
    exit on the cross down while long."""
    if units > 0.0:
        return -1 if ef < es and pf >= ps else 0
    return 1 if ef > es and pf <= ps else 0


@njit(cache=False)
def s1_loop(o, c, fast, slow, fee, slip):
    n = c.shape[0]
    af = 2.0 / (fast + 1)
    aslow = 2.0 / (slow + 1)
    ef = 0.0
    es = 0.0
    pf = 0.0
    ps = 0.0
    cash = 1.0
    units = 0.0
    pending = 0
    trades = 0
    prev_eq = 1.0
    ret = np.empty(n)
    for t in range(n):
        if pending == 1:
            ref = o[t]
            units = _entry_units(cash, ref, fee, slip)
            cash -= units * ref * (1.0 + slip) * (1.0 + fee)
        elif pending == -1:
            cash += units * o[t] * (1.0 - slip) * (1.0 - fee)
            units = 0.0
            trades += 1
        pending = 0
        x = c[t]
        ef, es = _s1_emas(t, x, ef, es, af, aslow)
        eq = cash + units * x
        if t == n - 1:
            if units > 0.0:
                cash += units * x * (1.0 - slip) * (1.0 - fee)
                units = 0.0
                trades += 1
            eq = cash
        elif t >= slow:  # both EMAs past warm-up at t and t-1
            pending = _s1_order(units, ef, es, pf, ps)
        ret[t] = eq / prev_eq - 1.0
        prev_eq = eq
        pf = ef
        ps = es
    return trades, cash, _metrics(ret)


@njit(cache=False)
def s2_loop(o, h, l, c, period, mult, rsi_period, rsi_max, atr_period, atr_mult, fee, slip):
    n = c.shape[0]
    cash = 1.0
    units = 0.0
    pending = 0
    trades = 0
    prev_eq = 1.0
    ret = np.empty(n)
    # Bollinger: rolling sums of (x - anchor), rebuilt every `period` bars so rounding cannot drift.
    anchor = c[0]
    s1 = 0.0
    s2 = 0.0
    # RSI (Wilder, seeded with the mean of the first rsi_period moves).
    avg_gain = 0.0
    avg_loss = 0.0
    # ATR as the simulator's wilderAtr: mean of the TRs so far during warm-up, then Wilder.
    atr = 0.0
    entry_atr = 0.0
    stop = 0.0
    for t in range(n):
        ot = o[t]
        if pending == 1:
            units = cash / (ot * (1.0 + slip + (1.0 + slip) * fee))
            px = ot * (1.0 + slip)
            cash -= units * px * (1.0 + fee)
            stop = px - atr_mult * entry_atr
        elif pending == -1:
            cash += units * ot * (1.0 - slip) * (1.0 - fee)
            units = 0.0
            trades += 1
        pending = 0
        if units > 0.0:
            if ot <= stop:
                cash += units * ot * (1.0 - slip) * (1.0 - fee)
                units = 0.0
                trades += 1
            elif l[t] <= stop:
                cash += units * stop * (1.0 - slip) * (1.0 - fee)
                units = 0.0
                trades += 1
        x = c[t]
        # ATR
        tr = h[t] - l[t]
        if t > 0:
            pc = c[t - 1]
            up = abs(h[t] - pc)
            dn = abs(l[t] - pc)
            if up > tr:
                tr = up
            if dn > tr:
                tr = dn
        if t < atr_period:
            atr = (atr * t + tr) / (t + 1)
        else:
            atr = (atr * (atr_period - 1) + tr) / atr_period
        # Bollinger
        d = x - anchor
        s1 += d
        s2 += d * d
        if t >= period:
            y = c[t - period] - anchor
            s1 -= y
            s2 -= y * y
        if t % period == 0 and t >= period:
            anchor = x
            s1 = 0.0
            s2 = 0.0
            for j in range(t - period + 1, t + 1):
                e = c[j] - anchor
                s1 += e
                s2 += e * e
        # RSI
        rsi = np.nan
        if t > 0:
            chg = x - c[t - 1]
            gain = chg if chg > 0.0 else 0.0
            loss = -chg if chg < 0.0 else 0.0
            if t < rsi_period:
                avg_gain += gain
                avg_loss += loss
            elif t == rsi_period:
                avg_gain = (avg_gain + gain) / rsi_period
                avg_loss = (avg_loss + loss) / rsi_period
            else:
                avg_gain += (gain - avg_gain) / rsi_period
                avg_loss += (loss - avg_loss) / rsi_period
            if t >= rsi_period:
                rsi = 100.0 if avg_loss == 0.0 else 100.0 - 100.0 / (avg_gain / avg_loss + 1.0)
        eq = cash + units * x
        if t == n - 1:
            if units > 0.0:
                cash += units * x * (1.0 - slip) * (1.0 - fee)
                units = 0.0
                trades += 1
            eq = cash
        elif t >= period - 1:
            mean = s1 / period
            var = s2 / period - mean * mean
            sd = math.sqrt(var) if var > 0.0 else 0.0
            mid = anchor + mean
            if units > 0.0:
                if x > mid:
                    pending = -1
            elif x < mid - mult * sd and rsi < rsi_max:
                pending = 1
                entry_atr = atr
        ret[t] = eq / prev_eq - 1.0
        prev_eq = eq
    return trades, cash, _metrics(ret)


@njit(cache=False)
def _sell_all(ref, t, reason, k, units, cash, fees, turnover, before, fee, slip, rec_i, rec_f):
    """Closes the whole long at `ref` as the simulator does and completes trade record k (its
    entry bar and price were written at the entry). Returns the new cash, fees and turnover."""
    px = ref * (1.0 - slip)
    f = units * px * fee
    turnover += units * ref / (cash + units * ref)
    cash += units * px - f
    fees += f
    rec_i[k, 1] = t
    rec_i[k, 2] = reason
    rec_f[k, 1] = px
    rec_f[k, 2] = cash / before - 1.0
    rec_f[k, 3] = fees / before
    return cash, fees, turnover


@njit(cache=False)
def s1_full(o, c, tm, fast, slow, fee, slip):
    """S1 with the outputs the engine's core produces, not only total return and Sharpe: the
    equity, return and position columns, the trade records, the core's scalar metrics and the
    daily series (the rules of src/backtest/metrics.ts). Returns (trade count, final equity,
    Sharpe, checks, columns, trades, daily) with checks = [max drawdown, its bars, longest
    drawdown bars, Sortino, skew, kurtosis, exposure, profit factor, win rate, days, CAGR, Calmar,
    average trade, turnover a year]."""
    n = c.shape[0]
    af = 2.0 / (fast + 1)
    aslow = 2.0 / (slow + 1)
    ef = 0.0
    es = 0.0
    pf = 0.0
    ps = 0.0
    cash = 1.0
    units = 0.0
    pending = 0
    prev_eq = 1.0
    turnover = 0.0
    equity = np.empty(n)
    ret = np.empty(n)
    pos = np.zeros(n)
    # Trade records: entry bar, exit bar, reason (0 signal, 5 end); entry price, exit price, pnl, fees.
    cap = n // 2 + 1
    rec_i = np.empty((cap, 3), np.int64)
    rec_f = np.empty((cap, 4))
    k = 0
    before = 0.0
    fees = 0.0
    for t in range(n):
        if pending == 1:
            ref = o[t]
            before = cash
            u = _entry_units(cash, ref, fee, slip)
            px = ref * (1.0 + slip)
            f = u * px * fee
            turnover += u * ref / cash
            cash -= u * px + f
            units = u
            fees = f
            rec_i[k, 0] = t
            rec_f[k, 0] = px
        elif pending == -1:
            cash, fees, turnover = _sell_all(
                o[t], t, 0, k, units, cash, fees, turnover, before, fee, slip, rec_i, rec_f
            )
            k += 1
            units = 0.0
        pending = 0
        if units > 0.0:
            pos[t] = units * o[t] / (cash + units * o[t])
        x = c[t]
        ef, es = _s1_emas(t, x, ef, es, af, aslow)
        eq = cash + units * x
        if t == n - 1:
            if units > 0.0:
                cash, fees, turnover = _sell_all(
                    x, t, 5, k, units, cash, fees, turnover, before, fee, slip, rec_i, rec_f
                )
                k += 1
                units = 0.0
            eq = cash
        elif t >= slow:
            pending = _s1_order(units, ef, es, pf, ps)
        equity[t] = eq
        ret[t] = eq / prev_eq - 1.0 if prev_eq > 0.0 else 0.0
        prev_eq = eq
        pf = ef
        ps = es
    # Metrics, as src/backtest/metrics.ts computes them.
    s = 0.0
    down = 0.0
    held = 0
    for i in range(n):
        r = ret[i]
        s += r
        if r < 0.0:
            down += r * r
        if pos[i] != 0.0:
            held += 1
    mean = s / n
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for i in range(n):
        d = ret[i] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    std = math.sqrt(m2 / (n - 1))
    ann = math.sqrt(BARS_PER_YEAR_1M)
    sharpe = (mean / std) * ann if std > 1e-12 else 0.0
    down_dev = math.sqrt(down / n)
    sortino = (mean / down_dev) * ann if down_dev > 1e-12 else 0.0
    pop = m2 / n
    skew = m3 / n / pop**1.5 if std > 1e-12 else 0.0
    kurt = m4 / n / (pop * pop) - 3.0 if std > 1e-12 else 0.0
    peak = 1.0
    max_dd = 0.0
    max_dd_bars = 0
    longest = 0
    i = 0
    while i < n:
        e = equity[i]
        if e >= peak:
            peak = e
            i += 1
            continue
        low = peak
        end = i
        while end < n and equity[end] < peak:
            if equity[end] < low:
                low = equity[end]
            end += 1
        bars = end - i
        if bars > longest:
            longest = bars
        depth = 1.0 - low / peak
        if depth > max_dd or (depth == max_dd and depth > 0.0):
            max_dd = depth
            max_dd_bars = bars
        i = end
    years = n / BARS_PER_YEAR_1M
    final = equity[n - 1]
    cagr = final ** (1.0 / years) - 1.0 if final > 0.0 else -1.0
    calmar = cagr / max_dd if max_dd > 1e-12 else 0.0
    wins = 0
    gross_win = 0.0
    gross_loss = 0.0
    pnl_sum = 0.0
    for j in range(k):
        p = rec_f[j, 2]
        pnl_sum += p
        if p > 0.0:
            wins += 1
            gross_win += p
        elif p < 0.0:
            gross_loss -= p
    profit_factor = gross_win / gross_loss if gross_loss > 0.0 else 0.0
    # Daily series: a day's return is its last equity over the previous day's last.
    day_ms = 86_400_000.0
    span = int(math.floor(tm[n - 1] / day_ms) - math.floor(tm[0] / day_ms)) + 1
    day = np.empty(span)
    day_ret = np.empty(span)
    d = -1
    day_open = 1.0
    day_start = math.inf
    day_end = -math.inf
    for i in range(n):
        ti = tm[i]
        if ti >= day_end or ti < day_start:
            if d >= 0:
                close = equity[i - 1]
                day_ret[d] = close / day_open - 1.0 if day_open > 0.0 else 0.0
                day_open = close
            d += 1
            day_start = math.floor(ti / day_ms) * day_ms
            day_end = day_start + day_ms
            day[d] = day_start
    day_ret[d] = equity[n - 1] / day_open - 1.0 if day_open > 0.0 else 0.0
    checks = np.array(
        [
            max_dd,
            max_dd_bars,
            longest,
            sortino,
            skew,
            kurt,
            held / n,
            profit_factor,
            wins / k if k > 0 else 0.0,
            d + 1.0,
            cagr,
            calmar,
            pnl_sum / k if k > 0 else 0.0,
            turnover / years,
        ]
    )
    # Every column and record goes back to the caller, as the core's do, so none of their work is
    # optimised away.
    columns = (equity, ret, pos)
    daily = (day[: d + 1], day_ret[: d + 1])
    return k, equity[n - 1], sharpe, checks, columns, (rec_i[:k], rec_f[:k]), daily


def timed(fn, runs):
    fn()  # compiles
    walls = []
    cpus = []
    out = None
    for _ in range(runs):
        w0 = time.perf_counter()
        c0 = time.process_time()
        out = fn()
        cpus.append((time.process_time() - c0) * 1000)
        walls.append((time.perf_counter() - w0) * 1000)
    walls.sort()
    cpus.sort()
    trades, final_equity, sharpe = out[0], out[1], out[2]
    result = {
        "wallMs": walls[len(walls) // 2],
        "cpuMs": cpus[0],  # best-of, as the TS side reports CPU time
        "trades": int(trades),
        "finalEquity": float(final_equity),
        "sharpe": float(sharpe),
    }
    if len(out) > 3:
        result["checks"] = [float(x) for x in out[3]]
    return result


def main():
    a = json.loads(sys.argv[1])
    n = a["n"]
    cols = np.fromfile(a["path"], dtype=np.float64, count=5 * n).reshape(5, n)
    o, h, l, c, tm = (np.ascontiguousarray(cols[k]) for k in range(5))
    fee = a["feeBps"] / 1e4
    slip = a["slippageBps"] / 1e4
    runs = a.get("runs", 7)
    p1 = a["s1"]
    p2 = a["s2"]
    s1 = timed(lambda: s1_loop(o, c, p1["fast"], p1["slow"], fee, slip), runs)
    s1_outputs = timed(lambda: s1_full(o, c, tm, p1["fast"], p1["slow"], fee, slip), runs)
    s2 = timed(
        lambda: s2_loop(
            o,
            h,
            l,
            c,
            p2["period"],
            float(p2["mult"]),
            p2["rsiPeriod"],
            float(p2["rsiMax"]),
            p2["atrPeriod"],
            float(p2["atrMult"]),
            fee,
            slip,
        ),
        runs,
    )
    import numba

    print(
        json.dumps(
            {"numba": numba.__version__, "numpy": np.__version__, "s1": s1, "s1Outputs": s1_outputs, "s2": s2}
        )
    )


if __name__ == "__main__":
    main()
