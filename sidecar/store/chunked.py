"""The storage layout both historian backends share (SQLite and PostgreSQL differ only in
their connection and a few SQL words).

Raw readings are stored in chunks: one row per (sensor, run of readings) holding the run's
timestamps and values as little-endian float64 blobs, with its first and last timestamp
(``t0``, ``t1``) and point count. A flush of 100,000 readings of 1,000 sensors writes ~1,000
rows instead of 100,000, and a time-range query reads a few rows and decodes them with
``numpy.frombuffer``. Invariant: the chunks of one sensor never overlap in time and hold
strictly increasing timestamps, so (sensor, ts) is a key.

Writes (one transaction per flush), for the flush's readings sorted by (sensor, ts) with
duplicates already resolved (last write wins):
- fast path, a sensor whose new readings are all newer than its newest stored one: append a
  chunk, and merge the readings' min/max/sum/count into the 1-minute and 1-hour roll-ups
  (upsert, no read);
- slow path, out-of-order or duplicate readings: read the overlapping chunks, merge (the new
  value wins on an equal timestamp), rewrite them, then recompute the affected 1-minute
  buckets from the raw chunks and the affected 1-hour buckets from the 1-minute rows.
Both paths give the same tables for the same readings, whatever their arrival order.
"""
from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from sidecar.store.historian import HistorianBackend
from sidecar.store.series import BUCKET_S, RAW, Aggregates, Series, aggregate_readings, coarsen, group_starts

log = logging.getLogger(__name__)

MAX_CHUNK_POINTS = 4096
ROLLUPS = (("1m", "rollup_1m"), ("1h", "rollup_1h"))


def encode(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, "<f8").tobytes()


def decode(blob: Any) -> np.ndarray:
    return np.frombuffer(bytes(blob), "<f8").astype(np.float64)


class ChunkedBackend(HistorianBackend):
    """Subclasses give ``_connect()`` (a DB-API connection in autocommit mode), ``_begin``/
    ``_commit``/``_rollback``, ``_ddl()`` and ``LEAST``/``GREATEST`` spellings."""

    PLACEHOLDER = "?"
    LEAST = "min"
    GREATEST = "max"

    def __init__(self) -> None:
        self._writer: Any = None
        self._reader: Any = None
        self._reader_lock = threading.Lock()
        self._keys: dict[str, int] = {}
        self._last_t1: dict[int, float] = {}
        self.rows = 0

    # -- dialect ---------------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _ddl(self) -> list[str]: ...

    def _sql(self, text: str) -> str:
        return text if self.PLACEHOLDER == "?" else text.replace("?", self.PLACEHOLDER)

    def _begin(self, conn: Any) -> None:
        conn.execute("BEGIN")

    def _commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def _rollback(self, conn: Any) -> None:
        try:
            conn.execute("ROLLBACK")
        except Exception:  # the connection may be gone; it is reopened on the next try
            log.debug("rollback failed", exc_info=True)

    def _many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cursor = conn.cursor()
            cursor.executemany(self._sql(sql), rows)

    def _all(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = conn.execute(self._sql(sql), params)
        return list(cursor.fetchall())

    # -- life cycle ------------------------------------------------------------------------
    def open(self) -> None:
        self._writer = self._connect()
        self._begin(self._writer)
        try:
            for statement in self._ddl():
                self._writer.execute(statement)
            self._commit(self._writer)
        except Exception:
            self._rollback(self._writer)
            raise
        self._reader = self._connect()
        self._keys = {sensor_id: int(sid) for sid, sensor_id in self._all(self._writer, "SELECT sid, sensor_id FROM sensors")}
        self._last_t1 = {int(sid): float(t1) for sid, t1 in
                         self._all(self._writer, "SELECT sid, max(t1) FROM chunks GROUP BY sid")}
        (total,), = self._all(self._writer, "SELECT coalesce(sum(n), 0) FROM chunks")
        self.rows = int(total)

    def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    log.debug("close failed", exc_info=True)
        self._writer = self._reader = None

    # -- writing (writer thread) -----------------------------------------------------------
    def sensor_keys(self, sensor_ids: Sequence[str]) -> np.ndarray:
        missing = sorted({s for s in sensor_ids if s not in self._keys})
        if missing:
            conn = self._writer
            self._begin(conn)
            try:
                self._many(conn, "INSERT INTO sensors(sensor_id) VALUES (?) ON CONFLICT (sensor_id) DO NOTHING",
                           [(s,) for s in missing])
                self._commit(conn)
            except Exception:
                self._rollback(conn)
                raise
            for sid, sensor_id in self._all(conn, "SELECT sid, sensor_id FROM sensors"):
                self._keys[sensor_id] = int(sid)
        return np.array([self._keys[s] for s in sensor_ids], dtype=np.int64)

    def write(self, sid: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        """Store readings sorted by (sid, ts) without duplicate keys, in one transaction."""
        if sid.shape[0] == 0:
            return
        starts = group_starts(sid)
        ends = np.append(starts[1:], sid.shape[0])
        group_sid = sid[starts]
        newest = np.array([self._last_t1.get(s, -np.inf) for s in group_sid.tolist()])
        fast_group = ts[starts] > newest
        sizes = ends - starts
        fast = np.repeat(fast_group, sizes)
        conn = self._writer
        self._begin(conn)
        try:
            rows_added = 0
            new_t1: dict[int, float] = {}
            if fast_group.any():
                self._many(conn, "INSERT INTO chunks(sid, t0, t1, n, ts, value) VALUES (?, ?, ?, ?, ?, ?)",
                           _append_rows(sid, ts, value, fast, starts, sizes))
                last = ends[fast_group] - 1
                new_t1.update(zip(group_sid[fast_group].tolist(), ts[last].tolist()))
                rows_added += int(sizes[fast_group].sum())
                minute = aggregate_readings(sid[fast], ts[fast], value[fast], BUCKET_S["1m"])
                self._merge_rollup(conn, "rollup_1m", minute)
                self._merge_rollup(conn, "rollup_1h", coarsen(minute, BUCKET_S["1h"]))
            for k in np.flatnonzero(~fast_group).tolist():
                a, b, s = int(starts[k]), int(ends[k]), int(group_sid[k])
                rows_added += self._merge_late(conn, s, ts[a:b], value[a:b], new_t1)
            self._commit(conn)
        except Exception:
            self._rollback(conn)
            raise
        self._last_t1.update(new_t1)
        self.rows += rows_added

    def _merge_rollup(self, conn: Any, table: str, agg: Aggregates) -> None:
        least, greatest = self.LEAST, self.GREATEST
        self._many(conn, f"INSERT INTO {table}(sid, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, ?, ?, ?) "
                   f"ON CONFLICT (sid, bucket) DO UPDATE SET vmin = {least}({table}.vmin, excluded.vmin), "
                   f"vmax = {greatest}({table}.vmax, excluded.vmax), vsum = {table}.vsum + excluded.vsum, "
                   f"n = {table}.n + excluded.n", agg.rows())

    def _replace_rollup(self, conn: Any, table: str, agg: Aggregates) -> None:
        self._many(conn, f"INSERT INTO {table}(sid, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (sid, bucket) DO UPDATE SET vmin = excluded.vmin, vmax = excluded.vmax, "
                   "vsum = excluded.vsum, n = excluded.n", agg.rows())

    def _read_chunks(self, conn: Any, s: int, start: float, end: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Stored readings of sensor ``s`` in chunks overlapping [start, end] (and their count)."""
        rows = self._all(conn, "SELECT ts, value FROM chunks WHERE sid = ? AND t1 >= ? AND t0 <= ? ORDER BY t0",
                         (s, start, end))
        if not rows:
            return np.zeros(0), np.zeros(0), 0
        ts = np.concatenate([decode(r[0]) for r in rows])
        value = np.concatenate([decode(r[1]) for r in rows])
        return ts, value, int(ts.shape[0])

    def _merge_late(self, conn: Any, s: int, ts: np.ndarray, value: np.ndarray, new_t1: dict[int, float]) -> int:
        """Out-of-order or duplicate readings of one sensor: rewrite the chunks they overlap and
        recompute the roll-up buckets they touch. Returns the change in stored readings."""
        lo, hi = float(ts[0]), float(ts[-1])
        old_ts, old_value, old_n = self._read_chunks(conn, s, lo, hi)
        conn.execute(self._sql("DELETE FROM chunks WHERE sid = ? AND t1 >= ? AND t0 <= ?"), (s, lo, hi))
        # New readings after the old ones: a stable sort keeps them last among equal timestamps.
        all_ts = np.concatenate((old_ts, ts))
        all_value = np.concatenate((old_value, value))
        order = np.argsort(all_ts, kind="stable")
        all_ts, all_value = all_ts[order], all_value[order]
        last = np.ones(all_ts.shape[0], dtype=bool)
        last[:-1] = all_ts[1:] != all_ts[:-1]
        all_ts, all_value = all_ts[last], all_value[last]
        rows = []
        for a in range(0, all_ts.shape[0], MAX_CHUNK_POINTS):
            b = min(a + MAX_CHUNK_POINTS, all_ts.shape[0])
            rows.append((s, float(all_ts[a]), float(all_ts[b - 1]), b - a, encode(all_ts[a:b]), encode(all_value[a:b])))
        self._many(conn, "INSERT INTO chunks(sid, t0, t1, n, ts, value) VALUES (?, ?, ?, ?, ?, ?)", rows)
        new_t1[s] = max(self._last_t1.get(s, -np.inf), new_t1.get(s, -np.inf), float(all_ts[-1]))
        # Recompute every 1-minute bucket the new readings touch, from the raw chunks.
        width = BUCKET_S["1m"]
        first_bucket = np.floor(lo / width) * width
        last_bucket_end = np.floor(hi / width) * width + width
        raw_ts, raw_value, _ = self._read_chunks(conn, s, first_bucket, last_bucket_end)
        inside = (raw_ts >= first_bucket) & (raw_ts < last_bucket_end)
        touched = np.unique(np.floor(ts / width) * width)
        minute = aggregate_readings(np.full(int(inside.sum()), s, dtype=np.int64), raw_ts[inside],
                                    raw_value[inside], width)
        minute = _select_buckets(minute, touched)
        self._replace_rollup(conn, "rollup_1m", minute)
        # ... and every 1-hour bucket, from the 1-minute rows.
        hour_w = BUCKET_S["1h"]
        hours = np.unique(np.floor(ts / hour_w) * hour_w)
        rows_1m = self._all(conn, "SELECT bucket, vmin, vmax, vsum, n FROM rollup_1m WHERE sid = ? AND bucket >= ? "
                            "AND bucket < ? ORDER BY bucket", (s, float(hours[0]), float(hours[-1]) + hour_w))
        if rows_1m:
            arr = np.array(rows_1m, dtype=np.float64)
            fine = Aggregates(np.full(arr.shape[0], s, dtype=np.int64), arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3],
                              arr[:, 4].astype(np.int64))
            self._replace_rollup(conn, "rollup_1h", _select_buckets(coarsen(fine, hour_w), hours))
        return int(all_ts.shape[0]) - old_n

    # -- retention (writer thread) ---------------------------------------------------------
    def purge(self, raw_before: float, rollup_1m_before: float, rollup_1h_before: float) -> int:
        conn = self._writer
        self._begin(conn)
        try:
            (removed,), = self._all(conn, "SELECT coalesce(sum(n), 0) FROM chunks WHERE t1 < ?", (raw_before,))
            conn.execute(self._sql("DELETE FROM chunks WHERE t1 < ?"), (raw_before,))
            conn.execute(self._sql("DELETE FROM rollup_1m WHERE bucket < ?"), (rollup_1m_before,))
            conn.execute(self._sql("DELETE FROM rollup_1h WHERE bucket < ?"), (rollup_1h_before,))
            self._commit(conn)
        except Exception:
            self._rollback(conn)
            raise
        self.rows -= int(removed)
        return int(removed)

    # -- reading (reader thread) -----------------------------------------------------------
    def _sid(self, sensor_id: str) -> int | None:
        rows = self._all(self._reader, "SELECT sid FROM sensors WHERE sensor_id = ?", (sensor_id,))
        return int(rows[0][0]) if rows else None

    def query(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> Series | None:
        with self._reader_lock:
            s = self._sid(sensor_id)
            if s is None:
                return None
            if resolution == RAW:
                ts, value, _ = self._read_chunks(self._reader, s, start_ts, end_ts)
                inside = (ts >= start_ts) & (ts <= end_ts)
                return Series(RAW, ts[inside], value[inside])
            table = dict(ROLLUPS)[resolution]
            width = BUCKET_S[resolution]
            rows = self._all(self._reader, f"SELECT bucket, vmin, vmax, vsum, n FROM {table} WHERE sid = ? AND "
                             "bucket >= ? AND bucket <= ? ORDER BY bucket",
                             (s, float(np.floor(start_ts / width) * width), end_ts))
            arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
            return Series.from_aggregates(resolution, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3],
                                          arr[:, 4].astype(np.int64))

    def count(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> int:
        """Points the range holds at ``resolution`` (raw: an upper bound, whole chunks)."""
        with self._reader_lock:
            s = self._sid(sensor_id)
            if s is None:
                return 0
            if resolution == RAW:
                (n,), = self._all(self._reader, "SELECT coalesce(sum(n), 0) FROM chunks WHERE sid = ? AND t1 >= ? "
                                  "AND t0 <= ?", (s, start_ts, end_ts))
                return int(n)
            table = dict(ROLLUPS)[resolution]
            width = BUCKET_S[resolution]
            (n,), = self._all(self._reader, f"SELECT count(*) FROM {table} WHERE sid = ? AND bucket >= ? AND "
                              "bucket <= ?", (s, float(np.floor(start_ts / width) * width), end_ts))
            return int(n)


def _append_rows(sid: np.ndarray, ts: np.ndarray, value: np.ndarray, fast: np.ndarray, starts: np.ndarray,
                 sizes: np.ndarray) -> list[tuple[int, float, float, int, bytes, bytes]]:
    """Chunk rows of the readings marked ``fast`` (whole sensor groups, sorted by (sid, ts)): a
    new chunk at each group's start and every ``MAX_CHUNK_POINTS`` within it. The boundaries
    are computed with numpy and each blob is a slice of one encoded buffer, so the Python work
    is one tuple per chunk row, none per reading."""
    rank = np.arange(sid.shape[0]) - np.repeat(starts, sizes)
    first = np.flatnonzero(fast & (rank % MAX_CHUNK_POINTS == 0))
    group_end = np.repeat(starts + sizes, sizes)
    end = np.minimum(first + MAX_CHUNK_POINTS, group_end[first])
    ts_blob, value_blob = encode(ts), encode(value)
    return [(s, t0, t1, b - a, ts_blob[8 * a:8 * b], value_blob[8 * a:8 * b])
            for s, t0, t1, a, b in zip(sid[first].tolist(), ts[first].tolist(), ts[end - 1].tolist(),
                                       first.tolist(), end.tolist())]


def _select_buckets(agg: Aggregates, buckets: np.ndarray) -> Aggregates:
    keep = np.isin(agg.bucket, buckets)
    return Aggregates(agg.sid[keep], agg.bucket[keep], agg.vmin[keep], agg.vmax[keep], agg.vsum[keep], agg.n[keep])
