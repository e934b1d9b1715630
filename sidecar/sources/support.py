"""What the protocol sources (mqtt, modbus, bacnet, http) share: typed settings lookup with
precise errors, exponential back-off, rate-limited logging, a batching reading buffer, JSON
paths, timestamp and value coercion, and the roll-up of per-connection states into the one
state a source reports in ``status.sources``.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import math
import random
import re
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from sidecar.sources.base import DEGRADED, ERROR, RECONNECTING, RUNNING, STARTING, STOPPED, Sink

MAX_FUTURE_S = 300.0        # device timestamps further ahead than this are rejected
MS_EPOCH_THRESHOLD = 1e11   # a numeric timestamp above this is in milliseconds (year 5138 in s)


class SourceConfigError(ValueError):
    """A source's settings (TOML section or sensor URI) are unusable; the message names the key."""


# -- settings ---------------------------------------------------------------------------------
_MISSING = object()


class Settings:
    """A read-only view of one TOML table with typed getters; ``where`` names it in errors
    (``mqtt.brokers.plant``) and ``parent`` supplies inherited defaults."""

    def __init__(self, table: Any, where: str, parent: Settings | None = None):
        if table is None:
            table = {}
        if not isinstance(table, Mapping):
            raise SourceConfigError(f"[{where}] must be a table, got {type(table).__name__}")
        self.table = table
        self.where = where
        self.parent = parent

    def _raw(self, key: str) -> tuple[Any, str]:
        if key in self.table:
            return self.table[key], self.where
        if self.parent is not None:
            return self.parent._raw(key)
        return _MISSING, self.where

    def has(self, key: str) -> bool:
        return self._raw(key)[0] is not _MISSING

    def text(self, key: str, default: str | None = None) -> str | None:
        value, where = self._raw(key)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise SourceConfigError(f"{where}.{key}: expected a string, got {type(value).__name__}")
        return value

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = self.text(key, default) or default
        if value not in options:
            raise SourceConfigError(f"{self._raw(key)[1]}.{key}: must be one of {', '.join(options)}, got {value!r}")
        return value

    def number(self, key: str, default: float, minimum: float | None = None, positive: bool = False) -> float:
        value, where = self._raw(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SourceConfigError(f"{where}.{key}: expected a number, got {value!r}")
        if positive and value <= 0:
            raise SourceConfigError(f"{where}.{key}: must be positive, got {value!r}")
        if minimum is not None and value < minimum:
            raise SourceConfigError(f"{where}.{key}: must be at least {minimum:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        value, where = self._raw(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise SourceConfigError(f"{where}.{key}: expected an integer, got {value!r}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise SourceConfigError(f"{where}.{key}: must be in {minimum}..{maximum}, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value, where = self._raw(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise SourceConfigError(f"{where}.{key}: expected true or false, got {value!r}")
        return value

    def sub(self, key: str, inherit: bool = False) -> Settings:
        """The nested table ``key`` (empty when absent); with ``inherit`` it falls back to this one."""
        value = self.table.get(key, {})
        return Settings(value, f"{self.where}.{key}", self if inherit else None)

    def tables(self, key: str) -> dict[str, Any]:
        value = self.table.get(key, {})
        if not isinstance(value, Mapping):
            raise SourceConfigError(f"[{self.where}.{key}] must be a table of tables, got {type(value).__name__}")
        return dict(value)

    def env_secret(self, key: str) -> str | None:
        """The value of the environment variable named by ``key`` (``password_env = "NAME"``).
        The secret itself never appears in an error message or log."""
        import os
        name = self.text(key)
        if not name:
            return None
        value = os.environ.get(name)
        if value is None:
            raise SourceConfigError(f"{self._raw(key)[1]}.{key}: environment variable {name} is not set")
        return value


# -- back-off and logging ----------------------------------------------------------------------
class Backoff:
    """Exponential back-off with +-20 % jitter, so many devices that failed together do not
    retry together."""

    def __init__(self, minimum_s: float = 0.5, maximum_s: float = 30.0):
        self.minimum_s = minimum_s
        self.maximum_s = maximum_s
        self._next = minimum_s
        self.failures = 0

    def reset(self) -> None:
        self._next = self.minimum_s
        self.failures = 0

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2.0, self.maximum_s)
        self.failures += 1
        return delay * random.uniform(0.8, 1.2)

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())


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


async def idle_on_config_error(source: Any) -> None:
    """A source whose section is unusable reports ``error`` and idles (no restart loop) until it
    is stopped; the log names the offending key. Returns at once when the config is fine."""
    if source.config_error is None:
        return
    source.state = ERROR
    logging.getLogger(type(source).__module__).error("%s source not started: %s", source.scheme,
                                                     source.config_error)
    await asyncio.Event().wait()


def roll_up(states: Iterable[str]) -> str:
    """One source state from its connections' states: all running -> running, some -> degraded,
    none (but trying) -> reconnecting."""
    states = list(states)
    if not states:
        return RUNNING
    if all(s == RUNNING for s in states):
        return RUNNING
    if any(s in (RUNNING, DEGRADED) for s in states):
        return DEGRADED
    if all(s == ERROR for s in states):
        return ERROR
    if all(s == STARTING for s in states):
        return STARTING
    if all(s == STOPPED for s in states):
        return STOPPED
    return RECONNECTING


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
JsonPath = tuple[str | int, ...]
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def compile_path(text: str, where: str = "path") -> JsonPath:
    """``data.items[0].value`` (``$.`` prefix and ``a.0.b`` list indices accepted) -> keys."""
    text = text.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    if not text:
        return ()
    parts: list[str | int] = []
    position = 0
    for match in _PATH_PART.finditer(text):
        gap = text[position:match.start()]
        if gap not in ("", "."):
            raise SourceConfigError(f"{where}: cannot parse JSON path {text!r} near {gap!r}")
        key, index = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(int(key) if key.isdigit() else key)
        position = match.end()
    if text[position:] not in ("",):
        raise SourceConfigError(f"{where}: cannot parse JSON path {text!r}")
    return tuple(parts)


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
