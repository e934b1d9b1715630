"""A sensor's series at one resolution, and the numpy aggregation behind roll-ups.

Roll-up buckets are aligned to the epoch: a 1-minute bucket starts at ``floor(ts / 60) * 60``
(UTC), a 1-hour bucket at ``floor(ts / 3600) * 3600``. Each keeps min, max, sum and count, so
coarser buckets are built exactly from finer ones and the mean is ``sum / count``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_schemas import protocol

RAW = "raw"
AUTO = "auto"
BUCKET_S = protocol.HISTORY_BUCKET_S
RESOLUTIONS = (RAW, "1m", "1h", AUTO)


def bucket_start(ts: np.ndarray, width_s: float) -> np.ndarray:
    return np.floor(ts / width_s) * width_s


def group_starts(*keys: np.ndarray) -> np.ndarray:
    """Start indices of the runs of equal key tuples (keys already sorted together)."""
    n = keys[0].shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


@dataclass(slots=True)
class Aggregates:
    """Per (sensor, bucket) figures, sorted by sensor then bucket."""

    sid: np.ndarray
    bucket: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    vsum: np.ndarray
    n: np.ndarray

    def rows(self) -> list[tuple[int, float, float, float, float, int]]:
        return list(zip(self.sid.tolist(), self.bucket.tolist(), self.vmin.tolist(), self.vmax.tolist(),
                        self.vsum.tolist(), self.n.tolist()))

    def __len__(self) -> int:
        return int(self.sid.shape[0])


def aggregate_readings(sid: np.ndarray, ts: np.ndarray, value: np.ndarray, width_s: float) -> Aggregates:
    """Readings sorted by (sid, ts) -> one aggregate per (sid, bucket)."""
    bucket = bucket_start(ts, width_s)
    starts = group_starts(sid, bucket)
    counts = np.diff(np.append(starts, sid.shape[0]))
    if starts.size == 0:
        empty = np.zeros(0)
        return Aggregates(sid[:0], empty, empty, empty, empty, np.zeros(0, dtype=np.int64))
    return Aggregates(sid[starts], bucket[starts], np.minimum.reduceat(value, starts),
                      np.maximum.reduceat(value, starts), np.add.reduceat(value, starts), counts)


def coarsen(fine: Aggregates, width_s: float) -> Aggregates:
    """Finer aggregates (sorted by sid, bucket) -> coarser buckets of ``width_s``."""
    bucket = bucket_start(fine.bucket, width_s)
    starts = group_starts(fine.sid, bucket)
    if starts.size == 0:
        return fine
    return Aggregates(fine.sid[starts], bucket[starts], np.minimum.reduceat(fine.vmin, starts),
                      np.maximum.reduceat(fine.vmax, starts), np.add.reduceat(fine.vsum, starts),
                      np.add.reduceat(fine.n, starts))


@dataclass(slots=True)
class Series:
    resolution: str
    ts: np.ndarray
    value: np.ndarray
    vmin: np.ndarray | None = None
    vmax: np.ndarray | None = None
    count: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_aggregates(cls, resolution: str, bucket: np.ndarray, vmin: np.ndarray, vmax: np.ndarray,
                        vsum: np.ndarray, n: np.ndarray) -> Series:
        return cls(resolution, bucket, vsum / np.maximum(n, 1), vmin, vmax, n.astype(np.int64))

    def limited(self, max_points: int) -> Series:
        """At most ``max_points`` points: consecutive points merged in equal groups (min, max,
        count kept exact, the value is the count-weighted mean, ts the group's first)."""
        n = len(self)
        if n <= max_points:
            return self
        size = -(-n // max_points)
        starts = np.arange(0, n, size)
        count = self.count if self.count is not None else np.ones(n, dtype=np.int64)
        vmin = self.vmin if self.vmin is not None else self.value
        vmax = self.vmax if self.vmax is not None else self.value
        total = np.add.reduceat(self.value * count, starts)
        counts = np.add.reduceat(count, starts)
        return Series(self.resolution, self.ts[starts], total / np.maximum(counts, 1),
                      np.minimum.reduceat(vmin, starts), np.maximum.reduceat(vmax, starts), counts)

    def to_wire(self, sensor_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"sensor_id": sensor_id, "resolution": self.resolution,
                                "ts": self.ts.tolist(), "value": self.value.tolist()}
        if self.vmin is not None and self.vmax is not None and self.count is not None:
            body["min"] = self.vmin.tolist()
            body["max"] = self.vmax.tolist()
            body["count"] = self.count.tolist()
        return body


def series_from_readings(ts: np.ndarray, value: np.ndarray, resolution: str) -> Series:
    """Raw readings of one sensor (sorted by ts) at ``resolution`` (raw, 1m or 1h)."""
    if resolution == RAW:
        return Series(RAW, ts, value)
    agg = aggregate_readings(np.zeros(ts.shape[0], dtype=np.int64), ts, value, BUCKET_S[resolution])
    return Series.from_aggregates(resolution, agg.bucket, agg.vmin, agg.vmax, agg.vsum, agg.n)
