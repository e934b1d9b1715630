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
from sidecar.dashboard.batches import NewestReadings

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
                        "latest": latest, "dashboard": self.stats()}).encode("utf-8")

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
        readings = display_readings(*self._pending.drain_columns())
        self.counters["flushes"] += 1
        # t0: when the oldest reading of this push arrived; t1: when it was sent (latency probes)
        self._broadcast({"type": "readings", "t0": self._pending_since, "t1": time.time(), "r": readings})

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


def display_readings(ids: list[str], ts: np.ndarray, values: np.ndarray) -> list[list[Any]]:
    """``[[sensor_id, ts, value], ...]`` as pushed to pages: timestamps to the millisecond and
    values of magnitude 1 or more to four decimals (a chart or a tile shows far less), which
    makes the push a quarter shorter and JSON-encoding it (once per push) a third cheaper.
    Values below 1 keep every digit, so small quantities never round to zero."""
    if not ids:
        return []
    t = np.round(np.asarray(ts, dtype=np.float64), 3)
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        v = np.where(np.abs(v) >= 1.0, np.round(v, 4), v)
    return list(map(list, zip(ids, t.tolist(), v.tolist())))


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
