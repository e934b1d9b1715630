"""Readings as arrays, and turning an ``ingest`` request's triples into them.

A batch is three parallel numpy arrays (sensor index, timestamp, value): no per-reading
objects after decoding. ``parse_ingest`` checks a whole batch with a handful of C-level passes
and vectorised comparisons; only when the batch holds malformed triples does it fall back to a
per-reading loop, which names every rejected reading's index and reason.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidecar.model import BuildingModel


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """Accepted readings of one building, as parallel arrays. ``model`` maps an index to its
    sensor (``model.sensors[i].sensor_id``)."""

    model: BuildingModel
    sensor: np.ndarray   # int32 sensor indices
    ts: np.ndarray       # float64 seconds since the epoch
    value: np.ndarray    # float64

    def __len__(self) -> int:
        return int(self.sensor.shape[0])

    def sensor_ids(self) -> list[str]:
        """The batch's sensor ids (allocates one string reference per reading: not for hot paths)."""
        sensors = self.model.sensors
        return [sensors[i].sensor_id for i in self.sensor.tolist()]


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


MALFORMED = "malformed reading: expected [sensor_id, ts, value]"
_NUMBERS = {int, float}


def _describe(value: Any) -> str:
    return "nil" if value is None else type(value).__name__


def _reason(reading: Any, index: Mapping[str, int], latest_ok_ts: float, max_future_s: float) -> str | None:
    """Why one reading is rejected (None: it is fine)."""
    if not isinstance(reading, (list, tuple)) or len(reading) != 3:
        return MALFORMED
    sensor_id, ts, value = reading
    if not isinstance(sensor_id, str):
        return f"malformed reading: sensor_id must be a string, got {_describe(sensor_id)}"
    if sensor_id not in index:
        return f"unknown sensor {sensor_id!r}"
    if type(value) not in _NUMBERS:
        return f"value is not a number (got {_describe(value)})"
    try:
        number = float(value)
    except OverflowError:
        return "value is not finite (integer too large)"
    if not math.isfinite(number):
        return f"value is not finite ({number})"
    if type(ts) not in _NUMBERS:
        return f"timestamp is not a number (got {_describe(ts)})"
    try:
        when = float(ts)
    except OverflowError:
        return "timestamp is not finite (integer too large)"
    if not math.isfinite(when):
        return f"timestamp is not finite ({when})"
    if when < 0:
        return f"timestamp {when:.3f} is before 1970 (seconds since the Unix epoch expected)"
    if when > latest_ok_ts:
        return f"timestamp {when:.3f} is more than {max_future_s:g} s in the future"
    return None


def parse_ingest(readings: list[Any], model: BuildingModel, now: float,
                 max_future_s: float) -> tuple[ReadingBatch, list[Rejection]]:
    """Accepted readings as a batch, and the rejected ones with their index and reason."""
    index = model.sensor_index
    latest_ok_ts = now + max_future_s
    n = len(readings)
    fast = (n > 0 and set(map(type, readings)) <= {list, tuple} and set(map(len, readings)) == {3})
    if fast:
        sensor_ids, stamps, values = zip(*readings)
        fast = (set(map(type, sensor_ids)) == {str} and set(map(type, stamps)) <= _NUMBERS
                and set(map(type, values)) <= _NUMBERS)
    if fast:
        try:
            ts = np.array(stamps, dtype=np.float64)
            value = np.array(values, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: let the slow path name it
            fast = False
    if not fast:
        return _parse_slowly(readings, model, latest_ok_ts, max_future_s)
    sensor = np.array(list(map(index.get, sensor_ids, itertools.repeat(-1, n))), dtype=np.int32)
    with np.errstate(invalid="ignore"):
        good = (sensor >= 0) & np.isfinite(value) & (ts >= 0.0) & (ts <= latest_ok_ts)
    if good.all():
        return ReadingBatch(model, sensor, ts, value), []
    rejected = [Rejection(i, _reason(readings[i], index, latest_ok_ts, max_future_s) or MALFORMED)
                for i in np.flatnonzero(~good).tolist()]
    return ReadingBatch(model, sensor[good], ts[good], value[good]), rejected


def _parse_slowly(readings: list[Any], model: BuildingModel, latest_ok_ts: float,
                  max_future_s: float) -> tuple[ReadingBatch, list[Rejection]]:
    index = model.sensor_index
    rejected: list[Rejection] = []
    sensors: list[int] = []
    stamps: list[float] = []
    values: list[float] = []
    for i, reading in enumerate(readings):
        reason = _reason(reading, index, latest_ok_ts, max_future_s)
        if reason is not None:
            rejected.append(Rejection(i, reason))
            continue
        sensors.append(index[reading[0]])
        stamps.append(float(reading[1]))
        values.append(float(reading[2]))
    batch = ReadingBatch(model, np.array(sensors, dtype=np.int32), np.array(stamps, dtype=np.float64),
                         np.array(values, dtype=np.float64))
    return batch, rejected
