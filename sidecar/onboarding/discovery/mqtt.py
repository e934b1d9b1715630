"""MQTT discovery: subscribe to a wildcard for a while and describe what arrives (gmqtt).

Retained messages arrive at once, live ones as they are published; each topic's last payload is
read as one of:

* a plain number (``21.5``): one point, ``mqtt://broker/topic``;
* a JSON object: one point per number (or true/false) inside it, by JSON path
  (``mqtt://broker/topic#data.temp``); keys that look like time stamps are skipped, and a
  ``unit``/``units``/``u`` next to a value gives its units;
* SenML (RFC 8428, a JSON array of records with ``n``/``bn``): one point per record name, units
  from ``u``, ``mqtt://broker/topic#name``;
* anything else (text, binary): listed as ``mqtt-text`` with its first characters.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sidecar.onboarding.discovery import DiscoveredPoint, ucum

TIME_KEYS = frozenset({"ts", "t", "time", "timestamp", "bt", "datetime", "date"})
UNIT_KEYS = ("unit", "units", "u", "uom")


@dataclass
class MqttDiscovery:
    host: str = "127.0.0.1"
    port: int = 1883
    topic: str = "#"
    duration_s: float = 30.0
    username: str | None = None
    password: str | None = None
    broker: str | None = None          # how the proposed URIs name the broker (default host:port)
    stats: dict[str, int] = field(default_factory=lambda: {"messages": 0, "topics": 0})


def _broker(settings: MqttDiscovery) -> str:
    if settings.broker is not None:
        return settings.broker
    return settings.host if settings.port == 1883 else f"{settings.host}:{settings.port}"


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any, str]]:
    """(JSON path, value, unit) of every number or boolean inside a JSON document."""
    if isinstance(value, dict):
        unit = next((str(value[k]) for k in UNIT_KEYS if isinstance(value.get(k), str)), "")
        for key, item in value.items():
            if str(key).lower() in TIME_KEYS or key in UNIT_KEYS:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(item, (bool, int, float)):
                yield sub, item, unit
            else:
                yield from _leaves(item, sub)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            sub = f"{path}[{index}]" if path else f"[{index}]"
            if isinstance(item, (bool, int, float)):
                yield sub, item, ""
            else:
                yield from _leaves(item, sub)


def _is_senml(document: Any) -> bool:
    return (isinstance(document, list) and bool(document) and all(isinstance(r, dict) for r in document)
            and any("n" in r or "bn" in r for r in document)
            and all(set(r) <= {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
                    for r in document))


def describe(topic: str, payload: bytes, broker: str) -> list[DiscoveredPoint]:
    """The points one payload on one topic offers."""
    base = f"mqtt://{broker}/{quote(topic, safe='/')}"
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return [DiscoveredPoint(topic, "plain number", "", "mqtt-number", number, base, topic.split("/")[0])]
    try:
        document = json.loads(text)
    except ValueError:
        return [DiscoveredPoint(topic, f"text payload: {text[:40]}", "", "mqtt-text", None, base, topic.split("/")[0])]
    if _is_senml(document):
        out = []
        base_name, base_unit = "", ""
        for record in document:
            base_name = str(record.get("bn", base_name))
            base_unit = str(record.get("bu", base_unit))
            name = base_name + str(record.get("n", ""))
            value = record.get("v", record.get("vb", record.get("vs")))
            if not name:
                continue
            out.append(DiscoveredPoint(f"{topic}/{name}", "SenML record", ucum(str(record.get("u", base_unit))),
                                       "mqtt-senml", value, f"{base}#{quote(name, safe='')}", topic.split("/")[0]))
        return out
    if isinstance(document, (int, float)):
        return [DiscoveredPoint(topic, "JSON number", "", "mqtt-number", document, base, topic.split("/")[0])]
    return [DiscoveredPoint(f"{topic}/{path}", f"JSON path {path}", ucum(unit), "mqtt-json", value,
                            f"{base}#{path}", topic.split("/")[0]) for path, value, unit in _leaves(document)]


async def discover_mqtt(settings: MqttDiscovery, found: list[DiscoveredPoint],
                        progress: Callable[[str], None] | None = None) -> list[DiscoveredPoint]:
    """Listen for ``duration_s`` and fill ``found`` (also when cancelled part-way)."""
    import gmqtt

    last: dict[str, bytes] = {}

    def on_message(client: Any, topic: str, payload: bytes, qos: int, properties: Any) -> int:
        settings.stats["messages"] += 1
        last[topic] = bytes(payload)
        settings.stats["topics"] = len(last)
        if progress:
            progress(f"{len(last)} topics, {settings.stats['messages']} messages")
        return 0

    client = gmqtt.Client(f"revitpyiot-discover-{uuid.uuid4().hex[:8]}", clean_session=True)
    client.on_message = on_message
    if settings.username:
        client.set_auth_credentials(settings.username, settings.password)
    try:
        await client.connect(settings.host, settings.port, keepalive=30)
        client.subscribe(settings.topic, qos=0)
        deadline = time.monotonic() + settings.duration_s
        while time.monotonic() < deadline:
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    finally:
        broker = _broker(settings)
        found[:] = [point for topic in sorted(last) for point in describe(topic, last[topic], broker)]
        if client.is_connected:
            try:
                await asyncio.wait_for(client.disconnect(), 2.0)
            except (asyncio.TimeoutError, OSError):  # noqa: UP041 - the broker may be gone
                pass
    return found
