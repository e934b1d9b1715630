"""Helpers for the cloud-connector tests (imported by conftest and the tests; a unique module
name, since several test folders have a conftest.py)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloud_peers import Mosquitto, Pki
from gmqtt import Client as GmqttClient

from sidecar.cloud.base import CloudConnector

DEVICE_KEY = "dGVzdC1vbmx5LWRldmljZS1rZXktZG8tbm90LWxlYWs="  # base64, like a real IoT Hub key
UNMASKED_SIG = re.compile(r"sig=(?!\*\*\*)[^&\s;]{6,}")


def leaks(text: str, secrets: list[str]) -> list[str]:
    """What of ``secrets`` (or an unmasked SAS signature) stands in ``text``."""
    found = [s[:12] + "..." for s in secrets if s and s in text]
    if UNMASKED_SIG.search(text):
        found.append("an unmasked SAS signature")
    return found


async def connected(connector: CloudConnector) -> CloudConnector:
    """Start a connector (already told the building) and wait until it reports "connected"."""
    await connector.start()
    for _ in range(200):
        if connector.status()["state"] == "connected":
            break
        await asyncio.sleep(0.05)
    assert connector.status()["state"] == "connected", connector.status()
    return connector


def user_props(message: Received) -> dict[str, str]:
    return dict(message.properties.get("user_property", []))


@dataclass
class Received:
    topic: str
    payload: bytes
    properties: dict[str, Any]
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Observer:
    """A plain MQTT 5 client on the broker's observer listener: sees what the cloud would see and
    publishes what the cloud would send. Its session persists so that a broker restart (with
    persistence on) loses nothing it subscribed to."""
    host: str
    port: int
    topics: tuple[str, ...] = ("#", "$iothub/#", "$aws/#")
    client_id: str = field(default_factory=lambda: f"observer-{uuid.uuid4().hex[:8]}")
    messages: list[Received] = field(default_factory=list)
    responders: list[Callable[[Received], None]] = field(default_factory=list)
    client: GmqttClient | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self, subscribe: bool = True) -> None:
        client = GmqttClient(self.client_id, clean_session=False, session_expiry_interval=3600)
        client.on_message = self._on_message
        # bounded: a broker that never answers fails the test here instead of hanging it
        await asyncio.wait_for(client.connect(self.host, self.port, keepalive=30), 15)
        if subscribe:
            for topic in self.topics:
                client.subscribe(topic, qos=1)
            await asyncio.sleep(0.2)
        self.client = client

    async def reconnect(self) -> None:
        """After a broker restart: same client id, session restored from the broker's store."""
        await self.close()
        await self.connect(subscribe=True)

    async def close(self) -> None:
        if self.client is not None:
            self.client.reconnect_retries = 0
            # a broker already gone: the observer is discarded either way
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), 2)
            self.client = None

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, properties: dict) -> int:
        message = Received(topic, payload, properties, time.time())
        self.messages.append(message)
        for responder in list(self.responders):
            responder(message)
        self._changed.set()
        return 0

    def publish(self, topic: str, payload: bytes | str, **properties: Any) -> None:
        assert self.client is not None
        self.client.publish(topic, payload, qos=1, **properties)

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [m for m in self.messages if predicate(m)]

    async def wait_for(self, predicate: Callable[[list[Received]], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.messages)
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; {len(self.messages)} messages seen, last topics: "
                                     f"{[m.topic for m in self.messages[-5:]]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass


class HandlerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class RecordingHandler:
    """The sidecar's command handler as the connectors see it: records calls, answers like the
    service would (``ack`` returns the alert; ``conflict`` for a start without configuration)."""
    calls: list[tuple[str, dict]] = field(default_factory=list)

    async def __call__(self, kind: str, body: dict) -> dict:
        await asyncio.sleep(0)  # a real coroutine, scheduled on the loop
        self.calls.append((kind, body))
        if kind == "ack":
            return {"alert": {"alert_id": body["alert_id"], "state": "acknowledged", "acked_by": body.get("user")}}
        if kind == "start":
            raise HandlerError("conflict", "no configuration to start")
        if kind == "set_limits":
            return {"sensor_id": body.get("sensor_id"), "limits": body.get("limits")}
        if kind == "snapshot":
            return {"health": [], "alerts": []}
        return {"state": "monitoring"}


def azure_settings(broker: Mosquitto, pki: Pki, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "connection_string_env": "RPIOT_TEST_AZURE_CS",
        "server_verification_cert_file": str(pki.ca_cert),
        "building_id": "B1",
        "backoff_initial_s": 0.1, "backoff_max_s": 0.5, "publish_timeout_s": 3,
        "connect_timeout_s": 5, "status_interval_s": 0.2,
    }
    settings.update(extra)
    return settings


def azure_connection_string(broker: Mosquitto, device_id: str = "dev1") -> str:
    return f"HostName={broker.host};DeviceId={device_id};SharedAccessKey={DEVICE_KEY}"


def aws_settings(broker: Mosquitto, pki: Pki, thing: str = "thing1", **extra: Any) -> dict[str, Any]:
    cert, key = pki.client(thing)
    settings: dict[str, Any] = {
        "endpoint": broker.host, "port": broker.mtls_port, "thing_name": thing,
        "certificate_file": str(cert), "private_key_file": str(key), "ca_file": str(pki.ca_cert),
        "building_id": "B1",
        "backoff_initial_s": 0.1, "backoff_max_s": 0.5, "publish_timeout_s": 3,
        "connect_timeout_s": 5, "status_interval_s": 0.2,
    }
    settings.update(extra)
    return settings
