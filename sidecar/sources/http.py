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
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

import numpy as np

from sidecar.sources.base import register_source
from sidecar.sources.linked import Link, LinkedSource
from sidecar.sources.settings import HttpPointOptions, HttpSettings
from sidecar.sources.support import (
    BadValue,
    JsonPath,
    SourceConfigError,
    as_timestamp,
    as_value,
    compile_path,
    format_path,
    lookup,
)

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpPoint:
    sensor: int
    sensor_id: str
    value_path: JsonPath
    ts_path: JsonPath | None


@dataclass(eq=False)
class Endpoint(Link):
    url: str = ""
    points: list[HttpPoint] = field(default_factory=list)
    interval_s: float = 10.0
    timeout_s: float = 5.0
    header_env: Mapping[str, str] = field(default_factory=dict)     # header name -> environment variable name
    fetches: int = 0


@register_source
class HttpSource(LinkedSource[HttpSettings, Endpoint]):
    scheme = "http"
    bad_values = 0      # per instance once counted

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self.links.values())

    def plan(self, settings: HttpSettings) -> None:
        per_url: dict[str, list[HttpPoint]] = {}
        for index, sensor in self.own_sensors():
            url, fragment = urldefrag(sensor.source)
            here = settings.endpoints.get(url, settings.default)
            own = settings.sensors.get(sensor.sensor_id, HttpPointOptions())
            # the sensor's own value_path wins over its URI's fragment, which wins over the endpoint's
            path_text = own.value_path if own.value_path is not None else (fragment or here.value_path)
            ts_text = own.ts_path if own.ts_path is not None else here.ts_path
            try:
                per_url.setdefault(url, []).append(HttpPoint(
                    index, sensor.sensor_id, compile_path(path_text or "", sensor.source),
                    compile_path(ts_text, sensor.source) if ts_text else None))
            except SourceConfigError as error:
                log.warning("%s: sensor %s ignored: %s", self.scheme, sensor.sensor_id, error)
        for url, points in per_url.items():
            here = settings.endpoints.get(url, settings.default)
            self.links[url] = Endpoint(f"endpoint {url}", Link.backoff_from(here.reconnect), url=url, points=points,
                                       interval_s=here.interval_s, timeout_s=here.timeout_s,
                                       header_env=here.headers)

    def session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        import aiohttp

        return aiohttp.ClientSession(headers={"User-Agent": "RevitPyIoT-sidecar"})

    def link_errors(self) -> tuple[type[BaseException], ...]:
        import aiohttp

        return (aiohttp.ClientError, *super().link_errors())

    def _headers(self, endpoint: Endpoint) -> dict[str, str]:
        import os
        headers: dict[str, str] = {}
        for name, variable in endpoint.header_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise SourceConfigError(f"header {name}: environment variable {variable} is not set")
            headers[name] = value
        return headers

    async def serve(self, endpoint: Endpoint, session: Any) -> None:
        """Fetch every ``interval_s`` until a fetch fails (str(error) of aiohttp errors names the URL,
        never the headers)."""
        import aiohttp

        while True:
            started = time.monotonic()
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
            self.connected(endpoint)
            await asyncio.sleep(max(0.0, endpoint.interval_s - (time.monotonic() - started)))

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
    """``[https]`` when the file has one, else ``[http]`` (see docs/sources.md)."""

    scheme = "https"
