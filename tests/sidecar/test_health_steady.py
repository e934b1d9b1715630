"""Steady health (issue 14 item 4): watch has hysteresis and a dwell, so a sensor oscillating at
the edge of its watch band is one change, not one per reading; worse states still show at once."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from alarm_support import settings
from support.buildings import AHU, small_building

from sidecar.config import ConfigError, config_from_mapping
from sidecar.health import HealthSettings
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch

SAT = "ahu1.sat"                        # limits low 10, high 18, criticals 6 / 24, deadband 0.5
SAT_ELEMENT = AHU[:-4] + "2002"         # watch from 17.0 (two deadbands under 18), left below 16.5
QUIET = {"stale": {"enabled": False}, "flatline": {"enabled": False}, "rate_of_change": {"enabled": False}}


class Plant:
    def __init__(self, health: HealthSettings | None = None):
        self.now = 1_000_000.0
        self.model = build_model(small_building())
        self.events: list[tuple[str, Any]] = []
        self.pipeline = Pipeline(self.model, lambda topic, body: self.events.append((topic, body)), lambda b: None,
                                 stale_after_s=3600.0, clock=lambda: self.now, alarm_settings=settings(**QUIET),
                                 health_settings=health)
        self.pipeline.initialise()

    def reading(self, value: float, advance_s: float = 1.0) -> None:
        """One reading of SAT ``advance_s`` after the previous, then the periodic check."""
        self.now += advance_s
        index = self.model.sensor_index[SAT]
        self.pipeline.submit(ReadingBatch(self.model, np.array([index], dtype=np.int32), np.array([self.now]),
                                          np.array([value])))
        self.pipeline.check_stale()

    def wait(self, seconds: float) -> None:
        self.now += seconds
        self.pipeline.check_stale()

    def statuses(self, unique_id: str = SAT_ELEMENT) -> list[str]:
        """The element's published statuses, repeats folded (one entry per change)."""
        out: list[str] = []
        for topic, body in self.events:
            for record in body.get("items", []) if topic == "health" else []:
                if record["unique_id"] == unique_id and (not out or out[-1] != record["status"]):
                    out.append(record["status"])
        return out

    def status(self, unique_id: str = SAT_ELEMENT) -> str:
        return str(self.pipeline.health.records[unique_id]["status"])


@pytest.mark.parametrize("low", [16.9, 16.0])      # inside the hysteresis band / beyond it (the dwell holds)
def test_a_value_oscillating_at_the_watch_band_does_not_flap(low: float) -> None:
    plant = Plant()
    plant.reading(13.0)
    for k in range(600):                                   # ten minutes of low / 17.1, one a second
        plant.reading(17.1 if k % 2 else low)
    assert plant.statuses() == ["unknown", "ok", "watch"]
    assert any("near its limit 18" in d for d in plant.pipeline.health.records[SAT_ELEMENT]["drivers"])
    assert [b for t, b in plant.events if t == "alert"] == []


def test_without_hysteresis_and_dwell_the_same_readings_flap() -> None:
    """The test above can fail: the same oscillation with the steadiness switched off."""
    plant = Plant(HealthSettings(stale_after_s=3600.0, watch_hysteresis=0.0, dwell_s=0.0))
    plant.reading(13.0)
    for k in range(20):
        plant.reading(17.1 if k % 2 else 16.0)
    assert len(plant.statuses()) > 15


def test_a_critical_value_shows_at_once() -> None:
    plant = Plant()
    plant.reading(13.0)
    plant.reading(17.2)
    assert plant.status() == "watch"
    plant.reading(25.0)                                     # beyond high_critical 24
    alerts = [b for t, b in plant.events if t == "alert"]
    assert [(a["severity"], a["state"]) for a in alerts] == [("critical", "active")]
    assert plant.status() == "critical" and plant.status(AHU) == "critical"   # the same reading, no dwell


def test_recovery_from_watch_shows_after_the_dwell() -> None:
    plant = Plant(HealthSettings(stale_after_s=3600.0, dwell_s=60.0))
    plant.reading(13.0)
    plant.reading(17.5)
    assert plant.status() == "watch"
    plant.reading(16.8)                                     # inside the hysteresis band: still a reason to watch
    plant.reading(12.0)                                     # well away: the dwell starts now
    start = plant.now
    for _ in range(58):
        plant.reading(12.0)
    assert plant.now - start == 58 and plant.status() == "watch"
    plant.wait(2.0)                                         # no reading needed: the timer completes the dwell
    assert plant.status() == "ok"
    assert plant.statuses() == ["unknown", "ok", "watch", "ok"]


def test_a_reason_to_watch_during_the_dwell_restarts_it() -> None:
    plant = Plant(HealthSettings(stale_after_s=3600.0, dwell_s=60.0))
    plant.reading(13.0)
    plant.reading(17.5)
    plant.reading(12.0, advance_s=1.0)
    plant.reading(17.5, advance_s=50.0)                     # near again after 50 s
    plant.reading(12.0, advance_s=1.0)
    plant.wait(59.0)
    assert plant.status() == "watch"
    plant.wait(1.0)
    assert plant.status() == "ok"


def test_health_follows_an_alarm_return_unless_an_alarm_dwell_is_set() -> None:
    plant = Plant()
    plant.reading(13.0)
    plant.reading(25.0)
    plant.reading(12.0)
    assert plant.status() == "ok"                           # default: health follows the alarm's return
    held = Plant(HealthSettings(stale_after_s=3600.0, alarm_dwell_s=30.0))
    held.reading(13.0)
    held.reading(25.0)
    held.reading(12.0)
    returned = [b for t, b in held.events if t == "alert"][-1]
    assert returned["isa_state"] == "unack_rtn"             # the alarm is not delayed ...
    assert held.status() == "critical"                      # ... its health shows the recovery after the dwell
    held.wait(29.0)
    assert held.status() == "critical"
    held.wait(1.0)
    assert held.status() == "ok"


def test_health_settings_are_read_from_the_config() -> None:
    config = config_from_mapping({"health": {"dwell_s": 120, "alarm_dwell_s": 0, "watch_hysteresis": 0.1}})
    assert (config.health.dwell_s, config.health.alarm_dwell_s, config.health.watch_hysteresis) == (120.0, 0.0, 0.1)
    assert config_from_mapping({}).health.dwell_s == 60.0
    with pytest.raises(ConfigError, match="health.dwell_s"):
        config_from_mapping({"health": {"dwell_s": -1}})
