"""The historian: every accepted reading, kept on disk with 1-minute and 1-hour roll-ups.

``HistorianBackend`` is the storage interface (blocking calls; SQLite in ``sqlite.py``,
PostgreSQL in ``postgres.py``). ``Historian`` puts it behind the event loop:

- ``on_readings(batch)`` is the hub's inline ``readings`` subscriber: it appends the batch to
  the write-ahead ``Journal`` (one ``os.write``, no fsync) and queues it for the writer thread.
  O(1) Python work per batch, never blocks on the database.
- ``durable()`` awaits an fdatasync of the journal in a helper thread: ``ingest`` replies wait
  for it, so an ``accepted`` reading survives a power loss. Source readings are not waited for
  (group commit: they become durable with the next ingest sync or flush).
- the writer thread commits the queue every ``flush_interval``, at once when ``flush_rows``
  wait, and as soon as the input goes quiet (no batch for twice its usual gap) with a backlog
  worth a commit waiting (``COMMIT_MIN_ROWS``, and ``COMMIT_READINGS_PER_SENSOR`` per sensor of the
  building); each commit is one transaction, after which it deletes the journal segments it
  has fully stored. The delay exists to gather readings into few large commits: a commit
  writes a chunk row and two roll-up rows on the pages of every sensor it touches and fsyncs
  the database's WAL, so its cost is mostly per commit and per sensor (``docs/sidecar.md``,
  "Speed"). Once the input
  has gone quiet there is nothing left to gather, so a big enough backlog is not kept waiting
  for the timer; a trickle still is.
- at open, journal segments left by a killed process are replayed into the database.

Duplicates: the key is (sensor, ts); a reading with the same sensor and timestamp as an earlier
one replaces it (last write wins, arrival order). Readings older than the raw retention horizon
(``raw_retention_days``, rounded down to the hour) are not stored (counted in ``too_old``).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidecar.readings import ReadingBatch
from sidecar.store.journal import Journal
from sidecar.store.series import Series
from sidecar.store.settings import DAY_S, HistorianSettings

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 600.0
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0)
REPLAY_CHUNK = 500_000
FLUSH_WAIT_S = 10.0
# A backlog worth a commit before the flush interval is up, once the input has gone quiet. A
# commit costs ~20 us of CPU per sensor it touches (a chunk row and two roll-up rows, each on its
# own page, plus their WAL pages) and ~0.2 us per reading, and its transaction and fsync ~5-20 ms.
COMMIT_MIN_ROWS = 5_000
COMMIT_READINGS_PER_SENSOR = 8      # on average, per sensor of the building
# Quiet: no batch for twice the recent typical gap between batches (a moving average), within
# these bounds. A steady source (a simulator tick, a client streaming requests back to back)
# never looks quiet between its own batches, so it keeps filling few large commits.
QUIET_GAPS = 2.0
QUIET_MIN_S = 0.02
QUIET_MAX_S = 1.0


class HistorianBackend(ABC):
    """Blocking storage interface. Writes come from one thread (the writer), reads from one
    other (the reader); a backend keeps a connection for each."""

    name = "?"
    rows = 0  # raw readings stored

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def sensor_keys(self, sensor_ids: Sequence[str]) -> np.ndarray:
        """Integer keys of ``sensor_ids`` (created when missing)."""

    @abstractmethod
    def write(self, sid: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        """Store readings sorted by (sid, ts), no duplicate keys, in one transaction; keep the
        roll-ups right."""

    @abstractmethod
    def purge(self, raw_before: float, rollup_1m_before: float, rollup_1h_before: float) -> int:
        """Apply retention; returns the raw readings removed."""

    @abstractmethod
    def query(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> Series | None:
        """The stored series (None: the sensor was never stored)."""

    @abstractmethod
    def count(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> int: ...


@dataclass(slots=True)
class _Queued:
    generation: int
    sensor: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    segment: int


def dedupe_last_wins(sid: np.ndarray, ts: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (sid, ts) and keep, for each key, the reading that came last."""
    order = np.lexsort((ts, sid))  # stable: equal keys stay in arrival order
    sid, ts, value = sid[order], ts[order], value[order]
    last = np.ones(sid.shape[0], dtype=bool)
    last[:-1] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
    if last.all():
        return sid, ts, value
    return sid[last], ts[last], value[last]


class Historian:
    def __init__(self, backend: HistorianBackend, journal: Journal, settings: HistorianSettings,
                 clock: Callable[[], float] = time.time):
        self.backend = backend
        self.journal = journal
        self.settings = settings
        self.clock = clock
        self._cond = threading.Condition()
        self._queue: list[_Queued] = []
        self._backlog = 0
        self._flush_requested = False
        self._closing = False
        self._commit_rows = settings.flush_rows   # a backlog worth a commit (per configuration)
        self._last_arrival = 0.0
        self._gap_s = QUIET_MIN_S                  # moving average of the gaps between batches
        self._flush_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._models: dict[int, tuple[Any, int, list[str]]] = {}   # id(model) -> (model, generation, ids)
        self._generation = 0
        self._keys: dict[int, np.ndarray] = {}   # generation -> backend keys (writer thread)
        self._ids: dict[int, list[str]] = {}      # generation -> sensor ids
        self._thread: threading.Thread | None = None
        self._sync_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal-sync")
        self._read_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="historian-read")
        self._next_purge = 0.0
        # figures for status
        self.rows_written = 0
        self.too_old = 0
        self.errors = 0
        self.last_error = ""
        self.last_flush_ts: float | None = None
        self.last_flush_ms = 0.0
        self.replayed = 0

    # -- life cycle ------------------------------------------------------------------------
    def open(self) -> None:
        """Open the database, replay what a killed process left in the journal, start writing."""
        self.backend.open()
        self._replay()
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)
        self._thread.start()

    def _replay(self) -> None:
        pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        size = 0
        keys_cache: dict[int, np.ndarray] = {}
        for _, batch in self.journal.replay():
            keys = keys_cache.get(id(batch.sensor_ids))
            if keys is None:
                keys = keys_cache[id(batch.sensor_ids)] = self.backend.sensor_keys(batch.sensor_ids)
            valid = (batch.sensor >= 0) & (batch.sensor < keys.shape[0])
            pending.append((keys[batch.sensor[valid]], batch.ts[valid], batch.value[valid]))
            size += int(valid.sum())
            if size >= REPLAY_CHUNK:
                self._store_arrays(pending)
                pending, size = [], 0
        if pending:
            self._store_arrays(pending)
        if self.replayed:
            log.info("historian: replayed %d readings from the journal", self.replayed)
        self.journal.release_all()

    def close(self) -> None:
        """Store everything queued, then stop (the journal is emptied when all is stored)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._cond:
            stored_all = not self._queue
        if stored_all:
            self.journal.release_all()
        self.journal.close()
        self._sync_pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)
        self.backend.close()

    # -- the inline hub subscriber (event loop thread) -------------------------------------
    def _generation_of(self, model: Any) -> tuple[int, list[str]]:
        known = self._models.get(id(model))
        if known is not None and known[0] is model:
            return known[1], known[2]
        self._generation += 1
        ids = [sensor.sensor_id for sensor in model.sensors]
        self._models[id(model)] = (model, self._generation, ids)
        self._ids[self._generation] = ids
        self._commit_rows = min(self.settings.flush_rows,
                                max(COMMIT_MIN_ROWS, COMMIT_READINGS_PER_SENSOR * len(ids)))
        while len(self._models) > 8:  # hold a few recent models so their id() stays unique
            self._models.pop(next(iter(self._models)))
        return self._generation, ids

    def on_readings(self, batch: ReadingBatch) -> None:
        if len(batch) == 0:
            return
        generation, ids = self._generation_of(batch.model)
        segment, _ = self.journal.append(generation, ids, batch.sensor, batch.ts, batch.value)
        with self._cond:
            self._queue.append(_Queued(generation, batch.sensor, batch.ts, batch.value, segment))
            before = self._backlog
            self._backlog += len(batch)
            now = time.monotonic()
            self._gap_s += 0.2 * (min(now - self._last_arrival, QUIET_MAX_S) - self._gap_s)
            self._last_arrival = now
            if self._backlog >= self.settings.flush_rows or before < self._commit_rows <= self._backlog:
                self._cond.notify()

    async def durable(self) -> None:
        """Wait until every batch appended so far is on disk (power-loss safe)."""
        if not self.settings.fsync_ingest:
            return
        target = self.journal._written
        await asyncio.get_running_loop().run_in_executor(self._sync_pool, self.journal.sync, target)

    async def flush(self, purge: bool = False) -> None:
        """Wait until everything queued so far is committed to the database (and, with
        ``purge``, retention applied now)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if not self._queue and not purge:
                return
            if purge:
                self._next_purge = 0.0
            self._flush_waiters.append((loop, future))
            self._flush_requested = True
            self._cond.notify()
        await future

    async def query(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> Series | None:
        try:  # read your writes; a failing database must not hang the request
            await asyncio.wait_for(self.flush(), FLUSH_WAIT_S)
        except TimeoutError:
            log.warning("history: the historian is behind; answering from what is stored")
        return await asyncio.get_running_loop().run_in_executor(
            self._read_pool, self.backend.query, sensor_id, start_ts, end_ts, resolution)

    async def count(self, sensor_id: str, start_ts: float, end_ts: float, resolution: str) -> int:
        return await asyncio.get_running_loop().run_in_executor(
            self._read_pool, self.backend.count, sensor_id, start_ts, end_ts, resolution)

    def status(self) -> dict[str, Any]:
        return {"backend": self.backend.name, "rows": int(self.backend.rows), "backlog": self._backlog,
                "rows_written": self.rows_written, "too_old": self.too_old, "replayed": self.replayed,
                "last_flush_ts": self.last_flush_ts, "last_flush_ms": round(self.last_flush_ms, 3),
                "journal_unsynced_bytes": self.journal.unsynced_bytes, "errors": self.errors,
                "last_error": self.last_error}

    # -- the writer thread -----------------------------------------------------------------
    def horizon(self) -> float:
        """Readings older than this are beyond raw retention (hour-aligned)."""
        cutoff = self.clock() - self.settings.raw_retention_days * DAY_S
        return math.floor(cutoff / 3600.0) * 3600.0

    def _store_arrays(self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        sid = np.concatenate([p[0] for p in parts])
        ts = np.concatenate([p[1] for p in parts])
        value = np.concatenate([p[2] for p in parts])
        fresh = ts >= self.horizon()
        if not fresh.all():
            self.too_old += int((~fresh).sum())
            sid, ts, value = sid[fresh], ts[fresh], value[fresh]
        sid, ts, value = dedupe_last_wins(sid, ts, value)
        self.backend.write(sid, ts, value)
        self.rows_written += int(sid.shape[0])
        if self._thread is None:
            self.replayed += int(sid.shape[0])

    def _store(self, items: list[_Queued]) -> None:
        parts = []
        for item in items:
            keys = self._keys.get(item.generation)
            if keys is None:
                keys = self._keys[item.generation] = self.backend.sensor_keys(self._ids[item.generation])
            parts.append((keys[item.sensor], item.ts, item.value))
        self._store_arrays(parts)

    def _run(self) -> None:
        interval = self.settings.flush_interval_s
        failures = 0
        next_flush = time.monotonic() + interval
        while True:
            with self._cond:
                while not (self._closing or self._flush_requested or self._backlog >= self.settings.flush_rows):
                    now = time.monotonic()
                    remaining = next_flush - now
                    if remaining <= 0:
                        break
                    if self._backlog >= self._commit_rows:  # worth a commit: wait only while more arrives
                        quiet_s = min(QUIET_MAX_S, max(QUIET_MIN_S, QUIET_GAPS * self._gap_s))
                        quiet_in = self._last_arrival + quiet_s - now
                        if quiet_in <= 0:
                            break
                        remaining = min(remaining, quiet_in)
                    self._cond.wait(remaining)
                items = self._queue
                self._queue = []
                count = self._backlog
                waiters, self._flush_waiters = self._flush_waiters, []
                self._flush_requested = False
                closing = self._closing
            next_flush = time.monotonic() + interval
            if items:
                started = time.perf_counter()
                try:
                    self._store(items)
                except Exception as error:  # noqa: BLE001 - kept and retried, never lost
                    failures += 1
                    self.errors += 1
                    self.last_error = f"{type(error).__name__}: {error}"[:300]
                    log.error("historian write failed (attempt %d, %d readings kept in the journal): %s",
                              failures, count, self.last_error)
                    with self._cond:  # keep them, in order, for the next attempt
                        self._queue = items + self._queue
                        self._flush_waiters = waiters + self._flush_waiters
                    if closing and failures >= len(RETRY_DELAYS_S):
                        log.error("historian closing with %d readings unstored: they stay in the journal and are "
                                  "replayed at the next start", count)
                        self._resolve(waiters)
                        return
                    self._reopen_after(RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S)) - 1])
                    continue
                failures = 0
                with self._cond:
                    self._backlog -= count
                self.last_flush_ms = (time.perf_counter() - started) * 1000.0
                self.last_flush_ts = self.clock()
                self.journal.release(items[-1].segment)
            if time.monotonic() >= self._next_purge:
                self._purge()
            self._resolve(waiters)
            if closing:
                with self._cond:
                    if not self._queue:
                        return

    def _reopen_after(self, delay_s: float) -> None:
        time.sleep(delay_s)
        try:
            self.backend.close()
            self.backend.open()
        except Exception as error:  # noqa: BLE001 - retried on the next failure
            log.warning("historian backend reopen failed: %s", error)

    def _purge(self) -> None:
        self._next_purge = time.monotonic() + PURGE_INTERVAL_S
        now = self.clock()
        try:
            removed = self.backend.purge(self.horizon(),
                                         now - self.settings.rollup_1m_retention_days * DAY_S,
                                         now - self.settings.rollup_1h_retention_days * DAY_S)
            if removed:
                log.info("historian retention: %d raw readings removed", removed)
        except Exception as error:  # noqa: BLE001 - retention is retried next time
            self.errors += 1
            self.last_error = f"retention: {type(error).__name__}: {error}"[:300]
            log.error("historian retention failed: %s", error)

    @staticmethod
    def _resolve(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
        for loop, future in waiters:
            def done(future: asyncio.Future[None] = future) -> None:
                if not future.done():
                    future.set_result(None)
            try:
                loop.call_soon_threadsafe(done)
            except RuntimeError:  # the loop is closed
                pass
