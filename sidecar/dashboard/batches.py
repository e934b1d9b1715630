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
    (one numpy pass per run of columnar batches of one model), not once per batch."""

    def __init__(self) -> None:
        self._batches: list[Any] = []

    def __len__(self) -> int:
        """How many batches wait to be reduced."""
        return len(self._batches)

    def add(self, batch: Any) -> None:
        self._batches.append(batch)

    def drain(self) -> list[tuple[str, float, float]]:
        """The newest reading of each sensor over every batch added since the last drain."""
        batches, self._batches = self._batches, []
        newest: dict[str, tuple[float, float]] = {}
        run: list[Any] = []
        for batch in batches:
            if run and getattr(batch, "model", None) is not run[0].model:
                _fold_columnar(run, newest)
                run = []
            if getattr(batch, "sensor", None) is not None:
                run.append(batch)
                continue
            for sensor_id, ts, value in batch:  # tuples: later ones replace earlier ones
                newest[sensor_id] = (ts, value)
        if run:
            _fold_columnar(run, newest)
        return [(sensor_id, ts, value) for sensor_id, (ts, value) in newest.items()]


def _fold_columnar(run: list[Any], newest: dict[str, tuple[float, float]]) -> None:
    if len(run) == 1:
        merged = run[0]
    else:
        merged = _Columns(run[0].model, np.concatenate([b.sensor for b in run]),
                          np.concatenate([b.ts for b in run]), np.concatenate([b.value for b in run]))
    for sensor_id, ts, value in newest_per_sensor(merged):
        newest[sensor_id] = (ts, value)


class _Columns:
    __slots__ = ("model", "sensor", "ts", "value")

    def __init__(self, model: Any, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        self.model, self.sensor, self.ts, self.value = model, sensor, ts, value
