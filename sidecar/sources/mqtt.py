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
import contextlib
import hashlib
import json
import logging
import os
import socket
import ssl
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

import numpy as np

from sidecar.model import BuildingModel
from sidecar.sources.base import Sink, register_source
from sidecar.sources.linked import Link, LinkedSource
from sidecar.sources.settings import MqttBrokerSettings, MqttSettings, check_filter
from sidecar.sources.support import (
    BadValue,
    JsonPath,
    SourceConfigError,
    as_timestamp,
    as_value,
    compile_path,
    excerpt,
    lookup,
)

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """One broker as this source connects to it (its settings with the address resolved)."""
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
    persistent_session: bool
    session_expiry_s: int
    probe_interval_s: float

    @property
    def label(self) -> str:
        return f"{self.name or 'default'} ({self.host}:{self.port})"


def _tls_context(settings: MqttBrokerSettings) -> ssl.SSLContext | None:
    if not settings.tls and not settings.ca_file:
        return None
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file or None)
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _password(settings: MqttBrokerSettings, where: str) -> str | None:
    """The password from the environment variable ``password_env`` names (never logged)."""
    if not settings.password_env:
        return None
    value = os.environ.get(settings.password_env)
    if value is None:
        raise SourceConfigError(f"{where}.password_env: environment variable {settings.password_env} is not set")
    return value


def client_id(settings: MqttBrokerSettings, broker: str, building_id: str, data_dir: str) -> str:
    """The MQTT client id. A persistent session is found again by its client id: derived from the
    building and the data dir, it is the same after a restart of the sidecar (and differs between
    two sidecars of one machine). ``client_id`` in the settings is used as given, with the broker's
    name appended. Without a data dir (a source made outside the service) the id is unique to
    this process: stable for its reconnects only."""
    name = broker or "default"
    if settings.client_id:
        return f"{settings.client_id}-{name}"
    if data_dir:
        digest = hashlib.sha256(f"{building_id}\0{data_dir}\0{name}".encode()).hexdigest()[:16]
        return f"revitpyiot-{digest}"
    return f"revitpyiot-{socket.gethostname()[:20]}-{os.getpid()}-{name}-{uuid.uuid4().hex[:6]}"


def broker_config(name: str, settings: MqttBrokerSettings, named_table: bool, identity: str) -> BrokerConfig:
    host, port = settings.host, settings.port
    if name and not named_table:
        # ``mqtt://host:port/topic`` without a [mqtt.brokers.<name>] table: the name is the address.
        address, _, port_text = name.rpartition(":") if ":" in name else (name, "", "")
        host = address or host
        if port_text:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise SourceConfigError(f"mqtt broker {name!r}: port {port_text!r} is not in 1..65535")
            port = int(port_text)
    return BrokerConfig(
        name=name, host=host or "127.0.0.1", port=port or 1883, tls=_tls_context(settings),
        username=settings.username or None,
        password=_password(settings, f"mqtt.brokers.{name}" if named_table else "mqtt"),
        keepalive_s=settings.keepalive_s, connect_timeout_s=settings.connect_timeout_s,
        version=settings.mqtt_version, client_id=identity,
        persistent_session=settings.persistent_session, session_expiry_s=settings.session_expiry_s,
        probe_interval_s=settings.probe_interval_s)


async def _listening(host: str, port: int, timeout_s: float) -> bool:
    """Whether something accepts TCP connections at host:port (the broker is back)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


# -- the source ----------------------------------------------------------------------------------
def _make_client(config: BrokerConfig) -> Any:
    """A gmqtt client that never reconnects on its own (the source's back-off does)."""
    import gmqtt

    class OwnedReconnectClient(gmqtt.Client):  # type: ignore[misc]
        async def reconnect(self, delay: bool = False) -> None:
            return None

    session: dict[str, Any] = {}
    if config.persistent_session and config.version == 5:
        # MQTT 5: clean start off is not enough, the session must also outlive the connection
        session["session_expiry_interval"] = config.session_expiry_s
    return OwnedReconnectClient(config.client_id, clean_session=not config.persistent_session,
                                optimistic_acknowledgement=True, logger=logging.getLogger("sidecar.sources.mqtt.gmqtt"),
                                **session)


class RecentKeys:
    """The last ``limit`` (sensor, timestamp) keys delivered at QoS >= 1, to drop a redelivery's
    readings (a PUBLISH with DUP set after a broker restart) that were delivered already."""

    def __init__(self, limit: int = 65536):
        self._keys: dict[tuple[int, float], None] = {}
        self._order: deque[tuple[int, float]] = deque()
        self.limit = limit

    def __contains__(self, key: tuple[int, float]) -> bool:
        return key in self._keys

    def add(self, key: tuple[int, float]) -> None:
        if key in self._keys:
            return
        self._keys[key] = None
        self._order.append(key)
        if len(self._order) > self.limit:
            del self._keys[self._order.popleft()]


@dataclass(eq=False)
class BrokerLink(Link):
    config: BrokerConfig | None = None
    routes: list[Route] = field(default_factory=list)
    exact: dict[str, list[Route]] = field(default_factory=dict)
    wildcard: list[Route] = field(default_factory=list)
    cache: dict[str, list[Route]] = field(default_factory=dict)
    connects: int = 0
    sessions_resumed: int = 0       # connects that found the broker's session (and its queue) waiting
    unreachable: bool = False       # the last attempt found no broker (probe for its return)
    recent: RecentKeys = field(default_factory=RecentKeys)

    @property
    def broker(self) -> BrokerConfig:
        assert self.config is not None
        return self.config


@register_source
class MqttSource(LinkedSource[MqttSettings, BrokerLink]):
    scheme = "mqtt"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink,
                 settings: MqttSettings | Mapping[str, Any] | None):
        self.bad_payloads = 0
        self.messages = 0
        self.duplicates = 0             # readings of redelivered messages dropped by (sensor, timestamp)
        self._seen: RecentKeys | None = None   # set while decoding a QoS >= 1 message
        self._redelivery = False
        super().__init__(model, sensors, sink, settings)

    # -- configuration ------------------------------------------------------------------------
    def plan(self, settings: MqttSettings) -> None:
        self.flush_interval_s = settings.flush_interval_s
        self.buffer.max_readings = settings.flush_readings
        topic_settings = {(t.broker, t.filter): t for t in settings.topics}
        routes: dict[tuple[str, str], Route] = {}
        for index, sensor in self.own_sensors():
            try:
                uri = parse_uri(sensor.source)
            except SourceConfigError as error:
                log.warning("mqtt: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            key = (uri.broker, uri.topic)
            route = routes.get(key)
            if route is None:
                scope = topic_settings.get(key)
                options = scope.route if scope is not None else settings.broker(uri.broker).route
                route = Route(topic_filter=uri.topic, format=options.format,
                              value_path=compile_path(options.value_path),
                              ts_path=compile_path(options.ts_path) if options.ts_path else None,
                              sensor_field=options.sensor_field or None,
                              sensor_level=None if options.sensor_level < 0 else options.sensor_level,
                              qos=options.qos)
                routes[key] = route
            route.bindings.append(Binding(index, sensor.sensor_id, uri.fragment,
                                          compile_path(uri.fragment, sensor.source) if uri.fragment else ()))
        per_broker: dict[str, list[Route]] = {}
        for (broker, _), route in routes.items():
            route.finish()
            per_broker.setdefault(broker, []).append(route)
        for broker, broker_routes in per_broker.items():
            own = settings.broker(broker)
            identity = client_id(own, broker, self.model.building_id, settings.data_dir)
            config = broker_config(broker, own, broker in settings.brokers and bool(own.host), identity)
            exact: dict[str, list[Route]] = {}
            for route in broker_routes:
                if not is_wildcard(route.topic_filter):
                    exact.setdefault(route.topic_filter, []).append(route)
            wildcard = [r for r in broker_routes if is_wildcard(r.topic_filter)]
            self.links[broker] = BrokerLink(f"broker {config.label}", Link.backoff_from(own.reconnect), config=config,
                                            routes=broker_routes, exact=exact, wildcard=wildcard)

    # -- running ------------------------------------------------------------------------------
    def link_errors(self) -> tuple[type[BaseException], ...]:
        import gmqtt

        return (gmqtt.MQTTConnectError, *super().link_errors())

    async def serve(self, link: BrokerLink, shared: Any) -> None:
        import gmqtt
        from gmqtt.mqtt.constants import MQTTv50, MQTTv311

        config = link.broker
        client = _make_client(config)
        lost = asyncio.Event()
        resumed = False

        def on_connect(client: Any, flags: int, result: int, properties: Any) -> None:
            nonlocal resumed
            resumed = bool(flags)   # session present: the broker kept our session (and queued for us)

        client.on_connect = on_connect
        client.on_message = self._receiver(link)
        client.on_disconnect = lambda *_: lost.set()
        if config.username:
            client.set_auth_credentials(config.username, config.password)
        try:
            try:
                await asyncio.wait_for(
                    client.connect(config.host, config.port, ssl=config.tls or False, keepalive=config.keepalive_s,
                                   version=MQTTv50 if config.version == 5 else MQTTv311),
                    config.connect_timeout_s)
            except gmqtt.MQTTConnectError:
                link.unreachable = False     # the broker is there and said no: plain back-off
                raise
            except (TimeoutError, OSError, ConnectionError):
                link.unreachable = True
                raise
            # Subscribing again on a resumed session is harmless and covers a broker that lost it.
            client.subscribe([gmqtt.Subscription(r.topic_filter, qos=r.qos) for r in link.routes])
            link.connects += 1
            link.sessions_resumed += resumed
            self.connected(link)
            await lost.wait()
            link.unreachable = True
            log.warning("mqtt %s: connection lost", link.label)
        finally:
            await self._close(client)

    async def wait_before_retry(self, link: BrokerLink) -> None:
        """The back-off delay, cut short as soon as the broker listens again: while it is away a
        TCP connect every ``probe_interval_s`` notices its return, so the session (and what the
        broker queued in it) is picked up within a fraction of a second, whatever the back-off."""
        delay = link.backoff.next_delay()
        if not link.unreachable:
            await asyncio.sleep(delay)
            return
        config = link.broker
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(config.probe_interval_s, left))
            if await _listening(config.host, config.port, min(1.0, config.connect_timeout_s)):
                return

    @staticmethod
    async def _close(client: Any) -> None:
        """Close without ending the session: the broker keeps queueing for the next connect."""
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
            # At QoS >= 1 a message can come twice (sent again with DUP after a broker restart):
            # readings with a timestamp of their own are keyed by (sensor, timestamp) and a
            # redelivered one already delivered is dropped. (A plain number is stamped on
            # arrival: there is no key to know it again by.)
            self._seen = link.recent if qos else None
            self._redelivery = bool(qos and properties and properties.get("dup"))
            try:
                self._dispatch(link, topic, payload, routes)
            except Exception as error:  # noqa: BLE001 - a payload must never take the connection down
                self._bad(link, topic, f"{type(error).__name__}: {error}", payload)
            finally:
                self._seen = None
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
        self.problems.warning(f"payload:{link.broker.name}:{topic}", "mqtt %s: bad payload on %s: %s (payload %s)",
                              link.broker.label, topic, reason, excerpt(payload))

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
        seen = self._seen
        if seen is not None:
            key = (binding.sensor, ts)
            if self._redelivery and key in seen:
                self.duplicates += 1
                return 1
            seen.add(key)
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
