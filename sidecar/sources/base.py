"""The one small interface every reading source implements, and the registry by URI scheme.

A source is created for one building with the indices of the sensors bound to its scheme; it
runs as its own asyncio task until cancelled and hands readings to ``sink`` as arrays (sensor
indices, timestamps, values). ``SourceRunner`` isolates each source: an exception marks it
``error`` and restarts it with exponential back-off, so one broken device never stalls the
others. Later parts add ``mqtt``, ``modbus``, ``bacnet``, ``http`` by registering a class.
"""
from __future__ import annotations

import abc
import asyncio
import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from sidecar.backoff import Backoff
from sidecar.model import BuildingModel, Sensor

log = logging.getLogger(__name__)

# Source states reported in `status.sources`.
STARTING, RUNNING, DEGRADED, RECONNECTING, ERROR, STOPPED = (
    "starting", "running", "degraded", "reconnecting", "error", "stopped")

STOP_TIMEOUT_S = 5.0

Sink = Callable[[np.ndarray, np.ndarray, np.ndarray], None]
S = TypeVar("S")


class Source(abc.ABC, Generic[S]):
    """``settings`` is the source's own parsed config section (``SimulatorConfig``,
    ``MqttSettings``...; see ``sidecar.sources.settings``)."""

    scheme: ClassVar[str]

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: S):
        self.model = model
        self.sensors = sensors          # int32 indices into model.sensors
        self.sink = sink
        self.settings = settings
        self.state = STARTING

    @property
    def name(self) -> str:
        return self.scheme

    def own_sensors(self) -> Iterator[tuple[int, Sensor]]:
        """This source's sensors, with their index into ``model.sensors``."""
        for index in self.sensors.tolist():
            yield index, self.model.sensors[index]

    @abc.abstractmethod
    async def run(self) -> None:
        """Produce readings until cancelled. Raise to report a failure (the runner restarts)."""


SOURCE_TYPES: dict[str, type[Source[Any]]] = {}
# Modules that register the built-in sources, imported on first lookup (so `hello` stays fast).
BUILTIN_MODULES: dict[str, str] = {
    "sim": "sidecar.sources.sim",
    "mqtt": "sidecar.sources.mqtt",
    "modbus": "sidecar.sources.modbus",
    "bacnet": "sidecar.sources.bacnet",
    "http": "sidecar.sources.http",
    "https": "sidecar.sources.http",
}


def register_source(cls: type[Source[Any]]) -> type[Source[Any]]:
    """Class decorator: make ``cls`` the source for ``cls.scheme``."""
    SOURCE_TYPES[cls.scheme] = cls
    return cls


def source_type(scheme: str) -> type[Source[Any]] | None:
    if scheme not in SOURCE_TYPES and scheme in BUILTIN_MODULES:
        try:
            importlib.import_module(BUILTIN_MODULES[scheme])
        except ImportError as error:  # a missing optional dependency must not break configure
            log.warning("source %s unavailable: %s", scheme, error)
            return None
    return SOURCE_TYPES.get(scheme)


class SourceRunner:
    """Runs one source in its own task, restarting it with back-off when it fails."""

    def __init__(self, source: Source[Any], min_backoff_s: float = 0.5, max_backoff_s: float = 30.0):
        self.source = source
        self.backoff = Backoff(min_backoff_s, max_backoff_s, jitter=0.0)
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        return self.source.state

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"source:{self.source.name}")

    async def _run(self) -> None:
        while True:
            try:
                self.source.state = STARTING
                await self.source.run()
                self.source.state = STOPPED
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                self.source.state = ERROR
                delay = self.backoff.next_delay()
                log.exception("source %s failed (%d); restarting in %.1f s", self.source.name, self.failures, delay)
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                # Bounded: a library that swallows cancellation must not hang the sidecar's stop.
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("source %s did not stop within %.0f s; abandoning it", self.source.name,
                          STOP_TIMEOUT_S)
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("source %s failed while stopping", self.source.name)
            self._task = None
        self.source.state = STOPPED
