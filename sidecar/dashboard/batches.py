"""Reading batches as the dashboard sees them: the newest reading per sensor.

The event contract hands ``on_readings`` either a list of ``(sensor_id, ts, value)``
tuples or the pipeline's columnar ``ReadingBatch`` (numpy arrays of sensor indices,
timestamps and values plus the ``model`` that names the indices). Both reduce to the
newest reading of each sensor in the batch; for a columnar batch that is done in numpy,
so a 10,000-reading batch costs one Python step per *sensor*, not per reading.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def newest_per_sensor(batch: Any) -> Iterable[tuple[str, float, float]]:
    sensor = getattr(batch, "sensor", None)
    if sensor is None:
        return batch  # tuples: the caller's dict assignment keeps the last of each sensor
    n = int(sensor.shape[0])
    if n == 0:
        return ()
    sensors = batch.model.sensors
    # the last occurrence of each sensor index: first occurrence in the reversed array
    unique, first_in_reversed = np.unique(sensor[::-1], return_index=True)
    last = n - 1 - first_in_reversed
    return [(sensors[i].sensor_id, t, v) for i, t, v in
            zip(unique.tolist(), batch.ts[last].tolist(), batch.value[last].tolist())]


class NewestReadings:
    """Reading batches collected as they arrive and reduced to the newest reading per sensor
    only when read (``drain``): adding a batch is one list append, so a 10 ms batch costs
    nothing per reading, and the reduction runs once per read over everything collected
    (one numpy pass for columnar batches of one model, the common case), not once per batch."""

    def __init__(self) -> None:
        self._batches: list[Any] = []

    def __len__(self) -> int:
        """How many batches wait to be reduced."""
        return len(self._batches)

    def add(self, batch: Any) -> None:
        self._batches.append(batch)

    def drain(self) -> list[tuple[str, float, float]]:
        """The newest reading of each sensor over every batch added since the last drain."""
        ids, ts, values = self.drain_columns()
        return list(zip(ids, ts.tolist(), values.tolist()))

    def drain_columns(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``drain`` as columns: sensor ids, and their newest timestamps and values as arrays."""
        model, which, ts, values = self.drain_indexed()
        if model is not None:
            return sensor_ids(model)[which].tolist(), ts, values
        return which, ts, values

    def drain_indexed(self) -> tuple[Any, Any, np.ndarray, np.ndarray]:
        """``drain`` as ``(model, sensor indices, ts, values)`` when every batch is columnar and of
        one model (the pipeline's), so no sensor id need be touched; else ``(None, ids, ts, values)``."""
        batches, self._batches = self._batches, []
        if not batches:
            return None, [], np.empty(0), np.empty(0)
        model = getattr(batches[0], "model", None)
        if model is not None and all(getattr(b, "model", None) is model for b in batches):
            if len(batches) == 1:
                b = batches[0]
                return (model, *_newest_indexed(model, b.sensor, b.ts, b.value))
            return (model, *_newest_indexed(model, np.concatenate([b.sensor for b in batches]),
                                            np.concatenate([b.ts for b in batches]),
                                            np.concatenate([b.value for b in batches])))
        newest: dict[str, tuple[float, float]] = {}  # tuples, or batches of several models
        for batch in batches:
            for sensor_id, ts, value in newest_per_sensor(batch):
                newest[sensor_id] = (ts, value)
        return (None, list(newest), np.array([t for t, _ in newest.values()], dtype=np.float64),
                np.array([v for _, v in newest.values()], dtype=np.float64))


_ID_CACHE: dict[int, tuple[Any, np.ndarray]] = {}


def sensor_ids(model: Any) -> np.ndarray:
    """The model's sensor ids as an object array (index -> id), built once per model."""
    cached = _ID_CACHE.get(id(model))
    if cached is None or cached[0] is not model:
        _ID_CACHE.clear()  # one building at a time: never hold an old model alive
        cached = _ID_CACHE[id(model)] = (model, np.array([s.sensor_id for s in model.sensors], dtype=object))
    return cached[1]


def _newest_indexed(model: Any, sensor: np.ndarray, ts: np.ndarray,
                    value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last reading of each sensor index (the highest position at which it occurs):
    ``(sensor indices, ts, values)``."""
    last = np.full(len(model.sensors), -1, dtype=np.int64)
    np.maximum.at(last, sensor, np.arange(sensor.shape[0], dtype=np.int64))
    hit = np.flatnonzero(last >= 0)
    at = last[hit]
    return hit, ts[at], value[at]
