"""What the protocol sources (mqtt, modbus, bacnet, http) share besides their skeleton
(``linked.LinkedSource``): rate-limited logging, a batching reading buffer, JSON path lookup,
timestamp and value coercion.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import math
import time
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from sidecar.settings import SettingsError
from sidecar.sources.base import Sink
from sidecar.sources.settings import JsonPath, compile_path

__all__ = ["MAX_FUTURE_S", "BadValue", "Clock", "JsonPath", "RateLimitedLog", "ReadingBuffer", "SourceConfigError",
           "as_timestamp", "as_value", "compile_path", "excerpt", "format_path", "lookup"]

MAX_FUTURE_S = 300.0        # device timestamps further ahead than this are rejected
MS_EPOCH_THRESHOLD = 1e11   # a numeric timestamp above this is in milliseconds (year 5138 in s)


# A source's settings (TOML section or sensor URI) are unusable; the message names the key.
SourceConfigError = SettingsError


# -- logging -------------------------------------------------------------------------------------
class RateLimitedLog:
    """Logs a given kind of problem at most once per ``interval_s`` per key, and says how many
    similar ones it held back: a device flooding bad payloads must not flood the log."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0):
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return
        held = self._held.pop(key, 0)
        self._last[key] = now
        if held:
            self.logger.warning(message + " (%d similar held back)", *args, held)
        else:
            self.logger.warning(message, *args)


# -- readings ----------------------------------------------------------------------------------
class ReadingBuffer:
    """Collects readings one by one (typed arrays, no per-reading objects) and hands them to the
    sink as numpy arrays, either when ``max_readings`` are waiting or when ``flush`` is called
    (the owner calls it every few milliseconds)."""

    def __init__(self, sink: Sink, max_readings: int = 2000):
        self.sink = sink
        self.max_readings = max_readings
        self._sensor = array("i")
        self._ts = array("d")
        self._value = array("d")
        self.flushed = 0

    def __len__(self) -> int:
        return len(self._sensor)

    def add(self, sensor: int, ts: float, value: float) -> None:
        self._sensor.append(sensor)
        self._ts.append(ts)
        self._value.append(value)
        if len(self._sensor) >= self.max_readings:
            self.flush()

    def flush(self) -> None:
        if not self._sensor:
            return
        sensor = np.frombuffer(self._sensor, dtype=np.int32).copy()
        ts = np.frombuffer(self._ts, dtype=np.float64).copy()
        value = np.frombuffer(self._value, dtype=np.float64).copy()
        self._sensor = array("i")
        self._ts = array("d")
        self._value = array("d")
        self.flushed += len(sensor)
        self.sink(sensor, ts, value)

    async def flush_every(self, interval_s: float) -> None:
        """Run until cancelled, flushing what arrived in each interval."""
        while True:
            await asyncio.sleep(interval_s)
            self.flush()


class BadValue(ValueError):
    """A payload, field or register value that cannot be a reading; the message says why."""


def as_value(raw: Any) -> float:
    """A finite float from a number, a numeric string or a boolean."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, (str, bytes)):
        try:
            value = float(raw)
        except ValueError:
            raise BadValue(f"not a number: {_excerpt(raw)}") from None
    else:
        raise BadValue(f"expected a number, got {type(raw).__name__}")
    if not math.isfinite(value):
        raise BadValue(f"non-finite value {value}")
    return value


def as_timestamp(raw: Any, now: float) -> float:
    """Seconds since the epoch from seconds, milliseconds or an ISO 8601 string; rejects times
    far in the future (a device clock gone wrong must not hold an alert open)."""
    if isinstance(raw, bool):
        raise BadValue("timestamp is a boolean")
    if isinstance(raw, (int, float)):
        ts = float(raw)
        if ts > MS_EPOCH_THRESHOLD:
            ts /= 1000.0
    elif isinstance(raw, str):
        try:
            parsed = _dt.datetime.fromisoformat(raw)
        except ValueError:
            raise BadValue(f"timestamp not ISO 8601: {_excerpt(raw)}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.UTC)
        ts = parsed.timestamp()
    else:
        raise BadValue(f"timestamp must be a number or ISO 8601 string, got {type(raw).__name__}")
    if not math.isfinite(ts) or ts <= 0:
        raise BadValue(f"timestamp {raw!r} out of range")
    if ts > now + MAX_FUTURE_S:
        raise BadValue(f"timestamp {ts:.3f} is {ts - now:.0f} s in the future")
    return ts


def _excerpt(raw: Any, limit: int = 60) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return repr(text if len(text) <= limit else text[:limit] + "...")


excerpt = _excerpt

# -- JSON paths ----------------------------------------------------------------------------------
def lookup(document: Any, path: JsonPath) -> Any:
    """The value at ``path``; raises BadValue naming the first missing step."""
    node = document
    for step in path:
        if isinstance(step, int) and isinstance(node, list):
            if step >= len(node):
                raise BadValue(f"JSON path index [{step}] beyond a list of {len(node)}")
            node = node[step]
        elif isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        else:
            raise BadValue(f"JSON path step {step!r} not found")
    return node


def format_path(path: JsonPath) -> str:
    return ".".join(str(p) for p in path) or "$"


Clock = Callable[[], float]
