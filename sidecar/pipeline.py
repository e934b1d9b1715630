"""The readings pipeline: accepted batch -> latest values -> limit rules -> alerts -> health.

Everything per reading is vectorised over the batch (gathers from per-sensor limit arrays,
comparisons, one lexsort to find each sensor's latest reading). Python-level work happens only
for sensors that are out of limits or have an open alert, and for elements whose sensors
changed state, so a batch of normal readings costs a few numpy passes whatever its size.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.alarms.sensor_rules import SensorRules, score_levels, score_severities
from sidecar.alarms.settings import AlarmSettings
from sidecar.alerts import KIND_FAILURE, KIND_STALE, Alert, AlertEngine
from sidecar.health import CRITICAL, NO_DATA, OK, STALE, WARNING, WATCH, HealthEngine
from sidecar.model import BuildingModel
from sidecar.rates import RateMeter
from sidecar.readings import ReadingBatch
from sidecar.store.ring import DEFAULT_CAPACITY, SensorRing

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], None]
RATE_WINDOW_S = 5.0
WATCH_DEADBANDS = 2.0  # a value within this many deadbands of a limit puts its sensor on watch


class Pipeline:
    """Per-building pipeline state. ``emit(topic, body)`` publishes events (bus and hub);
    ``on_readings(batch)`` hands accepted batches to in-process subscribers."""

    def __init__(self, model: BuildingModel, emit: Emit, on_readings: Callable[[ReadingBatch], None],
                 stale_after_s: float = 60.0, recent_cleared: int = 1000,
                 clock: Callable[[], float] = time.time, ring_points: int = DEFAULT_CAPACITY,
                 alarm_settings: AlarmSettings | None = None):
        self.model = model
        self.ring_points = ring_points
        self.ring = SensorRing(model.sensor_count, ring_points)  # recent readings, fixed memory
        self.ring_model = model
        self.emit = emit
        self.on_readings = on_readings
        self.clock = clock
        self.stale_after_s = stale_after_s
        # Wire forms captured at each change: an alert raised and cleared within one batch
        # publishes both states.
        self._pending_alerts: list[dict[str, Any]] = []
        self.alarm_settings = alarm_settings or AlarmSettings()
        self.alerts = AlertEngine(model, self._alert_changed, recent_cleared, clock, self.alarm_settings)
        self.rules = SensorRules(model, self.alerts, self.alarm_settings)
        self.health = HealthEngine(model, self.alerts, stale_after_s, clock)
        self.rate = RateMeter(RATE_WINDOW_S)
        self.readings_total = 0
        self._allocate(model)

    def _allocate(self, model: BuildingModel) -> None:
        n = model.sensor_count
        self.latest_value = np.full(n, np.nan)
        self.latest_ts = np.full(n, -np.inf)
        self.last_seen = np.full(n, -np.inf)   # arrival time: freshness ignores device clocks
        # Per-sensor limit views used on every batch.
        self.high_any = np.fmin(model.high, model.high_critical)   # lowest high limit (nan: none)
        self.low_any = np.fmax(model.low, model.low_critical)      # highest low limit
        self.watch_high = self.high_any - WATCH_DEADBANDS * model.deadband
        self.watch_low = self.low_any + WATCH_DEADBANDS * model.deadband
        if model is not self.ring_model:  # a new configuration keeps its sensors' recent readings
            ring = SensorRing(n, self.ring_points)
            ring.carry_over(self.ring, [s.sensor_id for s in self.ring_model.sensors],
                            [s.sensor_id for s in model.sensors])
            self.ring = ring
        self.ring_model = model

    def _alert_changed(self, alert: Alert) -> None:
        self._pending_alerts.append(alert.to_wire())

    # -- life cycle ----------------------------------------------------------------------
    def initialise(self) -> None:
        self._publish_health(self.health.initialise())

    def rebind(self, model: BuildingModel) -> None:
        """Switch to a new configuration live, keeping the open alerts that still apply."""
        self.model = model
        self._allocate(model)
        self.alerts.rebind(model)
        self.rules.allocate(model)
        self.health = HealthEngine(model, self.alerts, self.stale_after_s, self.clock)
        self._flush_alerts()
        self.initialise()

    # -- the hot path --------------------------------------------------------------------
    def submit(self, batch: ReadingBatch) -> None:
        """Run one accepted batch through rules, alerts and health, and publish the changes."""
        n = len(batch)
        if n == 0 or batch.model is not self.model:
            return
        now = self.clock()
        sensor, ts, value = batch.sensor, batch.ts, batch.value
        self.readings_total += n
        self.rate.add(n)
        try:
            self.on_readings(batch)
        except Exception:  # a subscriber's problem must never stop monitoring
            log.exception("readings subscriber failed")

        # Each sensor's newest reading of the batch: sort by (sensor, ts), take each group's last.
        order = np.lexsort((ts, sensor))
        self.ring.append(sensor, ts, value, order)
        s_sorted = sensor[order]
        group_end = np.empty(n, dtype=bool)
        group_end[:-1] = s_sorted[1:] != s_sorted[:-1]
        group_end[-1] = True
        last = order[group_end]
        touched = sensor[last]
        newer = ts[last] >= self.latest_ts[touched]
        updated = touched[newer]
        self.latest_value[updated] = value[last[newer]]
        self.latest_ts[updated] = ts[last[newer]]
        self.last_seen[touched] = now

        # Limit levels of every reading: 2 beyond critical, 1 beyond warning, 0 inside.
        model = self.model
        with np.errstate(invalid="ignore"):
            hi_level = np.where(value > model.high_critical[sensor], 2, (value > model.high[sensor]).astype(np.int8))
            lo_level = np.where(value < model.low_critical[sensor], 2, (value < model.low[sensor]).astype(np.int8))
            attention = (hi_level > 0) | (lo_level > 0)
            attention |= self.alerts.needs_limit_check[sensor]
            if attention.any():
                deadband = model.deadband[sensor]
                hi_clear = value <= self.high_any[sensor] - deadband
                lo_clear = value >= self.low_any[sensor] + deadband
                starts = np.searchsorted(s_sorted, touched, side="left")
                ends = np.searchsorted(s_sorted, touched, side="right")
                for k in np.flatnonzero(np.isin(touched, sensor[attention])).tolist():
                    group = order[starts[k]:ends[k]]
                    self.alerts.evaluate(int(touched[k]), ts[group], value[group], hi_level[group],
                                         hi_clear[group], lo_level[group], lo_clear[group])
        self.rules.on_batch(sensor, ts, value, order, s_sorted, last, touched)
        self._flush_alerts()
        self._update_health(touched)
        self._refresh_dirty()

    def _sensor_codes(self, indices: np.ndarray, now: float) -> np.ndarray:
        level = self.alerts.sensor_level[indices]
        latest = self.latest_value[indices]
        with np.errstate(invalid="ignore"):
            near = (latest >= self.watch_high[indices]) | (latest <= self.watch_low[indices])
        seen = self.last_seen[indices]
        codes = np.full(len(indices), OK, dtype=np.uint8)
        codes[near] = WATCH
        codes[level == 1] = WARNING
        codes[level == 2] = CRITICAL
        codes[now - seen > self.stale_after_s] = STALE
        codes[self.alerts.watch[KIND_STALE][indices]] = STALE   # an open stale alarm
        codes[np.isneginf(seen)] = NO_DATA
        if near.any():
            # Remember which limit the value is near, for the health driver's text.
            high_side = latest >= self.watch_high[indices]
            self.health.near_limit[indices[near]] = np.where(
                high_side, self.high_any[indices], self.low_any[indices])[near]
        return codes

    def _update_health(self, indices: np.ndarray) -> None:
        codes = self._sensor_codes(indices, self.clock())
        changed = codes != self.health.sensor_state[indices]
        if changed.any():
            self._publish_health(self.health.update(indices[changed], codes[changed]))

    def check_stale(self) -> None:
        """Periodic: sensors that went quiet become stale (and their elements' health follows)."""
        now = self.clock()
        states = self.health.sensor_state
        quiet = (now - self.last_seen > self.stale_after_s) & (states != STALE) & (states != NO_DATA)
        indices = np.flatnonzero(quiet)
        if len(indices):
            self._publish_health(self.health.update(indices, np.full(len(indices), STALE, dtype=np.uint8)))
        # The alarm timers: stale sensors, delays of quiet sensors, shelving, escalation, floods.
        self.rules.tick(now, self.last_seen)
        self.alerts.tick()
        self._flush_alerts()
        self._refresh_dirty()

    # -- alarm management ----------------------------------------------------------------
    def _refresh_dirty(self) -> None:
        """Health of the elements whose alerts changed (severity, acknowledgement, shelving)."""
        sensors, elements = self.alerts.take_dirty()
        if not sensors and not elements:
            return
        subjects: dict[str, None] = dict.fromkeys(elements)
        if sensors:
            indices = np.array(sorted(sensors), dtype=np.int64)
            self.health.sensor_state[indices] = self._sensor_codes(indices, self.clock())
            for index in indices.tolist():
                subjects.update(dict.fromkeys(self.model.subjects_of_sensor(index)))
        self._publish_health(self.health.refresh(subjects))

    def set_limits(self, sensor_id: str, limits: dict[str, Any]) -> Any:
        """Replace some of one sensor's limits live (``set_limits`` request) and re-evaluate its
        latest value against them. Raises KeyError (unknown sensor) or ValueError (bad limits)."""
        from sidecar.alarms.limits_update import apply_limits
        index = self.model.sensor_index[sensor_id]
        new = apply_limits(self.model, index, limits)
        self.high_any = np.fmin(self.model.high, self.model.high_critical)
        self.low_any = np.fmax(self.model.low, self.model.low_critical)
        self.watch_high = self.high_any - WATCH_DEADBANDS * self.model.deadband
        self.watch_low = self.low_any + WATCH_DEADBANDS * self.model.deadband
        value, ts = float(self.latest_value[index]), float(self.latest_ts[index])
        if np.isfinite(value):
            model = self.model
            v = np.array([value])
            with np.errstate(invalid="ignore"):
                hi = np.where(v > model.high_critical[index], 2, (v > model.high[index]).astype(np.int8))
                lo = np.where(v < model.low_critical[index], 2, (v < model.low[index]).astype(np.int8))
                hi_clear = v <= self.high_any[index] - model.deadband[index]
                lo_clear = v >= self.low_any[index] + model.deadband[index]
            self.alerts.evaluate(index, np.array([ts]), v, hi, hi_clear, lo, lo_clear)
            self.alerts.dirty_sensors.add(index)
        self.flush()
        return new

    def feed_scores(self, sensor_ids: list[str], ts: np.ndarray | list[float], scores: np.ndarray | list[float]) -> None:
        """Analytics hook: anomaly scores (0..1) of readings, evaluated by the ``anomaly`` rule."""
        index = self.model.sensor_index
        sensor = np.array([index[s] for s in sensor_ids], dtype=np.int64)
        self.rules.on_scores(sensor, np.asarray(ts, dtype=np.float64), np.asarray(scores, dtype=np.float64))
        self.flush()

    def feed_failure(self, unique_id: str, probability: float, ts: float | None = None,
                     ttf_hours: float | None = None, drivers: list[str] | None = None,
                     anomaly_score: float | None = None) -> None:
        """Analytics hook: an equipment's failure probability (``failure_risk`` rule) and the
        evidence its health record shows (``failure_probability``, ``ttf_hours``, drivers)."""
        if unique_id not in self.model.elements:
            raise KeyError(unique_id)
        settings = self.alarm_settings.failure
        when = self.clock() if ts is None else ts
        level, clear = score_levels(np.array([probability]), settings)
        self.alerts.evaluate_rule(self.alerts.equipment_subject(unique_id), KIND_FAILURE, np.array([when]),
                                  np.array([probability]), level, clear,
                                  {1: settings.threshold, 2: settings.critical_threshold},
                                  score_severities(settings), settings.rule)
        self._publish_health(self.health.set_evidence(unique_id, probability, ttf_hours, anomaly_score, drivers))
        self.flush()

    def alarm_metrics(self) -> dict[str, Any]:
        return self.alerts.metrics()

    # -- publishing ----------------------------------------------------------------------
    def _flush_alerts(self) -> None:
        if not self._pending_alerts:
            return
        pending = self._pending_alerts[:]
        self._pending_alerts.clear()
        for wire in pending:
            self.emit(protocol.TOPIC_ALERT, wire)

    def flush(self) -> None:
        """Publish what an operator action (``ack``, ``shelve``...) changed."""
        self._flush_alerts()
        self._refresh_dirty()

    def _publish_health(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.emit(protocol.TOPIC_HEALTH, {"items": records})
