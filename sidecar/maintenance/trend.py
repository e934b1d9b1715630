"""Time to failure and failure probability from a sensor's trend toward its critical limit.

Method (docs/analytics.md, "Live predictive maintenance"):

1. ``MinuteBins`` keeps each sensor's one-minute means over the trend window (bounded memory).
2. ``robust_trend``: Theil-Sen slope (median of pairwise slopes; robust to spikes and to a few
   bad readings) over the window, the line's level now, the residuals' robust spread (1.4826 x
   MAD) and the slope's standard error from that spread.
   ``combine`` joins a short window (default 6 h: the level now) with a long one (24 h): the rate
   for the probability is the smaller of the two slopes when they agree in sign, none when they
   disagree (a daily swing reverses within a day, a drift does not), the noise the long window's
   (the daily range); the time to failure uses the short window's (recent) slope.
   ``join``: that, except when the short window's level has ``departed`` from the sensor's own
   normal range (its hourly means over ``[analytics] reference_days`` before the short window,
   learned from its own history) by more than that range's width: then the short window's rate
   alone (a fast drift, e.g. a temperature over its daily swing, the long window cannot confirm yet).
3. ``crossing_risk`` (``risk_now``: the latest reading as the level when the line still lies
   beyond the limit but the reading is back inside): the limit the trend heads for (high
   critical when rising, low critical when falling); time to failure = margin / rate. Raw evidence ``z`` = how many standard deviations
   the extrapolated value at the horizon lies beyond the limit, where the extrapolation's
   uncertainty adds the noise, the slope's standard error x horizon and a model-error term
   ``KAPPA`` x extrapolated change (a straight line is only a local model of a drift: a daily
   swing looks like a trend for a few hours).
4. ``calibrate``: the probability is an isotonic (monotone, piecewise-linear) map of ``clip(z, -8, 8)``
   fitted on the simulator's scripted failures and fault-free days by
   ``benchmarks/ml/eval_maintenance.py`` and checked there on another seed (reliability, Brier).
   Circular: the simulator's own faults, not real failures (docs/analytics.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

# Model error of a straight-line extrapolation, as a fraction of the extrapolated change.
KAPPA = 0.15
# Isotonic calibration of z (knots, probabilities), fitted by benchmarks/ml/eval_maintenance.py on
# seed 11 of the simulator runs (docs/analytics.md); ``calibrate`` interpolates between knots.
CALIBRATION_Z: tuple[float, ...] = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 3.5)
CALIBRATION_P: tuple[float, ...] = (0.0057, 0.0071, 0.0071, 0.1714, 0.1818, 0.197, 0.2599, 0.2599, 0.3043, 1.0)
Z_CLIP = 8.0           # z beyond +-8 carries no more information (and would dominate the fit)
# Quantities whose critical limits are physical end stops, not failures: a damper or valve sits at
# 100 % by design; status, occupancy and energy counters have no degradation trend.
SKIP_QUANTITIES = frozenset({"position", "status", "occupancy", "energy"})
MAX_POINTS = 60        # Theil-Sen runs on at most this many (averaged) points: O(n^2) pairs
MIN_POINTS = 6
MIN_REFERENCE_HOURS = 24   # a sensor's normal range needs a day of its own hourly means


class MinuteBins:
    """Per-sensor one-minute means over a sliding window, fed with raw readings."""

    def __init__(self, window_s: float, width_s: float = 60.0) -> None:
        self.window_s = window_s
        self.width_s = width_s
        self.buckets: dict[str, dict[float, list[float]]] = {}   # sensor id -> bucket start -> [sum, count]

    def add(self, sensor: str, ts: np.ndarray, value: np.ndarray) -> None:
        ok = np.isfinite(ts) & np.isfinite(value)
        if not ok.any():
            return
        ts, value = ts[ok], value[ok]
        start = np.floor(ts / self.width_s) * self.width_s
        keys, inverse = np.unique(start, return_inverse=True)
        sums = np.bincount(inverse, weights=value)
        counts = np.bincount(inverse)
        row = self.buckets.setdefault(sensor, {})
        for k, s, c in zip(keys.tolist(), sums.tolist(), counts.tolist()):
            acc = row.get(k)
            if acc is None:
                row[k] = [s, float(c)]
            else:
                acc[0] += s
                acc[1] += c
        newest = max(row)
        for k in [k for k in row if k < newest - self.window_s]:
            del row[k]

    def series(self, sensor: str) -> tuple[np.ndarray, np.ndarray]:
        """(bucket mid-times, means), oldest first."""
        row = self.buckets.get(sensor)
        if not row:
            return np.empty(0), np.empty(0)
        keys = np.array(sorted(row))
        means = np.array([row[k][0] / row[k][1] for k in keys.tolist()])
        return keys + self.width_s / 2.0, means

    def forget(self, sensor: str) -> None:
        self.buckets.pop(sensor, None)


@dataclass(frozen=True, slots=True)
class Trend:
    level: float        # the line's value at ``now``
    slope_h: float      # per hour
    slope_se_h: float   # standard error of the slope, per hour
    resid_sd: float     # robust spread of the residuals
    span_h: float
    points: int
    recent_slope_h: float = math.nan   # the short window's slope (time to failure); nan: slope_h
    recent_se_h: float = math.nan


def _average_down(t: np.ndarray, x: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    if len(t) <= most:
        return t, x
    groups = np.array_split(np.arange(len(t)), most)
    return np.array([t[g].mean() for g in groups]), np.array([x[g].mean() for g in groups])


def robust_trend(t: np.ndarray, x: np.ndarray, now: float) -> Trend | None:
    """Theil-Sen line through (t seconds, x); None with fewer than ``MIN_POINTS`` points."""
    if len(t) < MIN_POINTS:
        return None
    th = (np.asarray(t, dtype=float) - now) / 3600.0
    x = np.asarray(x, dtype=float)
    full_th, full_x = th, x
    th, x = _average_down(th, x, MAX_POINTS)
    i, j = np.triu_indices(len(th), k=1)
    dt = th[j] - th[i]
    good = dt > 0
    if not good.any():
        return None
    slope = float(np.median((x[j] - x[i])[good] / dt[good]))
    intercept = float(np.median(full_x - slope * full_th))
    resid = full_x - (intercept + slope * full_th)
    resid_sd = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    resid_sd = max(resid_sd, 1e-9 + 1e-6 * abs(intercept))
    spread = float(np.sum((full_th - full_th.mean()) ** 2))
    slope_se = resid_sd / math.sqrt(spread) if spread > 0 else math.inf
    return Trend(level=intercept, slope_h=slope, slope_se_h=slope_se, resid_sd=resid_sd,
                 span_h=float(full_th[-1] - full_th[0]), points=len(full_th))


@dataclass(frozen=True, slots=True)
class Risk:
    z: float                 # raw evidence (see module doc); -inf when nothing is approached
    ttf_hours: float | None  # None: not heading for a limit (or not significantly)
    ttf_sd_hours: float | None
    limit: float             # the critical limit approached (nan: none)
    rate_h: float            # signed slope per hour
    beyond: bool             # already beyond the critical limit


def combine(short: Trend, long: Trend | None) -> Trend:
    """The short window's level with a rate both windows agree on: the smaller slope when they
    point the same way, none when they disagree (a daily swing reverses within a day, a drift does
    not), and the noise of the long window (which holds the sensor's daily range)."""
    if long is None:
        return short
    same = short.slope_h * long.slope_h > 0
    slope = (min(abs(short.slope_h), abs(long.slope_h)) * math.copysign(1.0, short.slope_h)) if same else 0.0
    se = max(short.slope_se_h, long.slope_se_h)
    return Trend(level=short.level, slope_h=slope, slope_se_h=se, resid_sd=max(short.resid_sd, long.resid_sd),
                 span_h=long.span_h, points=long.points, recent_slope_h=short.slope_h if same else 0.0,
                 recent_se_h=short.slope_se_h)


def departed(short: Trend, reference: np.ndarray) -> bool:
    """Whether the short window's level has left the sensor's own normal range in the direction of
    its slope: beyond the range of ``reference`` (the sensor's hourly means before the short window,
    learned from its own history) by more than that range's width (and more than three noise
    standard deviations). A daily or weekly swing stays inside the range it drew before; a drift,
    however fast, leaves it."""
    if len(reference) < MIN_REFERENCE_HOURS:
        return False
    lo, hi = float(np.min(reference)), float(np.max(reference))
    need = max(hi - lo, 3.0 * short.resid_sd)
    return short.level > hi + need if short.slope_h > 0 else short.level < lo - need


def join(short: Trend, long: Trend | None, reference: np.ndarray | None = None) -> Trend:
    """The engine's trend from the short and long windows' lines: ``combine``, except when the
    level has ``departed`` from the sensor's normal range (``reference``: its hourly means older
    than the short window): then the short window's own rate (a fast drift the long window
    cannot confirm yet; a daily swing never departs from the range it drew the days before)."""
    if long is not None and reference is not None and departed(short, reference):
        return Trend(level=short.level, slope_h=short.slope_h, slope_se_h=short.slope_se_h,
                     resid_sd=short.resid_sd, span_h=long.span_h, points=long.points)
    return combine(short, long)


def windowed_trend(t: np.ndarray, x: np.ndarray, now: float, window_h: float, long_window_h: float,
                   reference: np.ndarray | None = None) -> Trend | None:
    """``join`` of the short and long windows' lines at ``now`` over one-minute means (t, x)."""
    short_sel = t >= now - window_h * 3600.0
    short = robust_trend(t[short_sel], x[short_sel], now)
    if short is None:
        return None
    long_sel = t >= now - long_window_h * 3600.0
    long = robust_trend(t[long_sel], x[long_sel], now) if long_sel.sum() > short_sel.sum() else None
    return join(short, long, reference)


def past_critical(value: float, low_critical: float, high_critical: float) -> bool:
    """Whether ``value`` lies beyond a critical limit (nan limits and values never do)."""
    return value > high_critical or value < low_critical


def risk_now(trend: Trend, latest: float, low_critical: float, high_critical: float, horizon_h: float) -> Risk:
    """``crossing_risk``, except that a line still beyond the limit while the latest reading is back
    inside (the line lags a step; the alarm has returned) takes the latest reading as its level."""
    risk = crossing_risk(trend, low_critical, high_critical, horizon_h)
    if risk.beyond and math.isfinite(latest) and not past_critical(latest, low_critical, high_critical):
        risk = crossing_risk(replace(trend, level=latest), low_critical, high_critical, horizon_h)
    return risk


def crossing_risk(trend: Trend, low_critical: float, high_critical: float, horizon_h: float,
                  kappa: float = KAPPA) -> Risk:
    rising = trend.slope_h >= 0
    limit = high_critical if rising else low_critical
    if not math.isfinite(limit):
        # Heading away from the only limit: the noise alone would have to reach the other one.
        other = low_critical if rising else high_critical
        if not math.isfinite(other):
            return Risk(-math.inf, None, None, math.nan, trend.slope_h, False)
        beyond = trend.level <= other if rising else trend.level >= other
        if beyond:
            return Risk(math.inf, 0.0, 0.0, other, trend.slope_h, True)
        return Risk(-abs(other - trend.level) / trend.resid_sd, None, None, other, trend.slope_h, False)
    margin = (limit - trend.level) if rising else (trend.level - limit)
    if margin <= 0:
        return Risk(math.inf, 0.0, 0.0, limit, trend.slope_h, True)
    rate = abs(trend.slope_h)
    change = rate * horizon_h
    sd = math.sqrt(trend.resid_sd ** 2 + (trend.slope_se_h * horizon_h) ** 2 + (kappa * change) ** 2)
    z = (change - margin) / sd
    ttf = ttf_sd = None
    # Time to failure at the recent rate (the long window only confirms the trend is real).
    recent = abs(trend.recent_slope_h) if math.isfinite(trend.recent_slope_h) else rate
    recent_se = trend.recent_se_h if math.isfinite(trend.recent_se_h) else trend.slope_se_h
    if rate > 2.0 * trend.slope_se_h and recent > 2.0 * recent_se and recent > 0:   # a significant trend
        ttf = margin / recent
        ttf_sd = ttf * math.hypot(recent_se / recent, trend.resid_sd / margin)
    return Risk(z, ttf, ttf_sd, limit, trend.slope_h, False)


def calibrate(z: float, knots_z: tuple[float, ...] = CALIBRATION_Z,
              knots_p: tuple[float, ...] = CALIBRATION_P) -> float:
    """Failure probability within the horizon from the raw evidence ``z`` (isotonic, interpolated)."""
    if z == math.inf:
        return 1.0
    if z == -math.inf or math.isnan(z):
        return 0.0
    return float(np.interp(min(max(z, -Z_CLIP), Z_CLIP), knots_z, knots_p))
