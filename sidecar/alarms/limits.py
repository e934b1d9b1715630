"""``set_limits``: change one sensor's limits live.

The limits themselves (the ``Limits`` record, the quantity defaults, how a sensor's own
``limits`` override them) belong to the building model and live in ``sidecar.limits``, which
``sidecar.model`` imports; keeping them there keeps the model below the alarms (the alarms
import the model, never the other way round).

Keys absent from the request keep their current value; a number replaces it; ``null`` returns
that key to the quantity's default. ``deadband`` may be set too (otherwise it is derived as at
configure time). The change lives until the next ``configure`` (the Revit model's limits are
the lasting source) and is not persisted across restarts.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sidecar.limits import LIMIT_KEYS, Limits, effective_limits
from sidecar.model import BuildingModel

SETTABLE = (*LIMIT_KEYS, "deadband")


def apply_limits(model: BuildingModel, index: int, changes: Mapping[str, Any]) -> Limits:
    """The sensor's new effective limits, written into ``model`` (its Sensor and the arrays).
    Raises ValueError with the offending key for anything unusable."""
    unknown = sorted(set(changes) - set(SETTABLE))
    if unknown:
        raise ValueError(f"limits.{unknown[0]}: unknown key; settable: {', '.join(SETTABLE)}")
    for key, value in changes.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise ValueError(f"limits.{key}: must be a finite number or null, got {value!r}")
    sensor = model.sensors[index]
    defaults = effective_limits(sensor.quantity, sensor.unit, None)
    values: dict[str, Any] = {key: getattr(sensor.limits, key) for key in LIMIT_KEYS}
    for key in LIMIT_KEYS:
        if key in changes:
            values[key] = getattr(defaults, key) if changes[key] is None else float(changes[key])
    problems: list[str] = []
    new = effective_limits(sensor.quantity, sensor.unit, values, problems, sensor.sensor_id)
    if problems:
        raise ValueError(f"limits: {problems[-1]}")
    if changes.get("deadband") is not None:
        if changes["deadband"] < 0:
            raise ValueError("limits.deadband: must not be negative")
        new = dataclasses.replace(new, deadband=float(changes["deadband"]))
    model.sensors[index] = dataclasses.replace(sensor, limits=new)
    for key in (*LIMIT_KEYS, "deadband"):
        getattr(model, key)[index] = getattr(new, key)
    return new


def limits_to_wire(limits: Limits) -> dict[str, float]:
    """The effective limits as a map (keys without a limit are left out)."""
    return {key: getattr(limits, key) for key in SETTABLE if not math.isnan(getattr(limits, key))}
