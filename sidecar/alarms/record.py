"""The alert record and every alert kind the sidecar raises.

This is the one place an alert kind is defined: the sensor rules' kinds, the equipment kinds
fed by analytics (``failure_risk``, ``maintenance``) and the building kind raised by the cloud
plug-ins (``cloud_data_loss``). A kind whose text only its producer knows (a work order's
number, a connector's name) registers a ``Describer`` with the alert engine
(``AlertEngine.describe_kind``); the engine asks it before it publishes a change.

Key: one alert per (unique_id, kind, sensor_id). ``unique_id`` is the equipment the sensor
measures (or the sensor element itself when it has no host); the sensor is part of the key
because one piece of equipment often carries several sensors of one quantity (supply and
return fan vibration). Equipment- and building-level kinds key on (unique_id, kind, "").
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sidecar.alarms import states as isa

# Per-sensor kinds (the sensor rules).
KIND_HIGH = "limit_high"
KIND_LOW = "limit_low"
KIND_RATE = "rate_of_change"
KIND_STALE = "stale"
KIND_FLATLINE = "flatline"
KIND_ANOMALY = "anomaly"
SENSOR_KINDS = (KIND_HIGH, KIND_LOW, KIND_RATE, KIND_STALE, KIND_FLATLINE, KIND_ANOMALY)
# Equipment kinds (analytics): failure probability over its threshold, an open work order.
KIND_FAILURE = "failure_risk"
KIND_MAINTENANCE = "maintenance"
# Building kind (cloud plug-ins): a connector's outbox dropped data during an outage.
KIND_CLOUD_DATA_LOSS = "cloud_data_loss"
KINDS = (*SENSOR_KINDS, KIND_FAILURE, KIND_MAINTENANCE, KIND_CLOUD_DATA_LOSS)

# What a facility engineer should look at first; keyed by quantity (limit alerts) or kind.
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
KIND_ACTIONS: dict[str, str] = {
    KIND_STALE: "Check the sensor's power, wiring or network link and its data source.",
    KIND_FLATLINE: "Check the sensor: a value that never changes is usually a stuck or failed sensor.",
    KIND_RATE: "Check what changed: a fast swing often means a failed actuator, a stuck valve or a bad sensor.",
    KIND_ANOMALY: "Compare with the equipment's trend and related sensors; inspect if it persists.",
    KIND_FAILURE: "Plan maintenance: inspect the equipment before it fails.",
}
RETURN_TEXT: dict[str, str] = {
    KIND_HIGH: "back within limits", KIND_LOW: "back within limits", KIND_RATE: "rate of change back to normal",
    KIND_STALE: "reporting again", KIND_FLATLINE: "values changing again",
    KIND_ANOMALY: "readings back to normal", KIND_FAILURE: "failure probability back to normal",
}

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about: a sensor (``sensor_index`` >= 0), a piece of equipment or the
    building (``element_id`` -1)."""

    unique_id: str
    element_id: int
    sensor_id: str
    sensor_index: int
    label: str
    unit: str
    quantity: str


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
    isa_state: str
    message: str
    value: float
    threshold: float
    raised_ts: float
    updated_ts: float
    activated_at: float                  # engine clock at the last activation (escalation, standing)
    recommended_action: str | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    acked_ts: float | None = None
    shelved_until: float | None = None
    shelved_by: str | None = None
    shelve_reason: str | None = None
    escalations: int = 0
    change: str = isa.RAISED
    suppressed: bool = False             # held back by flood suppression (not published)
    failure_probability: float | None = None

    @property
    def key(self) -> Key:
        return (self.unique_id, self.kind, self.sensor_id)

    @property
    def state(self) -> str:
        """PROTOCOL.md's state."""
        return isa.WIRE_STATE[self.isa_state]

    @property
    def condition(self) -> bool:
        """Whether the alarm condition is present (unack_active or ack_active)."""
        return self.isa_state in (isa.UNACK_ACTIVE, isa.ACK_ACTIVE)

    def to_wire(self) -> dict[str, Any]:
        """The PROTOCOL.md Alert map plus the additive alarm-management fields."""
        wire: dict[str, Any] = {
            "alert_id": self.alert_id, "building_id": self.building_id, "unique_id": self.unique_id,
            "element_id": self.element_id, "kind": self.kind,
            "severity": self.severity, "state": self.state, "message": self.message,
            "raised_ts": self.raised_ts, "updated_ts": self.updated_ts,
            "isa_state": self.isa_state, "change": self.change, "escalated": self.escalations > 0,
        }
        if self.sensor_id:
            wire["sensor_id"] = self.sensor_id
        if math.isfinite(self.value):
            wire["value"] = self.value
        if math.isfinite(self.threshold):
            wire["threshold"] = self.threshold
        if self.recommended_action:
            wire["recommended_action"] = self.recommended_action
        if self.failure_probability is not None:
            wire["failure_probability"] = self.failure_probability
        if self.acked_ts is not None:
            wire["acknowledged_ts"] = self.acked_ts
            if self.acked_by:
                wire["acknowledged_by"] = self.acked_by
            if self.ack_note:
                wire["ack_note"] = self.ack_note
        if self.shelved_until is not None:
            wire["shelved_until"] = self.shelved_until
            if self.shelved_by:
                wire["shelved_by"] = self.shelved_by
            if self.shelve_reason:
                wire["shelve_reason"] = self.shelve_reason
        return wire


@dataclass(frozen=True, slots=True)
class Description:
    """What a kind's describer says about an alert; ``None`` fields keep the engine's own."""

    message: str | None = None
    recommended_action: str | None = None
    failure_probability: float | None = None


# Asked for every change of an alert of its kind, before the change is published.
Describer = Callable[[Alert], Description | None]
AlertListener = Callable[[Alert], None]


class UnknownAlert(KeyError):
    pass


class ShelveError(ValueError):
    """A shelve request the engine cannot honour (the message says why)."""
