"""``LinkedSource``: the one skeleton under the protocol sources (MQTT, Modbus, BACnet, HTTP).

A protocol source talks to several peers, each over its own *link* (an MQTT broker, a Modbus
host, a BACnet device, an HTTP endpoint). The base owns what they share:

- its typed settings (parsed from a raw table when given one; a bad one is ``config_error``:
  the source reports ``error`` and idles instead of restarting in a loop);
- one task per link that calls ``serve(link)`` and, when it ends or fails with one of
  ``link_errors()``, logs (rate-limited), marks the link ``reconnecting`` and waits its
  ``Backoff`` before the next attempt: a broken peer never stalls the others;
- the source's one state rolled up from its links' (``roll_up``);
- a ``ReadingBuffer`` flushed every ``flush_interval_s`` (when the protocol hands readings one
  by one) and once more when the source stops;
- an optional ``session()`` shared by every link (an HTTP client session, the BACnet
  application).

A protocol module implements ``plan`` (sensors -> links), ``serve`` (one connection's life)
and, where it needs them, ``link_errors``, ``session`` and ``wait_before_retry``.
"""
from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from sidecar.backoff import Backoff
from sidecar.model import BuildingModel
from sidecar.settings import SettingsError
from sidecar.sources.base import DEGRADED, ERROR, RECONNECTING, RUNNING, STARTING, STOPPED, Sink, Source
from sidecar.sources.settings import SETTINGS_TYPES, Reconnect, parse_source_section
from sidecar.sources.support import RateLimitedLog, ReadingBuffer

S = TypeVar("S")
L = TypeVar("L", bound="Link")


@dataclass(eq=False)
class Link:
    """One peer of a source and its connection's life."""
    label: str
    backoff: Backoff = field(default_factory=Backoff)
    state: str = STARTING
    failures: int = 0

    @staticmethod
    def backoff_from(reconnect: Reconnect) -> Backoff:
        return Backoff(reconnect.min_s, reconnect.max_s)


def roll_up(states: Iterable[str]) -> str:
    """One source state from its links' states: all running -> running, some -> degraded,
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


class LinkedSource(Source[S], abc.ABC, Generic[S, L]):
    flush_interval_s: float = 0.05     # the buffer's flush period (readings handed over one by one)
    buffer_readings: ClassVar[int] = 2000

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink,
                 settings: S | Mapping[str, Any] | None):
        super().__init__(model, sensors, sink, settings)   # type: ignore[arg-type]  # parsed below
        self.log = logging.getLogger(type(self).__module__)
        self.problems = RateLimitedLog(self.log)
        self.config_error: str | None = None
        self.links: dict[str, L] = {}
        self.buffer = ReadingBuffer(sink, self.buffer_readings)
        try:
            if not isinstance(settings, SETTINGS_TYPES[self.scheme]):
                # a raw TOML table (tests, benchmarks): the same reader the config file goes through
                settings = parse_source_section(self.scheme, settings)
            self.settings: S = settings   # type: ignore[assignment]
            self.plan(self.settings)
        except SettingsError as error:
            self.config_error = str(error)

    # -- what a protocol implements ---------------------------------------------------------------
    @abc.abstractmethod
    def plan(self, settings: S) -> None:
        """Bind this source's sensors to links (``self.links``); a sensor whose URI or settings are
        wrong is logged and skipped, a section-wide problem raises SettingsError."""

    @abc.abstractmethod
    async def serve(self, link: L, shared: Any) -> None:
        """Connect ``link`` and serve it until the connection ends (return) or fails (raise one of
        ``link_errors()``); call ``connected(link)`` once it delivers."""

    def link_errors(self) -> tuple[type[BaseException], ...]:
        """What a failing peer raises (anything else is a bug: the runner restarts the source)."""
        return (TimeoutError, OSError, ConnectionError, SettingsError)

    def session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """What every link shares while the source runs (handed to ``serve``)."""
        return contextlib.nullcontext()

    async def wait_before_retry(self, link: L) -> None:
        await link.backoff.sleep()

    # -- the skeleton -------------------------------------------------------------------------------
    async def run(self) -> None:
        await self._idle_on_config_error()
        async with self.session() as shared:
            tasks = [asyncio.create_task(self._keep(link, shared), name=f"{self.scheme}:{link.label}")
                     for link in self.links.values()]
            flusher = asyncio.create_task(self.buffer.flush_every(self.flush_interval_s), name=f"{self.scheme}-flush")
            self._update_state()
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in (*tasks, flusher):
                    task.cancel()
                await asyncio.gather(*tasks, flusher, return_exceptions=True)
                self.buffer.flush()

    async def _keep(self, link: L, shared: Any) -> None:
        errors = self.link_errors()
        while True:
            try:
                await self.serve(link, shared)
            except errors as error:
                link.failures += 1
                self.problems.warning(f"link:{link.label}", "%s %s: %s: %s", self.scheme, link.label,
                                      type(error).__name__, error)
            self.set_state(link, RECONNECTING)
            await self.wait_before_retry(link)

    async def _idle_on_config_error(self) -> None:
        """A source whose section is unusable reports ``error`` and idles (no restart loop) until
        it is stopped; the log names the offending key."""
        if self.config_error is None:
            return
        self.state = ERROR
        self.log.error("%s source not started: %s", self.scheme, self.config_error)
        await asyncio.Event().wait()

    def connected(self, link: L, state: str = RUNNING) -> None:
        """``link`` delivers: its state, and its back-off starts again from the minimum."""
        self.set_state(link, state)
        link.backoff.reset()

    def set_state(self, link: L, state: str) -> None:
        if link.state != state:
            self.log.info("%s %s: %s -> %s", self.scheme, link.label, link.state, state)
            link.state = state
            self._update_state()

    def _update_state(self) -> None:
        if self.config_error is None:
            self.state = roll_up(link.state for link in self.links.values())
