"""MQTT delivery across a broker restart and a sidecar restart, against a real Mosquitto with
persistence: QoS 1 by default, a persistent session under a stable client id, a reconnect that
notices the broker's return within about a second, and redeliveries dropped by (sensor, timestamp)."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from source_peers import Mosquitto, make_source, running, running_mosquitto
from support.waiting import eventually

from sidecar.config import config_from_mapping
from sidecar.sources.base import RECONNECTING, RUNNING
from sidecar.sources.mqtt import MqttSource, client_id
from sidecar.sources.settings import MqttBrokerSettings, parse_source_section

SENSORS = {"s1": "mqtt:///plant/s1", "s2": "mqtt:///plant/s2"}
T0 = 1767600000.0


class Publisher:
    """A paho client on its own thread publishing JSON readings at QoS 1; a reading counts as
    acknowledged once the broker's PUBACK came back (paho resends unacknowledged ones itself)."""

    def __init__(self, broker: Mosquitto):
        self.client = paho.Client(f"pub-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.05, 0.2)
        self.acked: set[int] = set()   # message ids the broker acknowledged (PUBACK)
        self.client.on_publish = lambda client, userdata, mid: self.acked.add(mid)
        self.client.connect("127.0.0.1", broker.port, keepalive=5)
        self.client.loop_start()
        self.sent: list[tuple[str, float, int]] = []   # (sensor, ts, message id)
        self.thread: threading.Thread | None = None

    def publish(self, count: int, rate_hz: float, first: int = 0) -> None:
        def run() -> None:
            for i in range(first, first + count):
                sensor = "s1" if i % 2 else "s2"
                ts = T0 + i / 1000.0
                info = self.client.publish(f"plant/{sensor}", json.dumps({"value": float(i), "ts": ts}), qos=1)
                self.sent.append((sensor, ts, info.mid))
                time.sleep(1.0 / rate_hz)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def acknowledged(self) -> set[tuple[str, float]]:
        return {(sensor, ts) for sensor, ts, mid in self.sent if mid in self.acked}

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join(30)
        self.client.loop_stop()
        self.client.disconnect()


def defaults(broker: Mosquitto) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": broker.port}   # everything else as shipped: QoS 1, session, probe


async def test_qos1_broker_restart_during_ingest_loses_no_acknowledged_reading() -> None:
    with running_mosquitto(persistent=True) as broker:
        source, got = make_source("mqtt", SENSORS, defaults(broker))
        assert isinstance(source, MqttSource)
        link = source.links[""]
        publisher = Publisher(broker)
        try:
            async with running(source):
                await eventually(lambda: source.state == RUNNING, what="mqtt source running")
                await asyncio.sleep(0.2)
                publisher.publish(3000, rate_hz=1000.0)
                await eventually(lambda: len(got.readings) >= 400, what="readings before the restart")
                broker.stop()                     # SIGTERM: Mosquitto saves its sessions and queues
                await eventually(lambda: source.state == RECONNECTING, what="reconnecting")
                await asyncio.sleep(2.0)          # away for a while: several back-off rounds
                back = time.monotonic()
                broker.start()
                await eventually(lambda: source.state == RUNNING, timeout_s=10, what="running again")
                noticed_s = time.monotonic() - back
                await asyncio.to_thread(publisher.thread.join, 60)  # type: ignore[union-attr]
                await eventually(lambda: len(publisher.acknowledged()) == len(publisher.sent), timeout_s=20,
                                 what="every publish acknowledged")
                acknowledged = publisher.acknowledged()
                await eventually(lambda: acknowledged <= {(s, t) for s, t, _ in got.readings}, timeout_s=20,
                                 what="every acknowledged reading delivered")
                await asyncio.sleep(0.3)          # let any late redelivery arrive
        finally:
            publisher.close()
    keys = [(s, t) for s, t, _ in got.readings]
    missing = acknowledged - set(keys)
    assert not missing, f"{len(missing)} acknowledged readings lost"
    assert len(acknowledged) == 3000
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} duplicates reached the sink"
    assert all(v == round((t - T0) * 1000.0) for _, t, v in got.readings)
    assert link.connects == 2 and link.sessions_resumed == 1   # the broker kept the session
    assert noticed_s < 2.0, f"the broker's return was noticed after {noticed_s:.2f} s"


async def test_the_broker_queues_while_the_sidecar_is_away(tmp_path: Path) -> None:
    """A stable client id (building + data dir): a new source instance (the sidecar restarted)
    finds its session and what was published at QoS 1 in between."""
    with running_mosquitto(persistent=True) as broker:
        settings = replace(parse_source_section("mqtt", defaults(broker)), data_dir=str(tmp_path))
        first, _ = make_source("mqtt", SENSORS, settings)
        async with running(first):
            await eventually(lambda: first.state == RUNNING, what="first source running")
            await asyncio.sleep(0.2)
        publisher = Publisher(broker)
        try:
            publisher.publish(200, rate_hz=2000.0)
            await asyncio.to_thread(publisher.thread.join, 30)  # type: ignore[union-attr]
            await eventually(lambda: len(publisher.acknowledged()) == 200, what="published while away")
        finally:
            publisher.close()
        second, got = make_source("mqtt", SENSORS, settings)
        assert isinstance(first, MqttSource) and isinstance(second, MqttSource)
        assert first.links[""].broker.client_id == second.links[""].broker.client_id
        async with running(second):
            await eventually(lambda: len(got.readings) >= 200, what="the queued readings")
        assert {(s, t) for s, t, _ in got.readings} == publisher.acknowledged()
        assert second.links[""].sessions_resumed == 1


async def test_a_redelivered_message_is_dropped_by_sensor_and_timestamp() -> None:
    with running_mosquitto() as broker:
        source, got = make_source("mqtt", SENSORS, defaults(broker))
        assert isinstance(source, MqttSource)
        on_message = source._receiver(source.links[""])
        payload = json.dumps({"value": 5.0, "ts": T0}).encode()
        on_message(None, "plant/s1", payload, 1, {"dup": 0})
        on_message(None, "plant/s1", payload, 1, {"dup": 1})        # the broker sent it again
        on_message(None, "plant/s1", json.dumps({"value": 6.0, "ts": T0 + 1}).encode(), 1, {"dup": 1})
        on_message(None, "plant/s2", payload, 1, {"dup": 1})        # another sensor: not a repeat
        source.buffer.flush()
    assert got.readings == [("s1", T0, 5.0), ("s1", T0 + 1, 6.0), ("s2", T0, 5.0)]
    assert source.duplicates == 1


def test_client_id_is_stable_per_building_and_data_dir() -> None:
    plain = MqttBrokerSettings()
    assert client_id(plain, "", "B1", "/data/a") == client_id(plain, "", "B1", "/data/a")
    assert client_id(plain, "", "B1", "/data/a") != client_id(plain, "", "B1", "/data/b")
    assert client_id(plain, "", "B1", "/data/a") != client_id(plain, "", "B2", "/data/a")
    assert client_id(plain, "plant", "B1", "/data/a") != client_id(plain, "", "B1", "/data/a")
    assert client_id(replace(plain, client_id="ops"), "plant", "B1", "/data/a") == "ops-plant"
    config = config_from_mapping({"sidecar": {"data_dir": "/srv/revitpyiot"}})
    mqtt = config.sources["mqtt"]
    assert mqtt.data_dir == "/srv/revitpyiot"
    assert mqtt.default.route.qos == 1 and mqtt.default.persistent_session
    assert mqtt.default.reconnect.max_s <= 5.0
