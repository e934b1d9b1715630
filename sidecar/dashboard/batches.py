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
