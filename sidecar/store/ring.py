"""Per-sensor ring buffers of fixed memory: the last ``capacity`` readings of every sensor.

One preallocated ``(sensors, capacity)`` float64 array of timestamps and one of values per
building, plus a head index and a fill count per sensor: 16 bytes per buffered point plus 16
bytes per sensor, allocated once (``nbytes``), never grown. Appending a whole ``ReadingBatch``
is a handful of vectorised passes (a stable sort by sensor, a rank within each sensor's group,
one scatter per array); no Python work per reading.

Readings are kept in arrival order; queries return them sorted by timestamp (a late reading
appears at its place in time). Duplicates (same sensor and timestamp) are all kept here: the
historian is where duplicates are resolved.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_CAPACITY = 1024


class SensorRing:
    def __init__(self, sensors: int, capacity: int = DEFAULT_CAPACITY):
        if capacity < 1:
            raise ValueError("ring capacity must be at least 1")
        self.capacity = int(capacity)
        self.sensors = int(sensors)
        self.ts = np.zeros((self.sensors, self.capacity), dtype=np.float64)
        self.value = np.zeros((self.sensors, self.capacity), dtype=np.float64)
        self.head = np.zeros(self.sensors, dtype=np.int64)    # next slot to write
        self.count = np.zeros(self.sensors, dtype=np.int64)   # filled slots (<= capacity)

    @property
    def nbytes(self) -> int:
        return int(self.ts.nbytes + self.value.nbytes + self.head.nbytes + self.count.nbytes)

    @property
    def bytes_per_point(self) -> float:
        """Memory per buffered point when every ring is full (what the buffer costs)."""
        points = self.sensors * self.capacity
        return self.nbytes / points if points else 0.0

    def append(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray,
               order: np.ndarray | None = None) -> None:
        """Append a batch. ``order`` (optional) is any permutation that groups the batch by
        sensor while keeping each sensor's readings in the order they should be written (e.g.
        the pipeline's lexsort by (sensor, ts)); without it a stable sort by sensor is used."""
        n = int(sensor.shape[0])
        if n == 0:
            return
        if order is None:
            order = np.argsort(sensor, kind="stable")
        s = sensor[order]
        starts_mask = np.empty(n, dtype=bool)
        starts_mask[0] = True
        np.not_equal(s[1:], s[:-1], out=starts_mask[1:])
        starts = np.flatnonzero(starts_mask)
        sizes = np.diff(np.append(starts, n))
        rank = np.arange(n) - np.repeat(starts, sizes)
        group = s[starts]
        # Of a group longer than the ring only its last `capacity` readings survive: skip the
        # others so no slot is written twice in one scatter.
        keep = rank >= np.repeat(sizes, sizes) - self.capacity
        if not keep.all():
            order, s, rank = order[keep], s[keep], rank[keep]
        slot = (self.head[s] + rank) % self.capacity
        self.ts[s, slot] = ts[order]
        self.value[s, slot] = value[order]
        self.head[group] = (self.head[group] + sizes) % self.capacity
        self.count[group] = np.minimum(self.count[group] + sizes, self.capacity)

    def _row(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        count = int(self.count[index])
        start = (int(self.head[index]) - count) % self.capacity
        slots = (start + np.arange(count)) % self.capacity
        ts, value = self.ts[index, slots], self.value[index, slots]
        order = np.argsort(ts, kind="stable")
        return ts[order], value[order]

    def last(self, index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` newest readings (by timestamp) of sensor ``index``, oldest first."""
        ts, value = self._row(index)
        return (ts[-n:], value[-n:]) if n > 0 else (ts[:0], value[:0])

    def between(self, index: int, start_ts: float, end_ts: float) -> tuple[np.ndarray, np.ndarray]:
        """Buffered readings of sensor ``index`` with ``start_ts <= ts <= end_ts``, by time."""
        ts, value = self._row(index)
        lo, hi = np.searchsorted(ts, start_ts, "left"), np.searchsorted(ts, end_ts, "right")
        return ts[lo:hi], value[lo:hi]

    def oldest_ts(self, index: int) -> float:
        """The oldest buffered timestamp of sensor ``index`` (inf when empty)."""
        ts, _ = self._row(index)
        return float(ts[0]) if ts.size else float("inf")

    def carry_over(self, old: SensorRing, old_ids: Sequence[str], new_ids: Sequence[str]) -> None:
        """Copy the buffered readings of sensors present in both configurations (by sensor id)
        from ``old`` into this (fresh) ring."""
        position = {sensor_id: i for i, sensor_id in enumerate(old_ids)}
        pairs = [(position[sid], j) for j, sid in enumerate(new_ids) if sid in position]
        if not pairs:
            return
        src = np.array([p[0] for p in pairs])
        dst = np.array([p[1] for p in pairs])
        keep = min(self.capacity, old.capacity)
        for a, b in zip(src.tolist(), dst.tolist()):
            ts, value = old.last(a, keep)
            self.ts[b, :ts.size] = ts
            self.value[b, :ts.size] = value
            self.head[b] = ts.size % self.capacity
            self.count[b] = ts.size
