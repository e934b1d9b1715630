"""MqttSource against a real Mosquitto on loopback: payload formats, wildcard routing, bad
payloads, and the broker going away and coming back."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import gmqtt
import pytest
from source_peers import Mosquitto, make_source, running, running_mosquitto
from support.waiting import eventually

from sidecar.sources.base import RECONNECTING, RUNNING
from sidecar.sources.mqtt import MqttSource, parse_uri, topic_matches
from sidecar.sources.support import SourceConfigError


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    with running_mosquitto() as instance:
        yield instance


@pytest.fixture
async def publisher(broker: Mosquitto) -> AsyncIterator[Any]:
    client = gmqtt.Client(f"test-pub-{uuid.uuid4().hex[:8]}")
    await client.connect("127.0.0.1", broker.port)
    yield client
    await client.disconnect()


def settings(broker: Mosquitto, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": broker.port, "flush_interval_ms": 2, "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5, **extra}


async def subscribed(source: MqttSource) -> None:
    await eventually(lambda: source.state == RUNNING, what="mqtt source running")
    await asyncio.sleep(0.15)   # SUBACK follows CONNACK


def test_uri_forms() -> None:
    assert parse_uri("mqtt:///site/ahu1/sat") == ("", "site/ahu1/sat", "")
    assert parse_uri("mqtt://plant/site/+/telemetry#data.sat") == ("plant", "site/+/telemetry", "data.sat")
    assert parse_uri("mqtt://127.0.0.1:1884/site/#") == ("127.0.0.1:1884", "site/#", "")
    assert parse_uri("mqtt:///site/##temp") == ("", "site/#", "temp")
    assert parse_uri("mqtt:///a%20b/c") == ("", "a b/c", "")
    for bad in ("mqtt://broker", "mqtt://broker/", "mqtt:///a/b+/c", "http://x/y"):
        with pytest.raises(SourceConfigError):
            parse_uri(bad)
    assert topic_matches("site/+/t", "site/a/t") and not topic_matches("site/+/t", "site/a/b/t")
    assert topic_matches("site/#", "site/a/b") and topic_matches("#", "x")
    assert not topic_matches("#", "$SYS/broker/uptime")


async def test_plain_json_and_senml_payloads(broker: Mosquitto, publisher: Any) -> None:
    source, got = make_source("mqtt", {
        "plain": "mqtt:///t/plain",
        "json": "mqtt:///t/json",
        "nested": "mqtt:///t/nested#data.readings[1].v",
        "sat": "mqtt:///t/senml#sat",
        "rat": "mqtt:///t/senml#rat",
    }, settings(broker, ts_path="ts"))
    assert isinstance(source, MqttSource)
    async with running(source):
        await subscribed(source)
        publisher.publish("t/plain", b"21.5")
        publisher.publish("t/plain", b" -3e2 ")
        publisher.publish("t/json", json.dumps({"value": 7, "ts": 1767600000123}).encode())
        publisher.publish("t/json", json.dumps({"value": "8.5", "ts": "2026-01-05T08:00:00Z"}).encode())
        publisher.publish("t/nested", json.dumps({"data": {"readings": [{"v": 1}, {"v": 42.25}]}}).encode())
        now = time.time()
        senml = [{"bn": "ahu1/", "bt": 1767600000.0, "n": "sat", "v": 13.5},
                 {"n": "rat", "v": 22.0, "t": 1.5}, {"n": "sat", "t": 2, "v": 13.75},
                 {"n": "unknown", "v": 1.0}, {"n": "rat", "vs": "text"}]
        publisher.publish("t/senml", json.dumps(senml).encode())
        publisher.publish("t/senml", json.dumps([{"n": "sat", "v": 14.0, "t": -5}]).encode())
        await eventually(lambda: len(got.readings) >= 9, what="9 readings")
    assert got.values("plain") == [21.5, -300.0]
    assert [(t, v) for s, t, v in got.readings if s == "json"] == [(1767600000.123, 7.0), (1767600000.0, 8.5)]
    assert got.values("nested") == [42.25]
    sat = [(t, v) for s, t, v in got.readings if s == "sat"]
    assert sat[:2] == [(1767600000.0, 13.5), (1767600002.0, 13.75)]
    assert sat[2][1] == 14.0 and abs(sat[2][0] - (now - 5)) < 3   # SenML relative time
    assert [(t, v) for s, t, v in got.readings if s == "rat"] == [(1767600001.5, 22.0)]
    assert source.bad_payloads == 0
    assert got.calls < len(got.readings)   # batched, not one sink call per message


async def test_wildcards_route_by_field_level_and_single_binding(broker: Mosquitto, publisher: Any) -> None:
    source, got = make_source("mqtt", {
        "zone.1": "mqtt:///field/+/telemetry",
        "zone.2": "mqtt:///field/+/telemetry",
        "ahu.a": "mqtt:///level/+/x",
        "ahu.b": "mqtt:///level/+/x",
        "meter": "mqtt:///meters/#",
    }, {**settings(broker), "topics": [{"filter": "level/+/x", "sensor_level": 1}]})
    assert isinstance(source, MqttSource)
    async with running(source):
        await subscribed(source)
        publisher.publish("field/dev9/telemetry", json.dumps({"sensor": "zone.2", "value": 5}).encode())
        publisher.publish("field/dev7/telemetry", json.dumps({"sensor": "zone.1", "value": 6}).encode())
        publisher.publish("level/ahu.b/x", b"71")
        publisher.publish("level/ahu.a/x", b"{\"value\": 70}")
        publisher.publish("meters/floor1/main", b"1234.5")
        publisher.publish("meters/floor2", b"99")
        # Names nobody here: counted as bad, nothing delivered.
        publisher.publish("field/dev1/telemetry", json.dumps({"sensor": "zone.9", "value": 1}).encode())
        publisher.publish("field/dev1/telemetry", json.dumps({"value": 1}).encode())
        await eventually(lambda: len(got.readings) >= 6 and source.bad_payloads >= 2, what="wildcard readings")
    assert got.values("zone.1") == [6.0] and got.values("zone.2") == [5.0]
    assert got.values("ahu.a") == [70.0] and got.values("ahu.b") == [71.0]
    assert got.values("meter") == [1234.5, 99.0]
    assert source.bad_payloads == 2


async def test_bad_payloads_are_counted_and_never_stop_the_source(broker: Mosquitto, publisher: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    source, got = make_source("mqtt", {"s": "mqtt:///bad/s", "j": "mqtt:///bad/j#a.b", "n": "mqtt:///bad/n"},
                              {**settings(broker), "topics": [{"filter": "bad/n", "format": "senml"}]})
    assert isinstance(source, MqttSource)
    bad = [("bad/s", b"warm"), ("bad/s", b"nan"), ("bad/s", b"inf"), ("bad/s", b"\xff\xfe"), ("bad/s", b"{oops"),
           ("bad/s", b"[]"), ("bad/s", b"[1, 2]"), ("bad/s", b'{"value": true, "ts": "yesterday"}'),
           ("bad/s", b'{"value": 1, "ts": 99999999999}'),   # ms timestamp far in the future
           ("bad/j", b'{"a": {"c": 1}}'), ("bad/j", b'{"a": {"b": null}}'), ("bad/j", b'{"a": {"b": [1]}}'),
           ("bad/n", b'{"v": 1}'), ("bad/n", b'[{"bn": 5, "v": 1}]'), ("bad/s", b"")]
    with caplog.at_level(logging.WARNING, logger="sidecar.sources.mqtt"):
        async with running(source):
            await subscribed(source)
            for topic, payload in bad:
                publisher.publish(topic, payload)
            publisher.publish("bad/s", b"1.25")
            await eventually(lambda: got.values("s") == [1.25] and source.bad_payloads >= len(bad),
                             what="bad payloads counted, good one delivered")
            assert source.state == RUNNING
    assert source.bad_payloads == len(bad)
    warnings = [r for r in caplog.records if "bad payload" in r.getMessage()]
    assert 1 <= len(warnings) <= 3   # rate-limited: one per topic per interval


async def test_broker_restart_reconnects_and_reports_states() -> None:
    with running_mosquitto() as own:
        source, got = make_source("mqtt", {"s": "mqtt:///restart/s"}, settings(own))
        assert isinstance(source, MqttSource)
        seen: list[str] = []
        async with running(source) as runner:
            async def watch() -> None:
                while True:
                    if not seen or seen[-1] != runner.state:
                        seen.append(runner.state)
                    await asyncio.sleep(0.01)
            watcher = asyncio.create_task(watch())
            await subscribed(source)
            pub = gmqtt.Client("restart-pub-1")
            await pub.connect("127.0.0.1", own.port)
            pub.publish("restart/s", b"1")
            await eventually(lambda: got.values("s") == [1.0], what="first reading")
            await pub.disconnect()
            own.stop()
            await eventually(lambda: source.state == RECONNECTING, what="reconnecting after broker stop")
            await asyncio.sleep(0.6)   # a few failed attempts with back-off
            own.start()
            await eventually(lambda: source.state == RUNNING, what="running after broker restart")
            await asyncio.sleep(0.15)
            pub = gmqtt.Client("restart-pub-2")
            await pub.connect("127.0.0.1", own.port)
            pub.publish("restart/s", b"2")
            await eventually(lambda: got.values("s") == [1.0, 2.0], what="reading after restart")
            await pub.disconnect()
            watcher.cancel()
        assert source.links[""].connects == 2
        assert seen[:1] == ["starting"] and "running" in seen and "reconnecting" in seen
        assert seen.index("reconnecting") > seen.index("running")
        assert seen[-1] == "running"


async def test_bad_config_reports_error_without_crashing() -> None:
    source, _ = make_source("mqtt", {"s": "mqtt:///x"}, {"port": "not a port"})
    async with running(source) as runner:
        await eventually(lambda: runner.state == "error", what="error state")
    assert source.config_error is not None and "mqtt.port" in source.config_error
