"""A pipeline with an injectable clock, for the alarm tests (no sleeps, no subprocess)."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from support.buildings import small_building

from sidecar.alarms.settings import AlarmSettings, parse_alarm_settings
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch


def settings(**alerts: Any) -> AlarmSettings:
    """AlarmSettings from an [alerts]-like mapping; escalation off unless asked for."""
    alerts.setdefault("escalate_after_s", 0)
    return parse_alarm_settings(alerts)


class Rig:
    def __init__(self, alarm: AlarmSettings | None = None, start: float = 1_000_000.0, building: Any = None):
        self.now = start
        self.model = build_model(building or small_building())
        self.events: list[tuple[str, Any]] = []
        self.pipeline = Pipeline(self.model, lambda topic, body: self.events.append((topic, body)), lambda b: None,
                                 stale_after_s=3600.0, clock=lambda: self.now, alarm_settings=alarm or settings())
        self.pipeline.initialise()
        self.engine = self.pipeline.alerts

    def feed(self, sensor_id: str, values: list[float], t0: float | None = None, dt: float = 1.0) -> None:
        """Readings of one sensor, ``dt`` apart from ``t0`` (default: now), as one batch."""
        index = self.model.sensor_index[sensor_id]
        start = self.now if t0 is None else t0
        ts = start + dt * np.arange(len(values), dtype=float)
        self.pipeline.submit(ReadingBatch(self.model, np.full(len(values), index, dtype=np.int32), ts,
                                          np.array(values, dtype=float)))

    def tick(self, advance_s: float = 0.0) -> None:
        self.now += advance_s
        self.pipeline.check_stale()

    def alerts(self, sensor_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return [b for t, b in self.events if t == "alert" and (sensor_id is None or b.get("sensor_id") == sensor_id)
                and (kind is None or b["kind"] == kind)]

    def last(self, **match: Any) -> dict[str, Any]:
        found = self.alerts(**match)
        assert found, f"no alert event matching {match}"
        return found[-1]

    def health(self, unique_id: str) -> dict[str, Any]:
        return self.pipeline.health.records[unique_id]

    def transitions(self, sensor_id: str | None = None) -> list[tuple[str, str, str]]:
        return [(a["state"], a["isa_state"], a["change"]) for a in self.alerts(sensor_id)]


def replace(alarm: AlarmSettings, **changes: Any) -> AlarmSettings:
    return dataclasses.replace(alarm, **changes)
