"""Append-only write-ahead journal of readings batches: what makes an ``accepted`` reply true.

Every readings batch is appended to the current segment file (``seg-<n>.log``) the moment it
enters the pipeline, before the historian's writer thread has stored it. ``sync()`` makes the
segment durable (fdatasync); an ``ingest`` reply waits for it. The historian deletes a segment
once everything in it is committed to the database, and replays leftover segments at start.

Guarantees:
- process killed (``kill -9``, crash): every batch appended before the kill is in the OS page
  cache, hence in the file, and is replayed at the next start: nothing is lost.
- power loss / OS crash: batches whose ``sync()`` finished are on disk (every ingest reply);
  source readings appended since the last sync may be lost (at most one flush interval).

Record: ``RPJ`` + kind byte, payload length (u32), CRC-32 of the payload (u32), payload.
kind ``D`` (dictionary): generation (u32) + the sensor ids of one configuration, UTF-8, ``\\n``
separated; every segment repeats the dictionaries it uses, so a segment stands alone.
kind ``B`` (batch): generation (u32) + count (u32) + sensor indices (int32) + ts (float64) +
values (float64), little-endian. Replay stops at the first torn or corrupt record (a write cut
by the kill: never acknowledged).
"""
from __future__ import annotations

import logging
import os
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

HEADER = struct.Struct("<3scII")
MAGIC = b"RPJ"
DICTIONARY = b"D"
BATCH = b"B"
GEN = struct.Struct("<I")
GEN_COUNT = struct.Struct("<II")


@dataclass(slots=True)
class JournalBatch:
    sensor_ids: list[str]   # the configuration's sensor ids, by index
    sensor: np.ndarray
    ts: np.ndarray
    value: np.ndarray


def _fsync(fd: int) -> None:
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # Windows: _commit
        os.fsync(fd)


def _sync_directory(path: Path) -> None:
    """Make a new file's directory entry durable (POSIX; Windows has no directory handles)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Thread-safe: ``append`` runs on the event loop, ``sync`` in a helper thread, ``release``
    in the historian's writer thread."""

    def __init__(self, directory: Path, segment_bytes: int = 16 << 20):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        existing = self.segments()
        self._number = (self._segment_number(existing[-1]) + 1) if existing else 1
        self._fd = -1
        self._size = 0
        self._written = 0        # bytes appended since start (all segments)
        self._synced = 0         # of which known durable
        self._written_generations: set[int] = set()   # dictionaries already in the current segment
        self._unsynced_fds: list[int] = []        # rotated-out segments still to sync and close
        self.appended_batches = 0

    # -- files ---------------------------------------------------------------------------
    @staticmethod
    def _segment_number(path: Path) -> int:
        return int(path.stem.split("-", 1)[1])

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("seg-*.log"), key=self._segment_number)

    def _path(self, number: int) -> Path:
        return self.directory / f"seg-{number:012d}.log"

    def _open_segment(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        self._fd = os.open(self._path(self._number), flags, 0o600)
        self._size = 0
        self._written_generations = set()
        _sync_directory(self.directory)

    @property
    def current_segment(self) -> int:
        return self._number

    @property
    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.segments() if p.exists())

    # -- writing -------------------------------------------------------------------------
    def _record(self, kind: bytes, payload: bytes) -> bytes:
        return HEADER.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload

    def append(self, generation: int, sensor_ids: list[str], sensor: np.ndarray, ts: np.ndarray,
               value: np.ndarray) -> tuple[int, int]:
        """Append one batch: ``sensor`` indexes ``sensor_ids``, the ids of the configuration the
        caller numbered ``generation``. Returns (segment number, bytes appended so far) for
        ``sync`` and ``release``."""
        n = int(sensor.shape[0])
        body = b"".join((GEN_COUNT.pack(generation, n), np.ascontiguousarray(sensor, "<i4").tobytes(),
                         np.ascontiguousarray(ts, "<f8").tobytes(), np.ascontiguousarray(value, "<f8").tobytes()))
        with self._lock:
            if self._fd < 0 or self._size >= self.segment_bytes:
                self._rotate()
            parts = []
            if generation not in self._written_generations:
                self._written_generations.add(generation)
                names = "\n".join(sensor_ids).encode("utf-8")
                parts.append(self._record(DICTIONARY, GEN.pack(generation) + names))
            parts.append(self._record(BATCH, body))
            data = b"".join(parts)
            os.write(self._fd, data)
            self._size += len(data)
            self._written += len(data)
            self.appended_batches += 1
            return self._number, self._written

    def _rotate(self) -> None:
        if self._fd >= 0:
            self._unsynced_fds.append(self._fd)
            self._number += 1
        self._open_segment()

    def sync(self, upto: int | None = None) -> None:
        """Make everything appended so far (or at least up to byte ``upto``) durable. Concurrent
        callers share one fdatasync (group commit)."""
        with self._sync_lock:
            if upto is not None and self._synced >= upto:
                return
            with self._lock:
                target = self._written
                fds, self._unsynced_fds = self._unsynced_fds, []
                current = self._fd
            for fd in fds:
                _fsync(fd)
                os.close(fd)
            if current >= 0:
                _fsync(current)
            self._synced = max(self._synced, target)

    @property
    def unsynced_bytes(self) -> int:
        return self._written - self._synced

    def release(self, below_segment: int) -> None:
        """Delete the segments numbered below ``below_segment`` (their batches are committed)."""
        for path in self.segments():
            if self._segment_number(path) < below_segment:
                self._delete(path)

    def release_all(self) -> None:
        """Everything appended is committed: start a fresh segment and delete the rest."""
        with self._lock:
            if self._fd >= 0:
                self._unsynced_fds.append(self._fd)
                self._fd = -1
                self._number += 1
            fds, self._unsynced_fds = self._unsynced_fds, []
        for fd in fds:
            os.close(fd)
        self.release(self._number)

    def _delete(self, path: Path) -> None:
        with self._lock:  # never delete the segment being appended to
            if self._fd >= 0 and self._segment_number(path) >= self._number:
                return
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:  # e.g. Windows: still open elsewhere; retried next time
            log.warning("journal segment %s not deleted yet: %s", path.name, error)

    def close(self) -> None:
        with self._lock:
            fds = self._unsynced_fds + ([self._fd] if self._fd >= 0 else [])
            self._unsynced_fds, self._fd = [], -1
        for fd in fds:
            try:
                _fsync(fd)
            finally:
                os.close(fd)

    # -- replay --------------------------------------------------------------------------
    def replay(self) -> Iterator[tuple[int, JournalBatch]]:
        """Every intact batch of the segments on disk, oldest first, with its segment number."""
        for path in self.segments():
            number = self._segment_number(path)
            data = path.read_bytes()
            dictionaries: dict[int, list[str]] = {}
            offset = 0
            while offset < len(data):
                if len(data) - offset < HEADER.size:
                    log.warning("journal %s: torn record at byte %d ignored (never acknowledged)", path.name, offset)
                    break
                magic, kind, length, crc = HEADER.unpack_from(data, offset)
                payload = data[offset + HEADER.size: offset + HEADER.size + length]
                if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
                    log.warning("journal %s: torn or corrupt record at byte %d ignored (never acknowledged)",
                                path.name, offset)
                    break
                offset += HEADER.size + length
                if kind == DICTIONARY:
                    (generation,) = GEN.unpack_from(payload)
                    text = payload[GEN.size:].decode("utf-8")
                    dictionaries[generation] = text.split("\n") if text else []
                elif kind == BATCH:
                    generation, n = GEN_COUNT.unpack_from(payload)
                    at = GEN_COUNT.size
                    sensor = np.frombuffer(payload, "<i4", n, at).astype(np.int32)
                    ts = np.frombuffer(payload, "<f8", n, at + 4 * n).astype(np.float64)
                    value = np.frombuffer(payload, "<f8", n, at + 12 * n).astype(np.float64)
                    if generation not in dictionaries:
                        log.warning("journal %s: batch without its dictionary ignored", path.name)
                        continue
                    yield number, JournalBatch(dictionaries[generation], sensor, ts, value)
