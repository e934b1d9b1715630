"""The readings pipeline: accepted batch -> latest values -> rules -> alerts -> health.

One reading's way: ``submit`` keeps each sensor's newest value and hands the batch to the
sensor rules (``alarms.sensor_rules``: limits, rate of change, flat line, stale, anomaly),
which drive the alert engine (``alarms.engine``); the engine's listener collects each change,
and the pipeline publishes them (``alert``), then the health of the sensors the batch touched
and of those whose alerts changed (``health``).

Everything per reading is vectorised over the batch (gathers from per-sensor limit arrays,
comparisons, one lexsort to find each sensor's latest reading). Python-level work happens only
for sensors that are out of limits or have an open alert, and for elements whose sensors
changed state, so a batch of normal readings costs a few numpy passes whatever its size.

``Pipeline`` is the ``PipelinePort`` (``sidecar.port``) the maintenance engine and the
plug-ins use.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.alarms.engine import AlertEngine
from sidecar.alarms.limits import apply_limits
from sidecar.alarms.record import KIND_FAILURE, Alert, Describer
from sidecar.alarms.sensor_rules import SensorRules, score_levels, score_severities
from sidecar.alarms.settings import AlarmSettings, RuleSettings
from sidecar.health import HealthEngine, HealthSettings
from sidecar.limits import Limits
from sidecar.model import BuildingModel
from sidecar.rates import RateMeter
from sidecar.readings import ReadingBatch
from sidecar.store.ring import DEFAULT_CAPACITY, SensorRing

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], None]
RATE_WINDOW_S = 5.0


class Pipeline:
    """Per-building pipeline state. ``emit(topic, body)`` publishes events (bus and hub);
    ``on_readings(batch)`` hands accepted batches to in-process subscribers."""

    def __init__(self, model: BuildingModel, emit: Emit, on_readings: Callable[[ReadingBatch], None],
                 stale_after_s: float = 60.0, recent_cleared: int = 1000,
                 clock: Callable[[], float] = time.time, ring_points: int = DEFAULT_CAPACITY,
                 alarm_settings: AlarmSettings | None = None, health_settings: HealthSettings | None = None):
        self._model = model
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
        self.health_settings = health_settings or HealthSettings(stale_after_s=stale_after_s)
        self.health = HealthEngine(model, self.alerts, stale_after_s, clock, self.health_settings)
        self.rate = RateMeter(RATE_WINDOW_S)
        self.readings_total = 0
        self._allocate(model)

    def _allocate(self, model: BuildingModel) -> None:
        n = model.sensor_count
        self.latest_value = np.full(n, np.nan)
        self.latest_ts = np.full(n, -np.inf)
        self.last_seen = np.full(n, -np.inf)   # arrival time: freshness ignores device clocks
        if model is not self.ring_model:  # a new configuration keeps its sensors' recent readings
            ring = SensorRing(n, self.ring_points)
            ring.carry_over(self.ring, [s.sensor_id for s in self.ring_model.sensors],
                            [s.sensor_id for s in model.sensors])
            self.ring = ring
        self.ring_model = model

    @property
    def model(self) -> BuildingModel:
        return self._model

    def _alert_changed(self, alert: Alert) -> None:
        self._pending_alerts.append(alert.to_wire())

    # -- life cycle ----------------------------------------------------------------------
    def initialise(self) -> None:
        self._publish_health(self.health.initialise())

    def rebind(self, model: BuildingModel) -> None:
        """Switch to a new configuration live, keeping the open alerts that still apply."""
        self._model = model
        self._allocate(model)
        self.alerts.rebind(model)
        self.rules.allocate(model)
        self.health = HealthEngine(model, self.alerts, self.stale_after_s, self.clock, self.health_settings)
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

        self.rules.on_batch(sensor, ts, value, order, s_sorted, last, touched)
        self._flush_alerts()
        self._publish_health(self.health.note_sensor_state(touched, self.latest_value[touched],
                                                           self.last_seen[touched]))
        self._refresh_dirty()

    def check_stale(self) -> None:
        """Periodic: sensors that went quiet become stale (and their elements' health follows),
        sensors on watch settle, and the alarm timers run."""
        now = self.clock()
        self._publish_health(self.health.note_quiet(self.last_seen))
        # The alarm timers: stale sensors, delays of quiet sensors, shelving, escalation, floods.
        self.rules.tick(now, self.last_seen)
        self.alerts.tick()
        self._flush_alerts()
        self._refresh_dirty()

    # -- alarm management ----------------------------------------------------------------
    def _refresh_dirty(self, also: Iterable[int] = ()) -> None:
        """Health of the elements whose alerts changed (severity, acknowledgement, shelving),
        and of the sensors ``also``."""
        sensors, elements = self.alerts.take_dirty()
        sensors.update(also)
        if not sensors and not elements:
            return
        indices = np.array(sorted(sensors), dtype=np.int64)
        self._publish_health(self.health.note_alerts(indices, self.latest_value[indices], self.last_seen[indices],
                                                     elements))

    def set_limits(self, sensor_id: str, limits: dict[str, Any]) -> Limits:
        """Replace some of one sensor's limits live (``set_limits`` request) and re-evaluate its
        latest value against them. Raises KeyError (unknown sensor) or ValueError (bad limits)."""
        index = self.model.sensor_index[sensor_id]
        new = apply_limits(self.model, index, limits)
        self.rules.refresh_limits()
        self.health.refresh_limits()
        value, ts = float(self.latest_value[index]), float(self.latest_ts[index])
        if np.isfinite(value):
            one, v = np.array([index]), np.array([value])
            self.alerts.evaluate(index, np.array([ts]), v, *self.rules.limit_levels(one, v))
        self._flush_alerts()
        self._refresh_dirty(also=[index])   # its watch band moved too
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

    # -- the rest of PipelinePort ---------------------------------------------------------
    def recent_readings(self, sensor_index: int, after_ts: float) -> tuple[np.ndarray, np.ndarray]:
        ts, value = self.ring.between(sensor_index, np.nextafter(after_ts, math.inf), math.inf)
        return ts.copy(), value.copy()

    def seen_at(self, sensor_indices: Sequence[int]) -> np.ndarray:
        return self.last_seen[np.asarray(sensor_indices, dtype=np.int64)]

    def open_alerts(self, unique_ids: Iterable[str] | None = None) -> list[Alert]:
        return self.alerts.open_alerts(unique_ids)

    def set_condition(self, kind: str, active: bool, *, unique_id: str | None = None, value: float = math.nan,
                      ts: float | None = None, threshold: float = math.nan,
                      severity: str = protocol.SEVERITY_WARNING, label: str | None = None) -> Alert | None:
        engine = self.alerts
        if unique_id is None:
            subject = engine.building_subject(label or self.model.building_id)
        else:
            if unique_id not in self.model.elements:
                raise KeyError(unique_id)
            subject = engine.equipment_subject(unique_id)
        when = self.clock() if ts is None else ts
        engine.set_condition(subject, kind, active, value, when, threshold, severity, RuleSettings(severity=severity))
        self.flush()
        return engine.standing_alert(subject, kind)

    def describe_kind(self, kind: str, describer: Describer) -> None:
        self.alerts.describe_kind(kind, describer)

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
