"""Limit alerts: raise, escalate, acknowledge, clear.

One open alert per (unique_id, kind, sensor): ``unique_id`` is the equipment the sensor
measures (or the sensor element itself when it has no host), ``kind`` is ``limit_high`` or
``limit_low``. The sensor is part of the key because one piece of equipment often carries
several sensors of one quantity (supply and return fan vibration); for a sensor without a host
the key is exactly (unique_id, kind).

States: ``active`` -> ``acknowledged`` (by ``ack``) -> ``cleared`` (value back inside its limit
minus the deadband). Escalation warning -> critical updates the same alert (and makes an
acknowledged alert active again: the operator acknowledged something milder). Severity never
steps down while the alert is open: it clears instead. A cleared alert is published once and
leaves the open set; a later excursion opens a new alert with a new id.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.model import BuildingModel, Sensor

KIND_HIGH = "limit_high"
KIND_LOW = "limit_low"
LEVEL_SEVERITY = {1: protocol.SEVERITY_WARNING, 2: protocol.SEVERITY_CRITICAL}
SEVERITY_LEVEL = {protocol.SEVERITY_INFO: 0, protocol.SEVERITY_WARNING: 1, protocol.SEVERITY_CRITICAL: 2}

# What a facility engineer should look at first; keyed by quantity, then side.
RECOMMENDED_ACTIONS: dict[str, str] = {
    "vibration": "Inspect bearings, belt tension, alignment and balance; plan maintenance before failure.",
    "temperature": "Check the zone setpoint, valve/damper positions and the serving unit's supply air.",
    "humidity": "Check humidifier/dehumidification control and outdoor air intake.",
    "co2": "Increase outdoor air for the zone; check the damper and the demand-controlled ventilation.",
    "voc": "Increase ventilation and look for a pollutant source.",
    "pm25": "Check filters and outdoor air quality; increase filtration.",
    "pressure": "Check filters for loading and the fan speed control.",
    "power": "Check the load against its schedule and look for equipment left running.",
    "current": "Check the motor load and the supply; look for a failing motor.",
    "flow": "Check pump/fan operation, valves and strainers.",
}


@dataclass(slots=True)
class Alert:
    alert_id: str
    building_id: str
    unique_id: str
    element_id: int
    sensor_id: str
    sensor_index: int
    kind: str
    severity: str
    state: str
    message: str
    value: float
    threshold: float
    raised_ts: float
    updated_ts: float
    recommended_action: str | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    acked_ts: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.unique_id, self.kind, self.sensor_id)

    def to_wire(self) -> dict[str, Any]:
        """The PROTOCOL.md Alert map (who acknowledged it stays in the sidecar's log)."""
        wire: dict[str, Any] = {
            "alert_id": self.alert_id, "building_id": self.building_id, "unique_id": self.unique_id,
            "element_id": self.element_id, "sensor_id": self.sensor_id, "kind": self.kind,
            "severity": self.severity, "state": self.state, "message": self.message,
            "raised_ts": self.raised_ts, "updated_ts": self.updated_ts,
        }
        if math.isfinite(self.value):
            wire["value"] = self.value
        if math.isfinite(self.threshold):
            wire["threshold"] = self.threshold
        if self.recommended_action:
            wire["recommended_action"] = self.recommended_action
        return wire


class UnknownAlert(KeyError):
    pass


AlertListener = Callable[[Alert], None]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


class AlertEngine:
    """Owns every alert of one building. ``evaluate`` runs the limit state machine of one
    sensor over its readings of one batch (in time order); ``listener`` hears every change."""

    def __init__(self, model: BuildingModel, listener: AlertListener, recent_cleared: int = 1000,
                 clock: Callable[[], float] = time.time):
        self.model = model
        self.listener = listener
        self.clock = clock
        self.recent_cleared = recent_cleared
        self._open: dict[tuple[str, str, str], Alert] = {}
        self._by_id: dict[str, Alert] = {}
        self._cleared: OrderedDict[str, Alert] = OrderedDict()
        # Per sensor: highest open severity level (0 none, 1 warning, 2 critical), for the
        # vectorised paths of the pipeline and the health engine.
        self.sensor_level = np.zeros(model.sensor_count, dtype=np.int8)
        self._ids = itertools.count(1)
        self._id_prefix = f"{int(time.time()):x}{os.getpid():x}"

    # -- queries -------------------------------------------------------------------------
    @property
    def active_count(self) -> int:
        return len(self._open)

    def open_alerts(self, unique_ids: Iterable[str] | None = None) -> list[Alert]:
        alerts = sorted(self._open.values(), key=lambda a: a.raised_ts)
        if unique_ids is None:
            return alerts
        wanted = set(unique_ids)
        return [a for a in alerts if a.unique_id in wanted or a.sensor_id in wanted
                or self.model.sensors[a.sensor_index].unique_id in wanted]

    def alerts_of_sensor(self, index: int) -> list[Alert]:
        sensor = self.model.sensors[index]
        return [a for kind in (KIND_HIGH, KIND_LOW)
                if (a := self._open.get((sensor.alert_unique_id, kind, sensor.sensor_id))) is not None]

    def get(self, alert_id: str) -> Alert:
        alert = self._by_id.get(alert_id) or self._cleared.get(alert_id)
        if alert is None:
            raise UnknownAlert(alert_id)
        return alert

    # -- the limit state machine ---------------------------------------------------------
    def evaluate(self, index: int, ts: np.ndarray, values: np.ndarray, hi_level: np.ndarray,
                 hi_clear: np.ndarray, lo_level: np.ndarray, lo_clear: np.ndarray) -> None:
        """Readings of one sensor, in time order, with their per-reading limit levels."""
        sensor = self.model.sensors[index]
        sides = [(KIND_HIGH, hi_level, hi_clear), (KIND_LOW, lo_level, lo_clear)]
        # The side with an open alert goes first, so a swing from low to high publishes the
        # low alert's clear before the high alert's raise.
        open_sides = [(sensor.alert_unique_id, kind, sensor.sensor_id) in self._open for kind, _, _ in sides]
        if open_sides[1] and not open_sides[0]:
            sides.reverse()
            open_sides.reverse()
        for (kind, level, clear), is_open in zip(sides, open_sides):
            if is_open or level.any():
                self._run_side(sensor, kind, ts, values, level, clear)

    def _run_side(self, sensor: Sensor, kind: str, ts: np.ndarray, values: np.ndarray,
                  level: np.ndarray, clear: np.ndarray) -> None:
        # Within a run of equal (level, clear) only the run's first reading can change the
        # state, so a long steady excursion costs one step, not one per reading.
        code = level.astype(np.int16) * 2 + clear
        starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
        key = (sensor.alert_unique_id, kind, sensor.sensor_id)
        for i in starts.tolist():
            alert = self._open.get(key)
            current = SEVERITY_LEVEL[alert.severity] if alert else 0
            lvl = int(level[i])
            if lvl > current:
                self._raise_or_escalate(sensor, kind, alert, lvl, float(values[i]), float(ts[i]))
            elif alert is not None and clear[i]:
                self._clear(alert, float(values[i]), float(ts[i]), "back within limits")

    def _threshold(self, sensor: Sensor, kind: str, level: int) -> float:
        limits = sensor.limits
        if kind == KIND_HIGH:
            return limits.high_critical if level == 2 else limits.high
        return limits.low_critical if level == 2 else limits.low

    def _raise_or_escalate(self, sensor: Sensor, kind: str, alert: Alert | None, level: int,
                           value: float, ts: float) -> None:
        severity = LEVEL_SEVERITY[level]
        threshold = self._threshold(sensor, kind, level)
        if math.isnan(threshold):  # only the critical limit exists on this side
            threshold = self._threshold(sensor, kind, 2)
        relation = ">" if kind == KIND_HIGH else "<"
        unit = f" {sensor.unit}" if sensor.unit else ""
        message = f"{sensor.label} {_fmt(value)}{unit} {relation} {threshold:g}{unit} ({severity})"
        if alert is None:
            alert = Alert(alert_id=f"A{self._id_prefix}-{next(self._ids)}", building_id=self.model.building_id,
                          unique_id=sensor.alert_unique_id,
                          element_id=self._element_id(sensor.alert_unique_id, sensor.element_id),
                          sensor_id=sensor.sensor_id, sensor_index=sensor.index, kind=kind,
                          severity=severity, state=protocol.ALERT_ACTIVE, message=message, value=value,
                          threshold=threshold, raised_ts=ts, updated_ts=ts,
                          recommended_action=RECOMMENDED_ACTIONS.get(sensor.quantity))
            self._open[alert.key] = alert
            self._by_id[alert.alert_id] = alert
        else:
            alert.severity, alert.message, alert.value, alert.threshold = severity, message, value, threshold
            alert.state = protocol.ALERT_ACTIVE
            alert.updated_ts = max(ts, alert.updated_ts)
        self._refresh_level(sensor.index)
        self.listener(alert)

    def _element_id(self, unique_id: str, fallback: int) -> int:
        element = self.model.elements.get(unique_id)
        return element.element_id if element is not None else fallback

    def _clear(self, alert: Alert, value: float, ts: float, why: str) -> None:
        sensor = self.model.sensors[alert.sensor_index] if alert.sensor_index >= 0 else None
        alert.state = protocol.ALERT_CLEARED
        alert.value = value
        alert.updated_ts = max(ts, alert.updated_ts)
        unit = f" {sensor.unit}" if sensor is not None and sensor.unit else ""
        label = sensor.label if sensor is not None else alert.sensor_id
        alert.message = f"{label} {why} ({_fmt(value)}{unit})" if math.isfinite(value) else f"{label} {why}"
        del self._open[alert.key]
        del self._by_id[alert.alert_id]
        self._cleared[alert.alert_id] = alert
        while len(self._cleared) > self.recent_cleared:
            self._cleared.popitem(last=False)
        if sensor is not None:
            self._refresh_level(sensor.index)
        self.listener(alert)

    def _refresh_level(self, index: int) -> None:
        self.sensor_level[index] = max((SEVERITY_LEVEL[a.severity] for a in self.alerts_of_sensor(index)),
                                       default=0)

    # -- operator actions ----------------------------------------------------------------
    def acknowledge(self, alert_id: str, user: str | None = None, note: str | None = None) -> Alert:
        """Acknowledge an open alert. Acknowledging twice, or a just-cleared alert, changes
        nothing and publishes nothing (the operator's click raced the clear)."""
        alert = self.get(alert_id)
        if alert.state == protocol.ALERT_ACTIVE:
            alert.state = protocol.ALERT_ACKNOWLEDGED
            alert.acked_by, alert.ack_note = user, note
            alert.acked_ts = alert.updated_ts = max(self.clock(), alert.updated_ts)
            self.listener(alert)
        return alert

    # -- reconfiguration -----------------------------------------------------------------
    def rebind(self, model: BuildingModel) -> None:
        """Carry open alerts over to a new configuration of the same building: alerts whose
        sensor is still there (on the same element) stay open; the others are cleared."""
        old_open = list(self._open.values())
        self.model = model
        self.sensor_level = np.zeros(model.sensor_count, dtype=np.int8)
        now = self.clock()
        for alert in old_open:
            index = model.sensor_index.get(alert.sensor_id, -1)
            same = (index >= 0 and model.building_id == alert.building_id
                    and model.sensors[index].alert_unique_id == alert.unique_id)
            if same:
                alert.sensor_index = index
            else:
                alert.sensor_index = -1
                self._clear(alert, math.nan, now, "removed from the configuration")
        for index in {a.sensor_index for a in self._open.values()}:
            self._refresh_level(index)
