"""Live fan-out of sidecar events to the dashboard's WebSocket clients.

``LiveFeed`` is the plug-in object of the event contract (``on_readings``, ``on_alert``,
``on_health``, ``on_status``), called on the event loop thread: it never blocks and
never awaits. Readings are coalesced (latest value per sensor) and flushed every
``flush_interval_s``, encoded once and shared by every client, so the per-reading cost
does not grow with the number of browsers. Each client has a bounded queue: a client
that falls behind has its queue dropped and receives a fresh snapshot instead, so
memory stays bounded whatever a browser does.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sidecar.dashboard.backend import JSON, DashboardBackend
from sidecar.dashboard.batches import NewestReadings, sensor_ids

log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_S = 0.05
DEFAULT_CLIENT_QUEUE = 256


@dataclass(eq=False)
class ClientChannel:
    """One WebSocket client's bounded outbox."""

    queue: asyncio.Queue[bytes]  # UTF-8 JSON text frames, encoded once for every client
    peer: str = ""
    needs_snapshot: bool = True  # every client starts with a snapshot
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    resyncs: int = 0
    dropped: int = 0
    # The server's fast path: writes a ready WebSocket frame straight to the connection when it
    # is idle and returns True, or returns False (busy, backed up, closed) and the queue is used.
    write_now: Callable[[bytes], bool] | None = None
    sending: bool = False  # the pump is inside a send: frames must queue behind it


class LiveFeed:
    def __init__(self, backend: DashboardBackend, *, flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
                 client_queue: int = DEFAULT_CLIENT_QUEUE) -> None:
        if client_queue < 1:
            raise ValueError("client_queue must be at least 1")
        self.backend = backend
        self.flush_interval_s = flush_interval_s
        self.client_queue = client_queue
        self._clients: set[ClientChannel] = set()
        self._pending = NewestReadings()
        self.keys = SensorKeys()
        self._pending_since = 0.0
        self._flush_handle: asyncio.TimerHandle | None = None
        self.counters = {"messages": 0, "readings_in": 0, "flushes": 0, "snapshots": 0,
                         "resyncs": 0, "dropped_messages": 0}

    # ----- the event contract (event loop thread, never blocks) -----
    def on_readings(self, batch: Any) -> None:
        """``batch``: ``[(sensor_id, ts, value), ...]`` or the pipeline's columnar ReadingBatch."""
        if not self._clients:
            return  # nobody watching: cost nothing
        n = len(batch)
        if n == 0:
            return
        self.counters["readings_in"] += n
        if not len(self._pending):
            self._pending_since = time.time()
        self._pending.add(batch)  # reduced once per flush for every client, not once per batch
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(self.flush_interval_s, self._flush)

    def on_alert(self, alert: JSON) -> None:
        self._broadcast({"type": "alert", "alert": alert})

    def on_health(self, items: list[JSON]) -> None:
        if items:
            self._broadcast({"type": "health", "items": items})

    def on_status(self, status: JSON) -> None:
        self._broadcast({"type": "status", "status": status, "dashboard": self.stats()})

    # ----- clients -----
    def add_client(self, peer: str = "") -> ClientChannel:
        channel = ClientChannel(queue=asyncio.Queue(self.client_queue), peer=peer)
        channel.wake.set()  # the initial snapshot
        self._clients.add(channel)
        return channel

    def remove_client(self, channel: ClientChannel) -> None:
        self._clients.discard(channel)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def stats(self) -> dict[str, int]:
        return {"clients": len(self._clients), **self.counters}

    def snapshot_message(self, reason: str) -> bytes:
        """A fresh full picture, built from the backend at the moment it is sent."""
        snap = self.backend.snapshot()
        latest = {sid: [ts, value] for sid, (ts, value) in self.backend.latest().items()}
        self.counters["snapshots"] += 1
        return encode_json({"type": "snapshot", "reason": reason, "health": snap.get("health", []),
                        "alerts": snap.get("alerts", []), "status": self.backend.status(),
                        "latest": latest, "keys": self.keys.ids, "dashboard": self.stats()}).encode("utf-8")

    async def next_message(self, channel: ClientChannel) -> bytes:
        """The next thing to send to this client: a snapshot when it needs one, else its queue."""
        while True:
            if channel.needs_snapshot:
                channel.needs_snapshot = False
                reason = "lagged" if channel.resyncs else "connect"
                return self.snapshot_message(reason)
            if not channel.queue.empty():
                return channel.queue.get_nowait()
            channel.wake.clear()
            await channel.wake.wait()

    # ----- internals -----
    def _flush(self) -> None:
        self._flush_handle = None
        if not len(self._pending):
            return
        model, which, ts, values = self._pending.drain_indexed()
        if model is not None:  # the pipeline's batches: keys straight from sensor indices
            key_of_index, added = self.keys.of_model(model)
            message = readings_columns(key_of_index[which].tolist(), added, ts, values)
        else:
            message = readings_message(self.keys, which, ts, values)
        self.counters["flushes"] += 1
        # t0: when the oldest reading of this push arrived; t1: when it was sent (latency probes)
        message["t0"], message["t1"] = self._pending_since, time.time()
        self._broadcast(message)

    def _broadcast(self, message: dict[str, Any]) -> None:
        if not self._clients:
            return
        text = encode_json(message).encode("utf-8")
        frame = b""
        self.counters["messages"] += 1
        for channel in self._clients:
            if channel.needs_snapshot:
                continue  # the snapshot it is about to get already includes this
            if channel.write_now is not None and not channel.sending and channel.queue.empty():
                # an idle client: one socket write of the frame framed once for all, no task switch
                frame = frame or text_frame(text)
                if channel.write_now(frame):
                    continue
            try:
                channel.queue.put_nowait(text)
            except asyncio.QueueFull:
                self._lagged(channel)
            channel.wake.set()

    def _lagged(self, channel: ClientChannel) -> None:
        """Drop the backlog (it is superseded by a snapshot) so memory stays bounded."""
        dropped = channel.queue.qsize()
        while not channel.queue.empty():
            channel.queue.get_nowait()
        channel.dropped += dropped
        channel.resyncs += 1
        channel.needs_snapshot = True
        self.counters["dropped_messages"] += dropped
        self.counters["resyncs"] += 1
        log.info("dashboard client %s fell behind: %d messages dropped, snapshot queued", channel.peer, dropped)


class SensorKeys:
    """Small integers standing for sensor ids in readings pushes. A key, once given, never
    changes; a push that uses new keys carries them (``add``) and every snapshot carries them
    all (``keys``), so every page can read every push it receives."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._index: dict[str, int] = {}
        self._model: tuple[Any, np.ndarray] | None = None

    def of(self, ids: list[str]) -> tuple[list[int], list[list[Any]]]:
        """The keys of sensor ``ids`` and the ``[key, sensor_id]`` pairs given out just now."""
        keys, added = [], []
        index = self._index
        for sensor_id in ids:
            key = index.get(sensor_id)
            if key is None:
                key = index[sensor_id] = len(self.ids)
                self.ids.append(sensor_id)
                added.append([key, sensor_id])
            keys.append(key)
        return keys, added

    def of_model(self, model: Any) -> tuple[np.ndarray, list[list[Any]]]:
        """The keys of a building model's sensors by sensor index, worked out once per model,
        and the pairs given out doing so (only the first time)."""
        if self._model is not None and self._model[0] is model:
            return self._model[1], []
        keys, added = self.of(sensor_ids(model).tolist())
        self._model = (model, np.asarray(keys, dtype=np.int64))
        return self._model[1], added


VALUE_SCALE = 10_000  # pushed values are whole ten-thousandths where that is exact enough
_MAX_SCALED = 2.0 ** 53 / VALUE_SCALE  # beyond this a browser's number loses whole units


def readings_message(keys: SensorKeys, ids: list[str], ts: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """``readings_columns`` for readings named by sensor id."""
    return readings_columns(*keys.of(ids), ts, values)


def readings_columns(key_list: list[int], added: list[list[Any]], ts: np.ndarray,
                     values: np.ndarray) -> dict[str, Any]:
    """The newest reading of each sensor as pushed to pages, in columns of whole numbers:
    ``{"type": "readings", "i": [key], "tb": base_ts, "t": [ms after tb], "v": [value x 10^4],
    "x"?: [[row, value]], "add"?: [[key, sensor_id]]}``.

    Sensor ids travel as keys, times as whole milliseconds after ``tb`` and values as whole
    ten-thousandths (``v / 10000``; a chart or a tile shows far less). Values that would lose
    digits that way (below 1 and finer, or huge) travel exactly in ``x`` instead (``v`` is null
    there). Whole numbers are what JSON encodes fastest, and the push is a third of the bytes of
    ``[[id, ts, value]]`` rows: that work is paid once per push for every client, and every
    client's socket write shrinks with it. A non-finite time or value is null."""
    if not key_list:
        return {"type": "readings", "tb": 0.0, "i": [], "t": [], "v": []}
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    # Few numpy calls on purpose: a push touches a couple of hundred numbers, where each call's
    # fixed cost (cold, between pipeline batches) outweighs the arithmetic.
    low, high = float(t.min()), float(t.max())
    finite_t = None
    if not (math.isfinite(low) and math.isfinite(high)):
        finite_t = np.isfinite(t)
        low = float(t[finite_t].min()) if finite_t.any() else 0.0
        t = np.where(finite_t, t, low)
    base = math.floor(low * 1000.0) / 1000.0
    offsets: list[Any] = np.rint((t - base) * 1000.0).astype(np.int64).tolist()
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.abs(v)
        scaled = v * VALUE_SCALE
        whole_scaled = np.rint(scaled)
        whole = ((whole_scaled == scaled) | (size >= 1.0)) & (size < _MAX_SCALED)  # NaN and inf fail
        if whole.all():
            shown: list[Any] = whole_scaled.astype(np.int64).tolist()
            exact: list[list[Any]] = []
        else:
            shown = np.where(whole, whole_scaled, 0.0).astype(np.int64).tolist()
            exact = []
            for i in np.flatnonzero(~whole).tolist():
                shown[i] = None
                if math.isfinite(v[i]):
                    exact.append([i, float(v[i])])
    if finite_t is not None:
        for i in np.flatnonzero(~finite_t).tolist():
            offsets[i] = None
    message: dict[str, Any] = {"type": "readings", "tb": base, "i": key_list, "t": offsets, "v": shown}
    if exact:
        message["x"] = exact
    if added:
        message["add"] = added
    return message


def readings_rows(message: dict[str, Any], key_ids: list[str]) -> list[list[Any]]:
    """``[[sensor_id, ts, value], ...]`` from a readings push (what pages do), after adding the
    push's new keys to ``key_ids`` (a snapshot's ``keys``, kept from push to push)."""
    for key, sensor_id in message.get("add") or ():
        key_ids.extend([""] * (key + 1 - len(key_ids)))
        key_ids[key] = sensor_id
    base = message["tb"]
    exact = {row: value for row, value in message.get("x") or ()}
    return [[key_ids[k], None if t is None else base + t / 1000.0,
             exact.get(j) if v is None else v / VALUE_SCALE]
            for j, (k, t, v) in enumerate(zip(message["i"], message["t"], message["v"]))]


def text_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed, final WebSocket text frame (RFC 6455 5.2), as a server sends."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


def encode_json(message: dict[str, Any]) -> str:
    # allow_nan=False: a NaN slipping in would make the browser's JSON.parse fail for everyone
    try:
        return json.dumps(message, separators=(",", ":"), allow_nan=False, default=_default)
    except ValueError:
        return json.dumps(_without_nan(message), separators=(",", ":"), allow_nan=False, default=_default)


def _without_nan(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nan(item) for item in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
