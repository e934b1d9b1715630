"""``mqtt://[broker]/topic[#name]`` — readings from MQTT brokers (gmqtt).

A sensor's URI names a broker (a ``[mqtt.brokers.<name>]`` table, or ``host[:port]``, or nothing
for the ``[mqtt]`` default broker) and a topic filter, which may hold ``+``/``#`` wildcards (a
``#`` right after a ``/`` is the wildcard; any other ``#`` starts the fragment). The fragment
selects the value inside the payload: a JSON path for JSON payloads, a record name for SenML.
Several sensors may share one filter: each message then goes to the sensor the payload or the
topic names (``sensor_field`` in JSON, the SenML record name, or ``sensor_level`` of the topic).

Payloads: a plain number, JSON (``{"value": 21.5, "ts": 1767600000}`` or configured paths), and
SenML (RFC 8428 JSON arrays: ``bn``/``bt``/``n``/``t``/``v``/``vb``). A payload that yields no
reading is counted (``bad_payloads``) and logged at most every few seconds per topic.

Each broker has its own connection task: it connects, subscribes every filter in one SUBSCRIBE,
and reconnects with exponential back-off when the broker goes away (the source owns reconnection:
gmqtt's own fixed-delay reconnect is switched off). The hot path decodes into a ReadingBuffer
that is flushed to the pipeline every ``flush_interval_ms`` or every ``flush_readings``
readings, never one pipeline call per message.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

import numpy as np

from sidecar.model import BuildingModel
from sidecar.sources.base import RECONNECTING, RUNNING, STARTING, Sink, Source, register_source
from sidecar.sources.support import (
    Backoff,
    BadValue,
    JsonPath,
    RateLimitedLog,
    ReadingBuffer,
    Settings,
    SourceConfigError,
    as_timestamp,
    as_value,
    compile_path,
    excerpt,
    idle_on_config_error,
    lookup,
    roll_up,
)

log = logging.getLogger(__name__)

FORMATS = ("auto", "number", "json", "senml")
SENML_RELATIVE_LIMIT = 2.0 ** 28   # RFC 8428 4.5.3: smaller times are relative to now
WILDCARD_CACHE_LIMIT = 10_000


# -- URIs and topic filters --------------------------------------------------------------------
class MqttUri(NamedTuple):
    broker: str        # "" for the default broker
    topic: str         # a topic filter, wildcards allowed
    fragment: str      # JSON path or SenML name ("" when none)


def parse_uri(uri: str) -> MqttUri:
    """``mqtt://broker/topic#fragment``; see the module docstring for ``#`` handling."""
    if not uri.lower().startswith("mqtt://"):
        raise SourceConfigError(f"{uri!r}: expected mqtt://[broker]/topic")
    rest = uri[len("mqtt://"):]
    broker, slash, remainder = rest.partition("/")
    if not slash or not remainder:
        raise SourceConfigError(f"{uri!r}: no topic after the broker (mqtt://[broker]/topic)")
    topic, fragment = remainder, ""
    position = 0
    while True:
        hash_at = topic.find("#", position)
        if hash_at < 0:
            break
        after_slash = hash_at == 0 or topic[hash_at - 1] == "/"
        wildcard_end = hash_at + 1 == len(topic) or topic[hash_at + 1] == "#"
        if after_slash and wildcard_end:
            if hash_at + 1 < len(topic):
                topic, fragment = topic[:hash_at + 1], topic[hash_at + 2:]
            break
        topic, fragment = topic[:hash_at], topic[hash_at + 1:]
        break
    topic = unquote(topic)
    check_filter(topic, uri)
    return MqttUri(broker=unquote(broker), topic=topic, fragment=unquote(fragment))


def check_filter(topic: str, where: str) -> None:
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise SourceConfigError(f"{where}: '#' must be a whole last topic level, in {topic!r}")
        if "+" in level and level != "+":
            raise SourceConfigError(f"{where}: '+' must be a whole topic level, in {topic!r}")


def is_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 4.7 matching; ``$``-topics never match a leading wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(filter_levels) == len(topic_levels)


# -- routing ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Binding:
    sensor: int          # index into model.sensors
    sensor_id: str
    fragment: str
    path: JsonPath       # the fragment as a JSON path


@dataclass(slots=True)
class Route:
    """Everything bound to one topic filter on one broker, and how to read its payloads."""

    topic_filter: str
    format: str
    value_path: JsonPath
    ts_path: JsonPath | None
    sensor_field: str | None
    sensor_level: int | None
    qos: int
    bindings: list[Binding] = field(default_factory=list)
    by_name: dict[str, Binding] = field(default_factory=dict)
    single: int = -1     # the sensor when exactly one binding without fragment: the fast path

    def finish(self) -> None:
        for binding in self.bindings:
            self.by_name.setdefault(binding.sensor_id, binding)
            if binding.fragment:
                self.by_name[binding.fragment] = binding
        plain = [b for b in self.bindings if not b.fragment]
        self.single = plain[0].sensor if len(self.bindings) == 1 and plain else -1


@dataclass(slots=True)
class BrokerConfig:
    name: str
    host: str
    port: int
    tls: ssl.SSLContext | None
    username: str | None
    password: str | None
    keepalive_s: int
    connect_timeout_s: float
    version: int
    client_id: str
    backoff_min_s: float
    backoff_max_s: float

    @property
    def label(self) -> str:
        return f"{self.name or 'default'} ({self.host}:{self.port})"


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.flag("tls", False) and not settings.has("ca_file"):
        return None
    context = ssl.create_default_context(cafile=settings.text("ca_file") or None)
    cert = settings.text("cert_file")
    if cert:
        context.load_cert_chain(cert, settings.text("key_file") or None)
    if settings.flag("tls_insecure", False):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def broker_config(name: str, settings: Settings) -> BrokerConfig:
    host = settings.text("host", "127.0.0.1") or "127.0.0.1"
    port = settings.integer("port", 1883, 1, 65535)
    if name and not settings.table.get("host") and settings.parent is not None and name not in ("default",):
        # ``mqtt://host:port/topic`` without a [mqtt.brokers.<name>] table: the name is the address.
        address, _, port_text = name.rpartition(":") if ":" in name else (name, "", "")
        host = address or host
        if port_text:
            if not port_text.isdigit():
                raise SourceConfigError(f"mqtt broker {name!r}: port {port_text!r} is not a number")
            port = int(port_text)
    version = settings.integer("mqtt_version", 5, 3, 5)
    prefix = settings.text("client_id", "") or f"revitpyiot-{socket.gethostname()[:20]}-{os.getpid()}"
    return BrokerConfig(
        name=name, host=host, port=port, tls=_tls_context(settings),
        username=settings.text("username"), password=settings.env_secret("password_env"),
        keepalive_s=settings.integer("keepalive_s", 30, 5, 65535),
        connect_timeout_s=settings.number("connect_timeout_s", 5.0, positive=True),
        version=5 if version == 5 else 4,
        client_id=f"{prefix}-{name or 'default'}-{uuid.uuid4().hex[:6]}",
        backoff_min_s=settings.number("reconnect_min_s", 0.5, positive=True),
        backoff_max_s=settings.number("reconnect_max_s", 30.0, positive=True),
    )


# -- the source ----------------------------------------------------------------------------------
class _Client:
    """A gmqtt client that never reconnects on its own (the source's back-off does)."""

    @staticmethod
    def make(client_id: str) -> Any:
        import gmqtt

        class OwnedReconnectClient(gmqtt.Client):  # type: ignore[misc]
            async def reconnect(self, delay: bool = False) -> None:
                return None

        return OwnedReconnectClient(client_id, clean_session=True, optimistic_acknowledgement=True,
                                    logger=logging.getLogger("sidecar.sources.mqtt.gmqtt"))


@dataclass(slots=True)
class BrokerLink:
    config: BrokerConfig
    routes: list[Route]
    exact: dict[str, list[Route]]
    wildcard: list[Route]
    cache: dict[str, list[Route]] = field(default_factory=dict)
    state: str = STARTING
    connects: int = 0


@register_source
class MqttSource(Source):
    scheme = "mqtt"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: Any):
        super().__init__(model, sensors, sink, settings)
        self.bad_payloads = 0
        self.messages = 0
        self.problems = RateLimitedLog(log)
        self.config_error: str | None = None
        self.links: dict[str, BrokerLink] = {}
        root = Settings(settings if isinstance(settings, dict) else {}, "mqtt")
        self.flush_interval_s = 0.005
        self.buffer = ReadingBuffer(sink)
        try:
            self.flush_interval_s = root.number("flush_interval_ms", 5.0, positive=True) / 1000.0
            self.buffer.max_readings = root.integer("flush_readings", 2000, 1)
            self._bind(root)
        except SourceConfigError as error:
            self.config_error = str(error)

    # -- configuration ------------------------------------------------------------------------
    def _bind(self, root: Settings) -> None:
        brokers = root.tables("brokers")
        topic_tables = root.table.get("topics", [])
        if not isinstance(topic_tables, list):
            raise SourceConfigError("[[mqtt.topics]] must be an array of tables")
        topic_settings: dict[tuple[str, str], Settings] = {}
        for i, raw in enumerate(topic_tables):
            entry = Settings(raw, f"mqtt.topics[{i}]")
            topic_filter = entry.text("filter")
            if not topic_filter:
                raise SourceConfigError(f"mqtt.topics[{i}].filter: required")
            check_filter(topic_filter, f"mqtt.topics[{i}].filter")
            topic_settings[(entry.text("broker", "") or "", topic_filter)] = entry
        routes: dict[tuple[str, str], Route] = {}
        broker_settings: dict[str, Settings] = {}
        for index in self.sensors.tolist():
            sensor = self.model.sensors[index]
            try:
                uri = parse_uri(sensor.source)
            except SourceConfigError as error:
                log.warning("mqtt: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            if uri.broker not in broker_settings:
                table = brokers.get(uri.broker) if uri.broker else None
                broker_settings[uri.broker] = Settings(table, f"mqtt.brokers.{uri.broker}", parent=root) \
                    if uri.broker else root
            key = (uri.broker, uri.topic)
            route = routes.get(key)
            if route is None:
                scope = topic_settings.get(key)
                base = broker_settings[uri.broker]
                here = Settings(scope.table, scope.where, parent=base) if scope is not None else base
                ts_text = here.text("ts_path", "ts")
                level = here.integer("sensor_level", -1, -1)
                route = Route(topic_filter=uri.topic, format=here.choice("format", FORMATS, "auto"),
                              value_path=compile_path(here.text("value_path", "value") or "value",
                                                      f"{here.where}.value_path"),
                              ts_path=compile_path(ts_text, f"{here.where}.ts_path") if ts_text else None,
                              sensor_field=here.text("sensor_field", "sensor") or None,
                              sensor_level=None if level < 0 else level,
                              qos=here.integer("qos", 0, 0, 2))
                routes[key] = route
            route.bindings.append(Binding(index, sensor.sensor_id, uri.fragment,
                                          compile_path(uri.fragment, sensor.source) if uri.fragment else ()))
        per_broker: dict[str, list[Route]] = {}
        for (broker, _), route in routes.items():
            route.finish()
            per_broker.setdefault(broker, []).append(route)
        for broker, broker_routes in per_broker.items():
            config = broker_config(broker, broker_settings[broker])
            exact: dict[str, list[Route]] = {}
            for route in broker_routes:
                if not is_wildcard(route.topic_filter):
                    exact.setdefault(route.topic_filter, []).append(route)
            wildcard = [r for r in broker_routes if is_wildcard(r.topic_filter)]
            self.links[broker] = BrokerLink(config, broker_routes, exact, wildcard)

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> None:
        await idle_on_config_error(self)
        flusher = asyncio.create_task(self.buffer.flush_every(self.flush_interval_s), name="mqtt-flush")
        tasks = [asyncio.create_task(self._serve(link), name=f"mqtt:{link.config.label}")
                 for link in self.links.values()]
        self._update_state()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in (*tasks, flusher):
                task.cancel()
            await asyncio.gather(*tasks, flusher, return_exceptions=True)
            self.buffer.flush()

    def _update_state(self) -> None:
        if self.config_error is None:
            self.state = roll_up(link.state for link in self.links.values())

    def _set(self, link: BrokerLink, state: str) -> None:
        if link.state != state:
            log.info("mqtt broker %s: %s -> %s", link.config.label, link.state, state)
            link.state = state
            self._update_state()

    async def _serve(self, link: BrokerLink) -> None:
        import gmqtt
        from gmqtt.mqtt.constants import MQTTv50, MQTTv311

        config = link.config
        backoff = Backoff(config.backoff_min_s, config.backoff_max_s)
        while True:
            client = _Client.make(config.client_id)
            lost = asyncio.Event()
            client.on_message = self._receiver(link)
            client.on_disconnect = lambda *_, lost=lost: lost.set()
            if config.username:
                client.set_auth_credentials(config.username, config.password)
            try:
                await asyncio.wait_for(
                    client.connect(config.host, config.port, ssl=config.tls or False, keepalive=config.keepalive_s,
                                   version=MQTTv50 if config.version == 5 else MQTTv311),
                    config.connect_timeout_s)
                client.subscribe([gmqtt.Subscription(r.topic_filter, qos=r.qos) for r in link.routes])
                link.connects += 1
                self._set(link, RUNNING)
                backoff.reset()
                await lost.wait()
                log.warning("mqtt broker %s: connection lost", config.label)
            except gmqtt.MQTTConnectError as error:
                self.problems.warning(f"connect:{config.name}", "mqtt broker %s refused the connection: %s",
                                      config.label, error)
            except (TimeoutError, OSError, ConnectionError) as error:
                self.problems.warning(f"connect:{config.name}", "mqtt broker %s unreachable: %s",
                                      config.label, error or type(error).__name__)
            finally:
                await self._close(client)
            self._set(link, RECONNECTING)
            await backoff.sleep()

    @staticmethod
    async def _close(client: Any) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), 2.0)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - closing a half-open connection fails in many ways
            log.debug("mqtt: closing a client failed: %s", error)

    # -- the hot path ---------------------------------------------------------------------------
    def _receiver(self, link: BrokerLink) -> Any:
        exact = link.exact
        add = self.buffer.add
        no_wildcards = not link.wildcard

        def on_message(client: Any, topic: str, payload: bytes, qos: int, properties: Any) -> int:
            self.messages += 1
            routes = exact.get(topic)
            if no_wildcards and routes is not None and len(routes) == 1:
                route = routes[0]
                if route.single >= 0 and route.format in ("auto", "number"):
                    try:
                        value = float(payload)
                    except ValueError:
                        pass
                    else:
                        if value - value == 0.0:   # finite
                            add(route.single, time.time(), value)
                            return 0
            try:
                self._dispatch(link, topic, payload, routes)
            except Exception as error:  # noqa: BLE001 - a payload must never take the connection down
                self._bad(link, topic, f"{type(error).__name__}: {error}", payload)
            return 0

        return on_message

    def _routes_for(self, link: BrokerLink, topic: str, exact: list[Route] | None) -> list[Route]:
        if not link.wildcard:
            return exact or []
        cached = link.cache.get(topic)
        if cached is None:
            cached = list(exact or []) + [r for r in link.wildcard if topic_matches(r.topic_filter, topic)]
            if len(link.cache) >= WILDCARD_CACHE_LIMIT:
                link.cache.clear()
            link.cache[topic] = cached
        return cached

    def _bad(self, link: BrokerLink, topic: str, reason: str, payload: bytes) -> None:
        self.bad_payloads += 1
        self.problems.warning(f"payload:{link.config.name}:{topic}", "mqtt %s: bad payload on %s: %s (payload %s)",
                              link.config.label, topic, reason, excerpt(payload))

    def _dispatch(self, link: BrokerLink, topic: str, payload: bytes, exact: list[Route] | None) -> None:
        routes = self._routes_for(link, topic, exact)
        if not routes:
            return   # an overlapping subscription delivered a topic nobody here wants
        now = time.time()
        for route in routes:
            try:
                produced = self._decode(route, topic, payload, now)
            except BadValue as error:
                self._bad(link, topic, str(error), payload)
                continue
            if produced == 0:
                self._bad(link, topic, "no reading for any sensor bound to " + route.topic_filter, payload)

    def _decode(self, route: Route, topic: str, payload: bytes, now: float) -> int:
        kind = route.format
        document: Any = None
        if kind == "auto":
            head = payload.lstrip()[:1]
            kind = "json" if head in (b"{", b"[") else "number"
        if kind == "number":
            return self._emit(route, self._target(route, topic, None), now, as_value(payload.strip()))
        try:
            document = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadValue(f"not JSON: {error}") from None
        if isinstance(document, list) or route.format == "senml":
            return self._senml(route, topic, document, now)
        if not isinstance(document, dict):
            return self._emit(route, self._target(route, topic, None), now, as_value(document))
        ts = now
        if route.ts_path is not None:
            try:
                raw_ts = lookup(document, route.ts_path)
            except BadValue:
                raw_ts = None
            if raw_ts is not None:
                ts = as_timestamp(raw_ts, now)
        produced = 0
        for binding in route.bindings:
            if binding.fragment:
                produced += self._emit(route, binding, ts, as_value(lookup(document, binding.path)))
        if produced < len(route.bindings):
            name = document.get(route.sensor_field) if route.sensor_field else None
            target = self._target(route, topic, name if isinstance(name, str) else None, fragment_ok=False)
            if target is not None:
                produced += self._emit(route, target, ts, as_value(lookup(document, route.value_path)))
        return produced

    def _target(self, route: Route, topic: str, name: str | None, fragment_ok: bool = True) -> Binding | None:
        """The binding a message without per-sensor paths goes to."""
        if name is None and route.sensor_level is not None:
            levels = topic.split("/")
            name = levels[route.sensor_level] if route.sensor_level < len(levels) else None
        if name is not None:
            binding = route.by_name.get(name)
            if binding is None:
                raise BadValue(f"names sensor {name!r}, which is not bound to {route.topic_filter}")
            return binding
        plain = [b for b in route.bindings if fragment_ok or not b.fragment]
        if len(plain) == 1:
            return plain[0]
        if not plain:
            return None
        raise BadValue(f"{len(plain)} sensors share {route.topic_filter} and the message names none "
                       f"(set sensor_field or sensor_level)")

    def _emit(self, route: Route, binding: Binding | None, ts: float, value: float) -> int:
        if binding is None:
            return 0
        self.buffer.add(binding.sensor, ts, value)
        return 1

    def _senml(self, route: Route, topic: str, records: Any, now: float) -> int:
        if not isinstance(records, list) or not records:
            raise BadValue("SenML must be a non-empty JSON array of records")
        base_name, base_time, base_value = "", 0.0, 0.0
        produced = 0
        for position, record in enumerate(records):
            if not isinstance(record, dict):
                raise BadValue(f"SenML record {position} is not an object")
            if "bn" in record:
                if not isinstance(record["bn"], str):
                    raise BadValue(f"SenML record {position}: bn must be a string")
                base_name = record["bn"]
            if "bt" in record:
                base_time = as_value(record["bt"])
            if "bv" in record:
                base_value = as_value(record["bv"])
            if "v" in record:
                value = base_value + as_value(record["v"])
            elif "vb" in record and isinstance(record["vb"], bool):
                value = 1.0 if record["vb"] else 0.0
            elif "s" in record:
                value = base_value + as_value(record["s"])
            else:
                continue   # string/data values or a pure base record: nothing numeric to read
            t = base_time + (as_value(record["t"]) if "t" in record else 0.0)
            ts = now + t if abs(t) < SENML_RELATIVE_LIMIT else as_timestamp(t, now)
            name = base_name + (record.get("n") or "")
            binding = route.by_name.get(name) if name else None
            if binding is None and name and route.sensor_level is None:
                # Also accept the record's own name (without base) as the fragment.
                binding = route.by_name.get(str(record.get("n") or ""))
            if binding is None:
                if name and len(route.bindings) > 1:
                    continue   # a record for a sensor this sidecar does not know
                binding = self._target(route, topic, None)
            produced += self._emit(route, binding, ts, value)
        return produced
