"""Causal, bounded-memory streaming anomaly detection for many sensors at once.

``StreamingAnomalyDetector`` keeps a fixed-size state per sensor (a few dozen floats, whatever
the length of the stream) and gives every reading an ``anomaly_score`` in [0, 1] computed from
the state *before* that reading, so the score of a reading never depends on later readings.

Per reading it combines three robust residuals, each scaled by an exponentially weighted mean
absolute deviation (robust to the outliers it is looking for, because updates are winsorised):

* level    - distance from the slow exponentially weighted mean (spikes, level shifts),
* step     - size of the change from the previous reading (sudden jumps, stuck-then-jump),
* season   - distance from the exponentially weighted mean of the same time-of-day bin
             (a daily pattern that breaks, e.g. a fan that no longer runs in the afternoon).

The largest residual is turned into a surprise ``-log10(p)`` under a Laplace tail, and that
surprise is compared with the sensor's own recent surprise level (as HTM's anomaly likelihood
does) so noisy sensors do not alarm all the time. Optionally (off by default, it did not
measure better on NAB) a window-matching nonconformity against a bounded bank of past windows joins
them (KNN-CAD style). A short refractory memory damps repeated
alarms right after a detection: operators (and NAB's scorer) want the first alarm of an episode,
not one per reading.

The same numpy kernel serves ``score_one``/``learn_one`` (river style) and the vectorised
``score_many`` (one call per ingest batch, any mix of sensors), so live scoring and the
``detect`` command line tool give identical scores.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .base import DEFAULT_KEY, Detector, FloatArray

_SECONDS_PER_DAY = 86400.0
_LN10 = math.log(10.0)


# Initial value of the per-sensor state fields that do not start at 0: the rare-surprise level
# starts at 1 decade (the tracker then moves it multiplicatively towards the sensor's own level).
_INITIAL = {"surprise_q": 1.0}


@dataclass
class _State:
    """Per-sensor state, one row per sensor (struct of arrays, so a batch updates with numpy)."""

    count: FloatArray
    last: FloatArray
    mean: FloatArray
    dev: FloatArray
    step_dev: FloatArray
    season: FloatArray  # (sensors, bins)
    season_n: FloatArray  # (sensors, bins)
    season_dev: FloatArray
    surprise_q: FloatArray
    refractory: FloatArray
    low: FloatArray  # lowest / highest reading so far (the "spatial" check)
    high: FloatArray
    fast: FloatArray  # short-memory mean (local context) and its deviation
    fast_dev: FloatArray
    first_t: FloatArray  # timestamp of the first reading (spatial check waits for a full day)
    falls: FloatArray  # readings lower than their predecessor (0 for a cumulative counter)
    recent: FloatArray  # (sensors, 2 * knn_window) last readings, oldest first (window matching)
    bank: FloatArray  # (sensors, knn_size, knn_window) bounded sample of past windows
    ncm_mean: FloatArray  # EW mean of the window-matching nonconformity

    @classmethod
    def empty(cls, capacity: int, bins: int, window: int = 1, size: int = 1) -> _State:
        z = np.zeros
        return cls(z(capacity), z(capacity), z(capacity), z(capacity), z(capacity),
                   z((capacity, bins)), z((capacity, bins)), z(capacity),
                   np.full(capacity, _INITIAL["surprise_q"]), z(capacity),
                   z(capacity), z(capacity), z(capacity), z(capacity), z(capacity), z(capacity),
                   z((capacity, 2 * window)), z((capacity, size, window)), z(capacity))

    def grow(self, capacity: int) -> None:
        """Make room for more sensors; new rows start exactly as ``empty`` starts them (a sensor's
        scores must not depend on how many sensors came before it)."""
        for name, arr in vars(self).items():
            shape = (capacity,) + arr.shape[1:]
            new = np.full(shape, _INITIAL.get(name, 0.0))
            new[: arr.shape[0]] = arr
            setattr(self, name, new)

    def nbytes(self) -> int:
        return int(sum(arr.nbytes for arr in vars(self).values()))


@dataclass(eq=False)
class StreamingAnomalyDetector(Detector):
    """Streaming anomaly detector for any number of sensors (keys).

    Parameters
    ----------
    horizon:
        Memory of the level and deviation statistics, in readings (exponential weighting).
    season_bins:
        Number of time-of-day bins of the daily profile (0, the default, disables it; needs
        timestamps). Measured on NAB with correct timestamps it costs 2.3 points next to the
        local-context mean (docs/analytics.md), so it is off unless configured.
    season_weekly:
        The profile spans a week instead of a day (``season_bins`` over 7 days).
    fast_horizon:
        Memory, in readings, of the local-context mean (0 disables it): a reading must be
        unusual against the last few readings too, so a level the sensor has just moved to is
        not reported again and again.
    season_horizon:
        Memory of each time-of-day bin, in days.
    warmup:
        Readings per sensor that are learnt but scored 0 (statistics are not trustworthy yet).
    clip:
        Residuals are winsorised at ``clip`` deviations before they update the statistics, so an
        anomaly does not teach the detector that anomalies are normal.
    surprise_quantile, quantile_rate:
        The sensor's rare-surprise level is a streaming estimate of this quantile of its own
        surprises, moved by a factor ``exp(quantile_rate)`` per exceedance (the "likelihood" step).
    refractory_decay:
        Per-reading decay of the memory of the last alarm; readings that do not exceed the
        decayed memory are damped by ``refractory_damping``.
    scale:
        Surprise (in decades of improbability above the sensor's typical level) that maps to
        a score of 1.
    spatial_tolerance:
        A reading beyond the sensor's lowest/highest reading so far by more than this fraction of
        that range scores 1 ("spatial anomaly", as numenta's NAB detector does; 0 disables).
    spatial_after_s:
        The spatial check starts once the sensor's history spans this long (default one day:
        a daily cycle widens the range all through its first day). Without timestamps it starts
        after ``warmup`` readings.
    knn_window:
        Window matching (KNN-CAD style; 0, the default, disables it): the last ``knn_window``
        readings are compared with a bounded bank of ``knn_size`` past windows (the first ones,
        then a reservoir sample of the whole history, replaced at least at rate ``knn_refresh``);
        the nonconformity is the mean distance to the ``knn_k`` nearest, divided by its own
        exponentially weighted mean (an exponential tail, like the other residuals' Laplace
        tail). ``knn_mode`` "max" adds it as one more residual (times ``knn_gain``), "min" lets a
        well-matched window veto the other residuals, "only" uses it alone. Off by default: no
        variant measured better on NAB (docs/analytics.md), and it costs ``knn_size`` x
        ``knn_window`` floats per sensor. ``knn_center`` matches shapes (windows minus their mean).

    A sensor whose readings have never decreased (a cumulative meter: energy, run hours) is
    judged by its steps only: its level and its new highs are how a counter works.

    Example: a room temperature that wobbles by 0.1 K, then a reading of 35 °C; a batch of two
    sensors scores both in one vectorised step (a new sensor scores 0 during its warm-up).

    >>> det = StreamingAnomalyDetector(warmup=10)
    >>> for i in range(200):
    ...     _ = det.learn_one(21.0 + 0.1 * (i % 3), key="room-1")
    >>> det.score_one(21.1, key="room-1"), det.score_one(35.0, key="room-1")
    (0.0, 1.0)
    >>> det.score_many(["room-1", "room-2", "room-1"], [21.0, 400.0, 35.0]).tolist()
    [0.0, 0.0, 1.0]
    """

    horizon: int = 400
    season_bins: int = 0
    season_horizon: float = 7.0
    warmup: int = 100
    clip: float = 6.0
    surprise_quantile: float = 0.99
    quantile_rate: float = 0.1
    refractory_decay: float = 0.995
    refractory_damping: float = 0.1
    scale: float = 6.0
    spatial_tolerance: float = 0.05
    spatial_after_s: float = _SECONDS_PER_DAY
    fast_horizon: float = 7.0
    season_weekly: bool = False
    knn_window: int = 0
    knn_size: int = 128
    knn_k: int = 3
    knn_refresh: float = 0.0
    knn_center: bool = False
    knn_gain: float = 1.0
    knn_mode: str = "max"
    keys_: dict[Hashable, int] = field(default_factory=dict, init=False, repr=False)
    state_: _State = field(init=False, repr=False)

    def __post_init__(self) -> None:
        kw = max(1, self.knn_window)
        self.state_ = _State.empty(8, max(1, self.season_bins), kw, self.knn_size if self.knn_window > 0 else 1)

        if self.knn_window < 0 or (self.knn_window > 0 and not 1 <= self.knn_k < self.knn_size):
            raise ValueError("knn_window must be >= 0 and 1 <= knn_k < knn_size")
        if self.knn_mode not in ("max", "min", "only"):
            raise ValueError(f"knn_mode must be 'max', 'min' or 'only', not {self.knn_mode!r}")

    # -- key management ------------------------------------------------------------------
    def _rows(self, keys: Sequence[Hashable]) -> npt.NDArray[np.int64]:
        rows = np.empty(len(keys), dtype=np.int64)
        index = self.keys_
        for i, key in enumerate(keys):
            row = index.get(key)
            if row is None:
                row = len(index)
                index[key] = row
            rows[i] = row
        capacity = self.state_.count.shape[0]
        if len(index) > capacity:
            self.state_.grow(max(len(index), 2 * capacity))
        return rows

    def forget(self, key: Hashable) -> None:
        """Reset one sensor's state (e.g. after the sensor was replaced or recalibrated)."""
        row = self.keys_.get(key)
        if row is None:
            return
        for name, arr in vars(self.state_).items():
            arr[row] = _INITIAL.get(name, 0.0)  # as a new sensor starts

    @property
    def n_sensors_(self) -> int:
        return len(self.keys_)

    def state_nbytes(self) -> int:
        """Memory held by the per-sensor state (grows with sensors, never with readings)."""
        return self.state_.nbytes()

    # -- the kernel ----------------------------------------------------------------------
    def _kernel(self, rows: npt.NDArray[np.int64], x: FloatArray, t: FloatArray | None,
                update: bool) -> FloatArray:
        """Score readings ``x`` of distinct sensors ``rows`` from the current state; optionally learn.

        ``rows`` must not repeat (``score_many`` splits batches into rounds that satisfy this).
        """
        s = self.state_
        n = s.count[rows]
        mean, dev, last, step_dev = s.mean[rows], s.dev[rows], s.last[rows], s.step_dev[rows]
        tiny = 1e-9 + 1e-6 * np.abs(mean)

        z_level = np.abs(x - mean) / (dev + tiny)
        z_step = np.abs(x - last) / (step_dev + tiny)
        # A counter that has never fallen is judged by its steps alone (and a fall is a step).
        counter = (s.falls[rows] == 0) & (n >= self.warmup)
        z_level = np.where(counter, 0.0, z_level)
        z = np.maximum(z_level, z_step)

        use_fast = self.fast_horizon > 0
        if use_fast:
            # Local context: a reading must also be unusual against the last few readings' mean
            # (a level the sensor has just moved to, or a slow swing, is not a new anomaly).
            fast, fast_dev = s.fast[rows], s.fast_dev[rows]
            z_fast = np.abs(x - fast) / (fast_dev + tiny)
            z = np.maximum(np.minimum(z_level, z_fast), np.minimum(z_step, z_fast))
            z_level, z_step = np.minimum(z_level, z_fast), np.minimum(z_step, z_fast)

        use_season = self.season_bins > 0 and t is not None
        if use_season:
            assert t is not None
            period = _SECONDS_PER_DAY * (7.0 if self.season_weekly else 1.0)
            bins = ((t % period) * (self.season_bins / period)).astype(np.int64)
            bins = np.clip(bins, 0, self.season_bins - 1)
            prof = s.season[rows, bins]
            prof_n = s.season_n[rows, bins]
            season_dev = s.season_dev[rows]
            z_season = np.abs(x - prof) / (season_dev + tiny)
            ready = prof_n >= 2
            # Where the daily profile is known, a reading must be unusual for its time of day
            # too: the daily cycle itself is not an anomaly, but a broken cycle is.
            z = np.where(ready, np.maximum(np.minimum(z_level, z_season), np.minimum(z_step, z_season)),
                         z)

        # A counter's level and local mean trail its ramp by design: what counts is its rate, the
        # step against the typical step (for a counter ``dev`` tracks the steps' deviation).
        z = np.where(counter, np.abs(np.abs(x - last) - step_dev) / (dev + tiny), z)

        use_knn = self.knn_window > 0
        if use_knn:
            z_knn, window_now = self._window_match(rows, x, n, tiny)
            zk = self.knn_gain * z_knn
            ready_k = z_knn > 0
            if self.knn_mode == "min":
                z = np.where(counter | ~ready_k, z, np.minimum(z, zk))
            elif self.knn_mode == "only":
                z = np.where(counter, z, zk)
            else:
                z = np.where(counter, z, np.maximum(z, zk))

        # Laplace tail: p = exp(-z) -> surprise in decades.
        surprise = np.minimum(z, 50.0) / _LN10
        # The sensor's own rare-surprise level: a streaming estimate of the ``surprise_quantile``
        # quantile of its surprises (sensors that spike all the time learn that spikes are normal).
        s_q = s.surprise_q[rows]
        excess = np.maximum(surprise - s_q, 0.0)
        # Smooth, strictly increasing map to [0, 1): ranks stay distinct even for huge surprises.
        raw = 1.0 - np.exp(-excess / self.scale)
        if self.spatial_tolerance > 0:
            # A value outside everything the sensor has ever shown (plus a margin) is anomalous
            # whatever its recent statistics say: slow drifts to new extremes and first-ever
            # spikes on spiky sensors would otherwise be explained away by a wide deviation.
            low, high = s.low[rows], s.high[rows]
            margin = self.spatial_tolerance * (high - low)
            spatial = (high > low) & ((x > high + margin) | (x < low - margin)) & ~counter
            if t is not None:
                spatial &= (t - s.first_t[rows]) >= self.spatial_after_s
            raw = np.where(spatial, 1.0, raw)
        raw = np.where(n >= self.warmup, raw, 0.0)
        refr = s.refractory[rows]
        score = np.where(raw > refr, raw, raw * self.refractory_damping)
        score = np.where(np.isfinite(score), score, 0.0)

        if update:
            first = n == 0
            a = 1.0 / np.minimum(n + 1.0, float(self.horizon))
            # Winsorised residuals so outliers move the statistics only a bounded amount.
            lim = self.clip * (dev + tiny)
            resid = np.clip(x - mean, -lim, lim)
            new_mean = np.where(first, x, mean + a * resid)
            never_fell = (s.falls[rows] == 0) & (x >= last)
            rate_resid = np.minimum(np.abs(np.abs(x - last) - step_dev), lim)
            new_dev = np.where(first, 0.0, dev + a * (np.where(never_fell, rate_resid, np.abs(resid)) - dev))
            step = np.where(first, 0.0, np.minimum(np.abs(x - last), self.clip * (step_dev + tiny)))
            new_step_dev = np.where(first, 0.0, step_dev + a * (step - step_dev))
            s.mean[rows] = new_mean
            s.dev[rows] = new_dev
            s.step_dev[rows] = new_step_dev
            s.last[rows] = x
            if use_fast:
                a_f = 1.0 / np.minimum(n + 1.0, self.fast_horizon)
                lim_f = self.clip * (fast_dev + tiny)
                resid_f = np.clip(x - fast, -lim_f, lim_f)
                s.fast[rows] = np.where(first, x, fast + a_f * resid_f)
                s.fast_dev[rows] = np.where(first, 0.0, fast_dev + a * (np.abs(resid_f) - fast_dev))
            if use_season:
                a_bin = 1.0 / np.minimum(prof_n + 1.0, self.season_horizon)
                lim_s = self.clip * (season_dev + tiny)
                resid_s = np.where(prof_n > 0, np.clip(x - prof, -lim_s, lim_s), 0.0)
                s.season[rows, bins] = np.where(prof_n > 0, prof + a_bin * resid_s, x)
                s.season_n[rows, bins] = prof_n + 1.0
                a_s = np.where(ready, a, 0.0)
                s.season_dev[rows] = np.where(
                    ready, season_dev + a_s * (np.abs(resid_s) - season_dev),
                    np.maximum(season_dev, new_dev))
            tau = self.surprise_quantile
            # Multiplicative steps: the level reaches a spiky sensor's spike size in tens of
            # spikes, not hundreds, and decays back slowly once the spikes stop.
            s.surprise_q[rows] = np.maximum(
                s_q * np.exp(self.quantile_rate * (tau - (surprise <= s_q))), 0.1)
            s.refractory[rows] = np.maximum(refr * self.refractory_decay, raw)
            s.low[rows] = np.where(first, x, np.minimum(s.low[rows], x))
            s.high[rows] = np.where(first, x, np.maximum(s.high[rows], x))
            s.falls[rows] += (~first) & (x < last)
            if use_knn:
                self._window_learn(rows, x, n, z_knn, window_now)
            if t is not None:
                s.first_t[rows] = np.where(first, t, s.first_t[rows])
            s.count[rows] = n + 1.0
        return score

    def _window_match(self, rows: npt.NDArray[np.int64], x: FloatArray, n: FloatArray,
                      tiny: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Nonconformity of the window ending at ``x`` against the sensor's bank of past windows."""
        s, w = self.state_, self.knn_window
        query = np.concatenate([s.recent[rows, w + 1:], x[:, None]], axis=1)
        bank = s.bank[rows]
        if self.knn_center:
            query = query - query.mean(axis=1, keepdims=True)
            bank = bank - bank.mean(axis=2, keepdims=True)
        dist = np.sqrt(((bank - query[:, None, :]) ** 2).sum(axis=2))
        filled = np.minimum(n, float(self.knn_size))
        dist = np.where(np.arange(self.knn_size)[None, :] < filled[:, None], dist, np.inf)
        k = self.knn_k
        ncm = np.partition(dist, k - 1, axis=1)[:, :k].mean(axis=1) if self.knn_size > k else dist.mean(axis=1)
        ok = filled >= k
        ncm = np.where(ok, ncm, 0.0)
        z_knn = np.where(ok & (n > 2 * w + k), ncm / (s.ncm_mean[rows] + tiny * math.sqrt(w)), 0.0)
        return z_knn, ncm

    def _window_learn(self, rows: npt.NDArray[np.int64], x: FloatArray, n: FloatArray, z_knn: FloatArray,
                      ncm: FloatArray) -> None:
        s, w, size = self.state_, self.knn_window, self.knn_size
        first = n == 0
        recent = np.concatenate([s.recent[rows, 1:], x[:, None]], axis=1)
        recent = np.where(first[:, None], x[:, None], recent)
        s.recent[rows] = recent
        # Bounded bank: the first ``size`` windows, then reservoir sampling (a uniform sample of the
        # whole history), refreshed at least at rate ``knn_refresh``. The stored window ends ``w``
        # readings back, so it never overlaps the next query (no trivial self-match).
        j = n.astype(np.int64)
        u = ((j * 2654435761 + 12345) % 4294967296) / 4294967296.0
        v = ((j * 40503 + 977) % 65536) / 65536.0
        take = (j < size) | (u < np.maximum(size / (j + 1.0), self.knn_refresh))
        slot = np.where(j < size, j, (v * size).astype(np.int64) % size)
        s.bank[rows[take], slot[take]] = recent[take, :w]
        a = 1.0 / np.minimum(n + 1.0, float(self.horizon))
        m = s.ncm_mean[rows]
        upd = np.minimum(ncm, np.where(m > 0, self.clip * m, ncm))
        s.ncm_mean[rows] = np.where(ncm > 0, np.where(m > 0, m + a * (upd - m), ncm), m)

    # -- river-style API -----------------------------------------------------------------
    def score_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading without learning from it."""
        rows = self._rows([key])
        tt = None if t is None else np.array([float(t)])
        return float(self._kernel(rows, np.array([float(x)]), tt, update=False)[0])

    def score_learn_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading, then learn it (what a live pipeline does)."""
        rows = self._rows([key])
        tt = None if t is None else np.array([float(t)])
        return float(self._kernel(rows, np.array([float(x)]), tt, update=True)[0])

    def score_many(self, keys: Sequence[Hashable], values: Sequence[float] | FloatArray,
                   timestamps: Sequence[float] | FloatArray | None = None) -> FloatArray:
        """Score then learn a batch of readings of any sensors, in the order given.

        Readings of the same sensor are processed in their batch order (each is scored from the
        state after the previous one), readings of different sensors in one vectorised step.
        ``timestamps`` are epoch seconds (local time of day drives the daily profile).
        """
        x = np.asarray(values, dtype=np.float64)
        if x.shape != (len(keys),):
            raise ValueError(f"values has shape {x.shape}, expected ({len(keys)},)")
        t = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        if t is not None and t.shape != x.shape:
            raise ValueError(f"timestamps has shape {t.shape}, expected {x.shape}")
        rows = self._rows(keys)
        out = np.zeros(len(keys))
        if len(keys) == 0:
            return out
        # Occurrence rank of each reading among its sensor's readings in this batch.
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.r_[True, sorted_rows[1:] != sorted_rows[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0))
        rank = np.empty(len(rows), dtype=np.int64)
        rank[order] = np.arange(len(rows)) - group_start
        max_rank = int(rank.max())
        if max_rank == 0:
            return self._kernel(rows, x, t, update=True)
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(max_rank + 2))
        for r in range(max_rank + 1):
            sel = by_rank[bounds[r]:bounds[r + 1]]
            out[sel] = self._kernel(rows[sel], x[sel], None if t is None else t[sel], update=True)
        return out

    def score_series(self, values: Sequence[float] | FloatArray,
                     timestamps: Sequence[float] | FloatArray | None = None,
                     key: Hashable = DEFAULT_KEY) -> FloatArray:
        """Score a single sensor's series in order (causal: each score uses only earlier rows)."""
        x = np.asarray(values, dtype=np.float64)
        t = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        rows = self._rows([key])
        out = np.empty(len(x))
        for i in range(len(x)):
            out[i] = self._kernel(rows, x[i:i + 1], None if t is None else t[i:i + 1], update=True)[0]
        return out
