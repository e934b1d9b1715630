"""The ``history`` request: a sensor's series at a chosen resolution.

Body ``{sensor_id, start_ts?, end_ts?, resolution?: raw|1m|1h|auto, max_points?}``; defaults:
the last hour, ``auto``, 10,000 points. ``auto`` picks the finest resolution whose points in
the range fit ``max_points``; any series longer than ``max_points`` is merged in equal groups of
consecutive points (min/max/count exact, value the weighted mean). Served by the historian, or
by the in-memory ring buffers when the historian is off (``backend = "none"``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.errors import RequestError
from sidecar.store.historian import Historian
from sidecar.store.ring import SensorRing
from sidecar.store.series import AUTO, BUCKET_S, RAW, Series, series_from_readings

DEFAULT_SPAN_S = 3600.0
DEFAULT_MAX_POINTS = 10_000
MAX_POINTS = 100_000


def _bad(field: str, message: str) -> RequestError:
    return RequestError(protocol.E_BAD_REQUEST, f"body.{field}: {message}", {"field": f"body.{field}"})


def history_range(body: dict[str, Any], now: float) -> tuple[float, float, str, int]:
    end = float(body["end_ts"]) if body.get("end_ts") is not None else now
    start = float(body["start_ts"]) if body.get("start_ts") is not None else end - DEFAULT_SPAN_S
    if not (math.isfinite(start) and math.isfinite(end)):
        raise _bad("start_ts", "timestamps must be finite")
    if start > end:
        raise _bad("start_ts", f"start_ts {start} is after end_ts {end}")
    resolution = body.get("resolution") or AUTO
    if resolution not in (RAW, AUTO, *BUCKET_S):
        raise _bad("resolution", f"{resolution!r} is not one of raw, 1m, 1h, auto")
    max_points = body.get("max_points")
    max_points = DEFAULT_MAX_POINTS if max_points is None else int(max_points)
    if max_points < 1:
        raise _bad("max_points", "must be at least 1")
    return start, end, resolution, min(max_points, MAX_POINTS)


async def answer_history(body: dict[str, Any], historian: Historian | None, ring: SensorRing | None,
                         sensor_index: dict[str, int], now: float) -> dict[str, Any]:
    sensor_id = body["sensor_id"]
    start, end, resolution, max_points = history_range(body, now)
    series: Series | None
    if historian is not None:
        if resolution == AUTO:
            await historian.flush()
            resolution = "1h"
            for candidate in (RAW, "1m"):
                if await historian.count(sensor_id, start, end, candidate) <= max_points:
                    resolution = candidate
                    break
        series = await historian.query(sensor_id, start, end, resolution)
    else:
        index = sensor_index.get(sensor_id)
        series = None
        if index is not None and ring is not None and index < ring.sensors:
            ts, value = ring.between(index, start, end)
            if resolution == AUTO:
                resolution = RAW if ts.size <= max_points else "1m"
                if resolution == "1m" and (end - start) / 60.0 > max_points:
                    resolution = "1h"
            series = series_from_readings(ts, value, resolution)
    if series is None:
        if sensor_id not in sensor_index:
            raise RequestError(protocol.E_BAD_REQUEST, f"unknown sensor {sensor_id!r}: not configured and never "
                               "stored", {"field": "body.sensor_id", "sensor_id": sensor_id})
        series = Series(RAW if resolution == AUTO else resolution, np.zeros(0), np.zeros(0))
    return series.limited(max_points).to_wire(sensor_id)
