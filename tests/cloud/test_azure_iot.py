"""Azure IoT Hub connector against a real Mosquitto TLS broker standing in for IoT Hub."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import pytest
from cloud_helpers import Observer, RecordingHandler, azure_connection_string, azure_settings, connected

from sidecar.cloud import create_connector
from sidecar.cloud.base import CloudConnector

CONFIG = {"building_id": "B1", "elements": [
    {"unique_id": "u-s1", "kind": "sensor", "sensor": {"sensor_id": "s1", "quantity": "temperature", "unit": "Cel"}},
    {"unique_id": "u-s2", "kind": "sensor", "sensor": {"sensor_id": "s2", "quantity": "co2", "unit": "ppm"}},
]}


def d2c_props(topic: str) -> dict[str, str]:
    """IoT Hub's device-to-cloud topic carries the message's properties as a URL-encoded bag."""
    prefix = "devices/dev1/messages/events/"
    assert topic.startswith(prefix), topic
    return {unquote(k): v for k, v in parse_qsl(topic[len(prefix):], keep_blank_values=True)}


async def started(monkeypatch: pytest.MonkeyPatch, broker, pki, tmp_path: Path, handler: RecordingHandler,
                  **extra) -> CloudConnector:
    monkeypatch.setenv("RPIOT_TEST_AZURE_CS", azure_connection_string(broker))
    connector = create_connector("azure", azure_settings(broker, pki, **extra), tmp_path, handler)
    connector.on_config(CONFIG)
    return await connected(connector)


async def test_telemetry_and_alerts_arrive_with_iot_hub_properties(
        monkeypatch, azure_broker, pki, tmp_path, handler, observer_factory):
    observer: Observer = await observer_factory(azure_broker)
    connector = await started(monkeypatch, azure_broker, pki, tmp_path, handler)
    try:
        now = time.time()
        connector.on_readings([("s1", now, 21.5), ("s2", now, 640.0), ("s1", now + 1, 21.75)])
        alert = {"alert_id": "A1", "building_id": "B1", "unique_id": "u-s2", "element_id": 7,
                 "sensor_id": "s2", "kind": "high", "severity": "critical", "state": "active",
                 "message": "CO2 high", "value": 1900.0, "threshold": 1500.0, "raised_ts": now, "updated_ts": now}
        connector.on_alert(alert)
        def three_events(ms: list) -> list | None:
            events = [m for m in ms if m.topic.startswith("devices/dev1/messages/events/")]
            return events if len(events) >= 3 else None

        events = await observer.wait_for(three_events)
        by_type = {}
        for m in events:
            props = d2c_props(m.topic)
            by_type.setdefault(props["type"], []).append((props, m.json()))
        temps = [(p, b) for p, b in by_type["telemetry"] if p.get("quantity") == "temperature"]
        co2 = [(p, b) for p, b in by_type["telemetry"] if p.get("quantity") == "co2"]
        assert len(temps) == 1 and len(co2) == 1
        props, body = temps[0]
        assert props["$.ct"] == "application/json" and props["$.ce"] == "utf-8"
        assert props["building"] == "B1" and props["sensor"] == "s1"
        assert props["$.mid"] == body["message_id"]
        assert body["readings"] == [["s1", now, 21.5], ["s1", now + 1, 21.75]]
        assert body["building_id"] == "B1" and body["type"] == "telemetry" and body["quantity"] == "temperature"
        assert co2[0][1]["readings"] == [["s2", now, 640.0]]
        (aprops, abody), = by_type["alert"]
        assert aprops["severity"] == "critical" and aprops["state"] == "active"
        assert aprops["sensor"] == "s2" and aprops["quantity"] == "co2" and aprops["building"] == "B1"
        assert abody["alert"] == alert
        # ids are unique and seq follows the order things were produced
        seqs = [b["seq"] for m in events for b in [m.json()]]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        for _ in range(100):  # the broker forwards before the connector has processed its PUBACKs
            if connector.status()["delivered"] >= 3:
                break
            await asyncio.sleep(0.02)
        assert connector.status()["delivered"] == 3 and connector.status()["backlog"] == 0
    finally:
        await connector.stop()


async def test_direct_methods_and_c2d_commands_reach_the_handler_and_answer(
        monkeypatch, azure_broker, pki, tmp_path, handler, observer_factory):
    observer: Observer = await observer_factory(azure_broker)
    connector = await started(monkeypatch, azure_broker, pki, tmp_path, handler)
    try:
        # a direct method, as IoT Hub invokes it
        observer.publish("$iothub/methods/POST/ack/?$rid=42", json.dumps({"alert_id": "A1", "user": "ops"}))
        res = await observer.wait_for(lambda ms: [m for m in ms if m.topic.startswith("$iothub/methods/res/")])
        assert res[0].topic == "$iothub/methods/res/200/?$rid=42"
        assert res[0].json() == {"ok": True, "body": {"alert": {"alert_id": "A1", "state": "acknowledged",
                                                                 "acked_by": "ops"}}}
        # the handler's error comes back with its code and an HTTP-like status
        observer.publish("$iothub/methods/POST/start/?$rid=43", "{}")
        res = await observer.wait_for(lambda ms: [m for m in ms if m.topic.startswith("$iothub/methods/res/") and m.topic.endswith("$rid=43")])
        assert res[0].topic == "$iothub/methods/res/409/?$rid=43"
        assert res[0].json()["error"] == {"code": "conflict", "message": "no configuration to start"}
        # a command the cloud may not run never reaches the handler
        observer.publish("$iothub/methods/POST/configure/?$rid=44", "{}")
        res = await observer.wait_for(lambda ms: [m for m in ms if m.topic.startswith("$iothub/methods/res/") and m.topic.endswith("$rid=44")])
        assert res[0].topic == "$iothub/methods/res/403/?$rid=44"

        # a cloud-to-device message, as IoT Hub delivers it
        body = {"type": "set_limits", "id": "cmd-7", "body": {"sensor_id": "s1", "limits": {"high": 26.0}}}
        observer.publish("devices/dev1/messages/devicebound/%24.mid=c2d-7&%24.to=%2Fdevices%2Fdev1%2Fmessages"
                         "%2FdeviceBound", json.dumps(body))
        # the body-only form with the type in a property
        observer.publish("devices/dev1/messages/devicebound/%24.mid=c2d-8&%24.to=%2Fdevices%2Fdev1%2Fmessages"
                         "%2FdeviceBound&command=snapshot", "{}")
        # garbage is answered, not fatal
        observer.publish("devices/dev1/messages/devicebound/%24.mid=c2d-9", b"\xff not json")

        def results(ms):
            found = [m for m in ms if m.topic.startswith("devices/dev1/messages/events/")
                     and d2c_props(m.topic).get("type") == "command_result"]
            return found if len(found) >= 3 else None
        found = await observer.wait_for(results)
        by_cid = {d2c_props(m.topic)["$.cid"]: m.json() for m in found}
        assert by_cid["c2d-7"]["ok"] is True and by_cid["c2d-7"]["id"] == "cmd-7"
        assert by_cid["c2d-7"]["body"] == {"sensor_id": "s1", "limits": {"high": 26.0}}
        assert by_cid["c2d-8"]["ok"] is True and by_cid["c2d-8"]["command"] == "snapshot"
        assert by_cid["c2d-9"]["ok"] is False and by_cid["c2d-9"]["error"]["code"] == "bad_request"
        assert ("ack", {"alert_id": "A1", "user": "ops"}) in handler.calls
        assert ("set_limits", {"sensor_id": "s1", "limits": {"high": 26.0}}) in handler.calls
        assert ("snapshot", {}) in handler.calls
        assert [c for c, _ in handler.calls].count("configure") == 0
    finally:
        await connector.stop()


async def test_status_is_reported_in_the_device_twin(
        monkeypatch, azure_broker, pki, tmp_path, handler, observer_factory):
    observer: Observer = await observer_factory(azure_broker)

    def twin_service(message):  # IoT Hub answers a reported-properties patch with 204
        if message.topic.startswith("$iothub/twin/PATCH/properties/reported/"):
            rid = message.topic.split("$rid=")[1].split("&")[0]
            observer.publish(f"$iothub/twin/res/204/?$rid={rid}&$version=2", b"")
    observer.responders.append(twin_service)
    connector = await started(monkeypatch, azure_broker, pki, tmp_path, handler)
    try:
        connector.on_status({"state": "monitoring", "building_id": "B1", "sensors": 2, "readings_per_s": 4.0,
                             "active_alerts": 1, "uptime_s": 12.0, "sources": {"sim": "running"}})
        patches = await observer.wait_for(
            lambda ms: [m for m in ms if m.topic.startswith("$iothub/twin/PATCH/properties/reported/")])
        doc = patches[0].json()["revitpyiot"]
        assert doc["sidecar"]["state"] == "monitoring" and doc["sidecar"]["active_alerts"] == 1
        assert doc["connector"]["state"] == "connected" and doc["connector"]["kind"] == "azure"
        assert doc["connector"]["last_error"] is None
    finally:
        await connector.stop()


async def test_unreachable_hub_is_reported_in_status_and_nothing_is_lost(
        monkeypatch, azure_broker, pki, tmp_path, handler):
    azure_broker.stop()
    monkeypatch.setenv("RPIOT_TEST_AZURE_CS", azure_connection_string(azure_broker))
    connector = create_connector("azure", azure_settings(azure_broker, pki), tmp_path, handler)
    await connector.start()
    try:
        connector.on_readings([("s1", time.time(), 1.0)])
        for _ in range(100):
            status = connector.status()
            if status["last_error"] and status["backlog"] == 1:
                break
            await asyncio.sleep(0.05)
        assert status["state"] in ("disconnected", "connecting")
        assert status["backlog"] == 1 and status["delivered"] == 0 and status["dropped"] == 0
        assert "connect" in status["last_error"]
    finally:
        await connector.stop()
