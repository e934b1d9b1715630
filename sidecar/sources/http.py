"""``http(s)://host/path[?query][#json.path]`` — HTTP polling (aiohttp client).

Every distinct URL (without fragment) is fetched once per ``interval_s`` by its own task; the
sensors bound to it read their value at the JSON path in their URI's fragment (or
``value_path``), and the reading's time at ``ts_path`` when set (else the time of the reply).
Headers come from environment variables (``headers = {Authorization = "ENV_VAR_NAME"}``), so
no secret sits in a config file, and are never logged. A failing endpoint (timeout, refused
connection, HTTP error status, unparsable body) goes to ``reconnecting`` and is retried with
exponential back-off; the other endpoints go on. A value missing from an otherwise good reply
is counted and logged (rate-limited) without failing the endpoint.

Settings: ``[http]`` for defaults, ``[http.endpoints."<url>"]`` per URL, ``[http.sensors.<id>]``
per sensor (``value_path``, ``ts_path``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag

import numpy as np

from sidecar.model import BuildingModel
from sidecar.sources.base import RECONNECTING, RUNNING, STARTING, Sink, Source, register_source
from sidecar.sources.support import (
    Backoff,
    BadValue,
    JsonPath,
    RateLimitedLog,
    Settings,
    SourceConfigError,
    as_timestamp,
    as_value,
    compile_path,
    format_path,
    idle_on_config_error,
    lookup,
    roll_up,
)

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpPoint:
    sensor: int
    sensor_id: str
    value_path: JsonPath
    ts_path: JsonPath | None


@dataclass(slots=True)
class Endpoint:
    url: str
    points: list[HttpPoint]
    interval_s: float
    timeout_s: float
    header_env: dict[str, str]     # header name -> environment variable name
    backoff: Backoff
    state: str = STARTING
    fetches: int = 0
    failures: int = 0


def _header_env(settings: Settings, key: str = "headers") -> dict[str, str]:
    table = settings.table.get(key)
    if table is None and settings.parent is not None:
        return _header_env(settings.parent, key)
    if table is None:
        return {}
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise SourceConfigError(f"{settings.where}.{key}: must map header names to environment variable names")
    return dict(table)


@register_source
class HttpSource(Source):
    scheme = "http"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: Any):
        super().__init__(model, sensors, sink, settings)
        self.problems = RateLimitedLog(log)
        self.config_error: str | None = None
        self.endpoints: list[Endpoint] = []
        self.bad_values = 0
        try:
            self._plan(Settings(settings if isinstance(settings, dict) else {}, self.scheme))
        except SourceConfigError as error:
            self.config_error = str(error)

    def _plan(self, root: Settings) -> None:
        tables = root.tables("endpoints")
        per_url: dict[str, list[HttpPoint]] = {}
        for index in self.sensors.tolist():
            sensor = self.model.sensors[index]
            url, fragment = urldefrag(sensor.source)
            here = Settings(tables.get(url), f'{self.scheme}.endpoints."{url}"', parent=root)
            own = Settings(root.tables("sensors").get(sensor.sensor_id), f"{self.scheme}.sensors.{sensor.sensor_id}",
                           parent=here)
            try:
                path_text = own.text("value_path") if "value_path" in own.table else (fragment or own.text(
                    "value_path", "value"))
                ts_text = own.text("ts_path")
                per_url.setdefault(url, []).append(HttpPoint(
                    index, sensor.sensor_id, compile_path(path_text or "", sensor.source),
                    compile_path(ts_text, f"{own.where}.ts_path") if ts_text else None))
            except SourceConfigError as error:
                log.warning("%s: sensor %s ignored: %s", self.scheme, sensor.sensor_id, error)
        for url, points in per_url.items():
            here = Settings(tables.get(url), f'{self.scheme}.endpoints."{url}"', parent=root)
            self.endpoints.append(Endpoint(
                url=url, points=points, interval_s=here.number("interval_s", 10.0, positive=True),
                timeout_s=here.number("timeout_s", 5.0, positive=True), header_env=_header_env(here),
                backoff=Backoff(here.number("reconnect_min_s", 1.0, positive=True),
                                here.number("reconnect_max_s", 60.0, positive=True))))

    def _update_state(self) -> None:
        if self.config_error is None:
            self.state = roll_up(e.state for e in self.endpoints)

    def _set(self, endpoint: Endpoint, state: str) -> None:
        if endpoint.state != state:
            log.info("%s endpoint %s: %s -> %s", self.scheme, endpoint.url, endpoint.state, state)
            endpoint.state = state
            self._update_state()

    async def run(self) -> None:
        import aiohttp

        await idle_on_config_error(self)
        async with aiohttp.ClientSession(headers={"User-Agent": "RevitPyIoT-sidecar"}) as session:
            tasks = [asyncio.create_task(self._poll(session, e), name=f"http:{e.url}") for e in self.endpoints]
            self._update_state()
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _headers(self, endpoint: Endpoint) -> dict[str, str]:
        import os
        headers: dict[str, str] = {}
        for name, variable in endpoint.header_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise SourceConfigError(f"header {name}: environment variable {variable} is not set")
            headers[name] = value
        return headers

    async def _poll(self, session: Any, endpoint: Endpoint) -> None:
        import aiohttp

        while True:
            started = time.monotonic()
            try:
                headers = self._headers(endpoint)
                timeout = aiohttp.ClientTimeout(total=endpoint.timeout_s)
                async with session.get(endpoint.url, headers=headers, timeout=timeout) as reply:
                    if reply.status >= 400:
                        raise ConnectionError(f"HTTP {reply.status} {reply.reason}")
                    body = await reply.content.read(MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    raise ConnectionError(f"reply larger than {MAX_BODY_BYTES} bytes")
                try:
                    document = json.loads(body)
                except (ValueError, UnicodeDecodeError) as error:
                    raise ConnectionError(f"reply is not JSON: {error}") from None
                endpoint.fetches += 1
                self._readings(endpoint, document, time.time())
                self._set(endpoint, RUNNING)
                endpoint.backoff.reset()
                await asyncio.sleep(max(0.0, endpoint.interval_s - (time.monotonic() - started)))
            except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError, SourceConfigError) as error:
                # str(error) of aiohttp errors names the URL, never the headers.
                endpoint.failures += 1
                self.problems.warning(f"endpoint:{endpoint.url}", "%s endpoint %s: %s: %s", self.scheme,
                                      endpoint.url, type(error).__name__, error)
                self._set(endpoint, RECONNECTING)
                await endpoint.backoff.sleep()

    def _readings(self, endpoint: Endpoint, document: Any, now: float) -> None:
        sensors: list[int] = []
        stamps: list[float] = []
        values: list[float] = []
        for point in endpoint.points:
            try:
                value = as_value(lookup(document, point.value_path))
                ts = as_timestamp(lookup(document, point.ts_path), now) if point.ts_path is not None else now
            except BadValue as error:
                self.bad_values += 1
                self.problems.warning(f"value:{point.sensor_id}", "%s endpoint %s, sensor %s (path %s): %s",
                                      self.scheme, endpoint.url, point.sensor_id, format_path(point.value_path), error)
                continue
            sensors.append(point.sensor)
            stamps.append(ts)
            values.append(value)
        if sensors:
            self.sink(np.array(sensors, dtype=np.int32), np.array(stamps), np.array(values))


@register_source
class HttpsSource(HttpSource):
    """The service hands each scheme its own section: ``[https]`` here (see docs/sources.md)."""

    scheme = "https"
