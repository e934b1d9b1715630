"""Per-sensor rules, evaluated on whole batches with numpy.

- **limits** (``limit_high``/``limit_low``): each reading against the sensor's warning and
  critical limits (level 1/2); it clears once back beyond the limits' deadband.
- **rate of change**: each reading's change per minute against the sensor's *anchor*, a
  reading at least ``window_s`` older (refreshed every ``window_s``), so sensor noise over a
  few seconds never looks like a trend. Limit per sensor, else per quantity (unit per minute).
- **flat line**: the sensor's readings have stayed within ``epsilon`` of its newest value for
  ``window_s`` of reading time (run start resolved to one batch).
- **stale**: no reading (arrival time) for ``factor`` x the sensor's expected interval (learned
  from its timestamps unless configured), never less than ``min_s``. Evaluated by the timer.
- **anomaly**: the score of the detector named by ``[alerts.anomaly] model`` (``streaming``, the
  default, or ``ensemble-vigilance``, ``detect``'s default; ``sidecar.analytics.detectors.live``) when
  ``[alerts.anomaly] detector = true``, or scores fed by ``on_scores``, against
  ``threshold``/``critical_threshold``.

The per-reading work is a handful of array passes; Python runs only for sensors whose
condition holds or whose alert/delay is open (``AlertEngine.watch``).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from shared_schemas import protocol
from sidecar.alarms.engine import AlertEngine
from sidecar.alarms.record import KIND_ANOMALY, KIND_FLATLINE, KIND_HIGH, KIND_LOW, KIND_RATE, KIND_STALE
from sidecar.alarms.settings import AlarmSettings, ScoreSettings
from sidecar.model import BuildingModel

if TYPE_CHECKING:
    from sidecar.analytics.detectors.base import Detector

INTERVAL_EWMA = 0.2   # weight of a batch's interval estimate in the learned reading interval


def score_levels(scores: np.ndarray, settings: ScoreSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per-score condition level (1 at threshold, 2 at critical_threshold) and clear flag."""
    level = (scores >= settings.threshold).astype(np.int8)
    level[scores >= settings.critical_threshold] = 2
    clear = scores < settings.threshold - settings.rule.deadband
    return level, clear


def score_severities(settings: ScoreSettings) -> dict[int, str]:
    return {1: settings.rule.severity, 2: protocol.SEVERITY_CRITICAL}


class SensorRules:
    def __init__(self, model: BuildingModel, engine: AlertEngine, settings: AlarmSettings):
        self.engine = engine
        self.settings = settings
        self.detector: Detector | None = None
        if settings.anomaly.rule.enabled and settings.anomaly.detector:
            # Imported only when enabled: the detectors are numpy-only but not needed otherwise.
            from sidecar.analytics.detectors.live import build_anomaly_detector
            self.detector = build_anomaly_detector(settings.anomaly.model, settings.anomaly.warmup_readings)
        self.allocate(model)

    def allocate(self, model: BuildingModel) -> None:
        s = self.settings
        n = model.sensor_count
        self.model = model
        self.refresh_limits()
        rate = s.rate_of_change
        self.rate_limit = np.array([rate.per_sensor.get(x.sensor_id, rate.per_quantity.get(x.quantity, math.nan))
                                    for x in model.sensors], dtype=np.float64)
        self.rate_on = rate.rule.enabled and bool(np.isfinite(self.rate_limit).any())
        self.anchor_ts = np.full(n, -np.inf)
        self.anchor_value = np.full(n, np.nan)
        flat = s.flatline
        self.flat_window = np.array([flat.per_sensor_window_s.get(x.sensor_id, flat.window_s
                                     if x.quantity in flat.quantities else math.nan) for x in model.sensors],
                                    dtype=np.float64)
        self.flat_on = flat.rule.enabled and bool(np.isfinite(self.flat_window).any())
        self.flat_since = np.full(n, np.nan)
        self.flat_lo = np.full(n, np.nan)
        self.flat_hi = np.full(n, np.nan)
        self.seen_ts = np.full(n, -np.inf)
        expected = s.stale.expected_interval_s
        self.interval = np.full(n, np.nan if expected is None else expected)
        if self.detector is not None:
            for sensor in model.sensors:   # indices may now mean other sensors
                self.detector.forget(sensor.index)

    def refresh_limits(self) -> None:
        """Recompute the per-sensor limit views (after ``allocate`` or a ``set_limits``)."""
        model = self.model
        self.high_any = np.fmin(model.high, model.high_critical)   # lowest high limit (nan: none)
        self.low_any = np.fmax(model.low, model.low_critical)      # highest low limit

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def groups(attention: np.ndarray, sensor: np.ndarray, order: np.ndarray, s_sorted: np.ndarray,
               n: int) -> Iterator[tuple[int, np.ndarray]]:
        """(sensor index, its readings' positions in time order) for every sensor with at
        least one reading needing attention; all of that sensor's readings are included."""
        if not attention.any():
            return
        mark = np.zeros(n, dtype=bool)
        mark[sensor[attention]] = True
        sel = mark[s_sorted]
        positions = order[sel]
        sensors = s_sorted[sel]
        cuts = np.flatnonzero(sensors[1:] != sensors[:-1]) + 1
        firsts = sensors[np.concatenate(([0], cuts))].tolist()
        yield from zip(firsts, np.split(positions, cuts))

    # -- per batch -----------------------------------------------------------------------
    def on_batch(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, order: np.ndarray,
                 s_sorted: np.ndarray, last: np.ndarray, touched: np.ndarray) -> None:
        """``order`` sorts the batch by (sensor, ts); ``last`` are the positions of each touched
        sensor's newest reading, ``touched`` those sensors (ascending)."""
        self._limits(sensor, ts, value, order, s_sorted, touched)
        engine = self.engine
        n = self.model.sensor_count
        newest_ts, newest = ts[last], value[last]
        # Stale sensors that report again.
        back = engine.watch[KIND_STALE][touched]
        if back.any():
            rule = self.settings.stale.rule
            for k in np.flatnonzero(back).tolist():
                engine.set_condition(engine.subject(int(touched[k])), KIND_STALE, False, 0.0, float(newest_ts[k]),
                                     math.nan, rule.severity, rule)
        # Learned reading interval (per sensor: time covered by this batch / its readings).
        if self.settings.stale.expected_interval_s is None:
            starts = np.concatenate(([0], np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1))
            counts = np.diff(np.concatenate((starts, [len(s_sorted)])))
            previous = self.seen_ts[touched]
            with np.errstate(invalid="ignore", divide="ignore"):
                estimate = (newest_ts - previous) / counts
            good = np.isfinite(estimate) & (estimate > 0)
            if good.any():
                idx, est = touched[good], estimate[good]
                old = self.interval[idx]
                self.interval[idx] = np.where(np.isnan(old), est, (1 - INTERVAL_EWMA) * old + INTERVAL_EWMA * est)
            self.seen_ts[touched] = np.fmax(previous, newest_ts)
        if self.rate_on:
            self._rate(sensor, ts, value, order, s_sorted, touched, newest_ts, newest, n)
        if self.flat_on:
            self._flatline(value, ts, order, s_sorted, touched, newest_ts, newest)
        if self.detector is not None:
            scores = self.detector.score_many(sensor.tolist(), value, ts)
            self.on_scores(sensor, ts, scores, order, s_sorted)

    def limit_levels(self, sensor: np.ndarray, value: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per reading: high level (2 beyond critical, 1 beyond warning, 0 inside), high clear
        (back beyond the deadband), and the same for the low side."""
        model = self.model
        with np.errstate(invalid="ignore"):
            hi_level = np.where(value > model.high_critical[sensor], 2, (value > model.high[sensor]).astype(np.int8))
            lo_level = np.where(value < model.low_critical[sensor], 2, (value < model.low[sensor]).astype(np.int8))
            deadband = model.deadband[sensor]
            hi_clear = value <= self.high_any[sensor] - deadband
            lo_clear = value >= self.low_any[sensor] + deadband
        return hi_level, hi_clear, lo_level, lo_clear

    def _limits(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, order: np.ndarray,
                s_sorted: np.ndarray, touched: np.ndarray) -> None:
        model = self.model
        with np.errstate(invalid="ignore"):
            attention = (value > np.fmin(model.high[sensor], model.high_critical[sensor])) | \
                (value < np.fmax(model.low[sensor], model.low_critical[sensor]))
        attention |= (self.engine.watch[KIND_HIGH] | self.engine.watch[KIND_LOW])[sensor]
        if not attention.any():
            return
        hi_level, hi_clear, lo_level, lo_clear = self.limit_levels(sensor, value)
        for index, group in self.groups(attention, sensor, order, s_sorted, model.sensor_count):
            self.engine.evaluate(index, ts[group], value[group], hi_level[group], hi_clear[group], lo_level[group],
                                 lo_clear[group])

    def _rate(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, order: np.ndarray, s_sorted: np.ndarray,
              touched: np.ndarray, newest_ts: np.ndarray, newest: np.ndarray, n: int) -> None:
        settings = self.settings.rate_of_change
        window = settings.window_s
        fresh = np.isneginf(self.anchor_ts[touched])
        if fresh.any():   # a sensor's first anchor is its oldest reading of this batch
            starts = np.concatenate(([0], np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1))
            first = order[starts[fresh]]
            self.anchor_ts[touched[fresh]] = ts[first]
            self.anchor_value[touched[fresh]] = value[first]
        limit = self.rate_limit[sensor]
        with np.errstate(invalid="ignore", divide="ignore"):
            dt = ts - self.anchor_ts[sensor]
            judged = dt >= window          # younger anchors: too short to tell a trend from noise
            rate = (value - self.anchor_value[sensor]) / dt * 60.0
            steep = np.abs(rate)
            level = (judged & (steep > limit)).astype(np.int8)
            clear = judged & (steep <= limit * (1.0 - settings.rule.deadband))
        attention = level.astype(bool) | self.engine.watch[KIND_RATE][sensor]
        if attention.any():
            engine, rule = self.engine, settings.rule
            for index, group in self.groups(attention, sensor, order, s_sorted, n):
                engine.evaluate_rule(engine.subject(index), KIND_RATE, ts[group], rate[group], level[group],
                                     clear[group], {1: float(self.rate_limit[index])}, {1: rule.severity}, rule)
        # Refresh anchors that are a window old.
        renew = newest_ts - self.anchor_ts[touched] >= window
        self.anchor_ts[touched[renew]] = newest_ts[renew]
        self.anchor_value[touched[renew]] = newest[renew]

    def _flatline(self, value: np.ndarray, ts: np.ndarray, order: np.ndarray, s_sorted: np.ndarray,
                  touched: np.ndarray, newest_ts: np.ndarray, newest: np.ndarray) -> None:
        settings = self.settings.flatline
        eps = settings.epsilon
        window = self.flat_window[touched]
        enabled = np.isfinite(window)
        if not enabled.any():
            return
        starts = np.concatenate(([0], np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1))
        v_sorted = value[order]
        group_min = np.minimum.reduceat(v_sorted, starts)
        group_max = np.maximum.reduceat(v_sorted, starts)
        group_first_ts = ts[order[starts]]
        lo = np.fmin(self.flat_lo[touched], group_min)
        hi = np.fmax(self.flat_hi[touched], group_max)
        since = self.flat_since[touched]
        keep = np.isfinite(since) & (hi - newest <= eps) & (newest - lo <= eps)
        group_flat = (group_max - newest <= eps) & (newest - group_min <= eps)
        since = np.where(keep, since, np.where(group_flat, group_first_ts, newest_ts))
        self.flat_since[touched] = since
        self.flat_lo[touched] = np.where(keep, lo, np.where(group_flat, group_min, newest))
        self.flat_hi[touched] = np.where(keep, hi, np.where(group_flat, group_max, newest))
        flat = enabled & (newest_ts - since >= window)
        need = flat | self.engine.watch[KIND_FLATLINE][touched]
        if need.any():
            engine, rule = self.engine, settings.rule
            for k in np.flatnonzero(need).tolist():
                engine.set_condition(engine.subject(int(touched[k])), KIND_FLATLINE, bool(flat[k]), float(newest[k]),
                                     float(newest_ts[k]), float(window[k]), rule.severity, rule)

    def on_scores(self, sensor: np.ndarray, ts: np.ndarray, scores: np.ndarray, order: np.ndarray | None = None,
                  s_sorted: np.ndarray | None = None) -> None:
        """Anomaly scores (0..1) of readings of sensors (any order; ``order`` sorts by sensor, ts)."""
        settings = self.settings.anomaly
        if not settings.rule.enabled or len(sensor) == 0:
            return
        level, clear = score_levels(scores, settings)
        attention = level.astype(bool) | self.engine.watch[KIND_ANOMALY][sensor]
        if not attention.any():
            return
        if order is None or s_sorted is None:
            order = np.lexsort((ts, sensor))
            s_sorted = sensor[order]
        engine = self.engine
        thresholds = {1: settings.threshold, 2: settings.critical_threshold}
        severities = score_severities(settings)
        for index, group in self.groups(attention, sensor, order, s_sorted, self.model.sensor_count):
            engine.evaluate_rule(engine.subject(index), KIND_ANOMALY, ts[group], scores[group], level[group],
                                 clear[group], thresholds, severities, settings.rule)

    # -- the timer -----------------------------------------------------------------------
    def stale_thresholds(self) -> np.ndarray:
        s = self.settings.stale
        with np.errstate(invalid="ignore"):
            return np.fmax(s.min_s, s.factor * self.interval)

    def tick(self, now: float, last_seen: np.ndarray) -> None:
        """Raise stale alarms for sensors quiet (by arrival time) beyond their threshold."""
        rule = self.settings.stale.rule
        if not rule.enabled or len(last_seen) == 0:
            return
        threshold = self.stale_thresholds()
        age = now - last_seen
        quiet = np.isfinite(last_seen) & (age > threshold) & ~self.engine.watch[KIND_STALE]
        engine = self.engine
        for index in np.flatnonzero(quiet).tolist():
            engine.set_condition(engine.subject(index), KIND_STALE, True, float(age[index]), now,
                                 float(threshold[index]), rule.severity, rule)

