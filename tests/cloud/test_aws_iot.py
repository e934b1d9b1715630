"""AWS IoT Core connector against a real Mosquitto mutual-TLS broker standing in for IoT Core."""
from __future__ import annotations

import asyncio
import json
import time

from cloud_helpers import Observer, aws_settings, connected, user_props

from sidecar.cloud import create_connector
from sidecar.cloud.base import CloudConnector

CONFIG = {"building_id": "B1", "elements": [
    {"unique_id": "u-s1", "kind": "sensor", "sensor": {"sensor_id": "s1", "quantity": "temperature", "unit": "Cel"}},
]}


async def started(broker, pki, tmp_path, handler, **extra) -> CloudConnector:
    connector = create_connector("aws", aws_settings(broker, pki, **extra), tmp_path, handler)
    connector.on_config(CONFIG)
    return await connected(connector)


async def test_telemetry_alerts_and_shadow_on_iot_core_topics(aws_broker, pki, tmp_path, handler, observer_factory):
    observer: Observer = await observer_factory(aws_broker)
    connector = await started(aws_broker, pki, tmp_path, handler)
    try:
        now = time.time()
        connector.on_readings([("s1", now, 20.0), ("s1", now + 1, 20.5)])
        alert = {"alert_id": "A9", "building_id": "B1", "unique_id": "u-s1", "element_id": 3, "sensor_id": "s1",
                 "kind": "high", "severity": "warning", "state": "active", "message": "warm",
                 "raised_ts": now, "updated_ts": now}
        connector.on_alert(alert)
        connector.on_status({"state": "monitoring", "building_id": "B1", "sensors": 1, "readings_per_s": 1.0,
                             "active_alerts": 1, "uptime_s": 3.0, "sources": {}})
        data = await observer.wait_for(lambda ms: [m for m in ms if m.topic == "building/B1/sensors/data"])
        alerts = await observer.wait_for(lambda ms: [m for m in ms if m.topic == "building/B1/alerts"])
        shadow = await observer.wait_for(lambda ms: [m for m in ms if m.topic == "$aws/things/thing1/shadow/update"])
        body = data[0].json()
        assert body["readings"] == [["s1", now, 20.0], ["s1", now + 1, 20.5]]
        assert body["type"] == "telemetry" and body["building_id"] == "B1" and body["quantity"] == "temperature"
        props = user_props(data[0])
        assert props == {"message_id": body["message_id"], "building": "B1", "type": "telemetry",
                         "quantity": "temperature", "sensor": "s1"}
        assert data[0].properties["content_type"] == ["application/json"]
        assert data[0].properties["payload_format_id"] == [1]
        assert alerts[0].json()["alert"] == alert
        assert user_props(alerts[0])["severity"] == "warning"
        assert alerts[0].json()["seq"] > body["seq"]
        reported = shadow[0].json()["state"]["reported"]["revitpyiot"]
        assert reported["sidecar"]["state"] == "monitoring"
        assert reported["connector"]["kind"] == "aws" and reported["connector"]["state"] == "connected"
    finally:
        await connector.stop()


async def test_commands_reach_the_handler_and_results_come_back(aws_broker, pki, tmp_path, handler,
                                                                 observer_factory):
    observer: Observer = await observer_factory(aws_broker)
    connector = await started(aws_broker, pki, tmp_path, handler)
    try:
        # the connector subscribes after connecting: wait for it before publishing a command
        for _ in range(100):
            if getattr(connector, "_subscribed_topic", None):
                break
            await asyncio.sleep(0.02)
        # MQTT 5 request/response, as an IoT Core rule or app would send it
        observer.publish("building/B1/controls/commands", json.dumps(
            {"type": "ack", "id": "c-1", "body": {"alert_id": "A9", "user": "ops"}}),
            response_topic="building/B1/controls/results/app-7", correlation_data=b"corr-1")
        # plain MQTT 3 style (no response topic): the result goes to the results topic
        observer.publish("building/B1/controls/commands", json.dumps({"type": "start", "id": "c-2"}))
        observer.publish("building/B1/controls/commands", b"not json")
        observer.publish("building/B1/controls/commands", json.dumps({"type": "configure", "id": "c-3"}))
        def four_results(ms: list) -> list | None:
            results = [m for m in ms if m.topic.startswith("building/B1/controls/results")]
            return results if len(results) >= 4 else None

        answered = await observer.wait_for(four_results)
        by_id = {m.json()["id"]: m for m in answered}
        first = by_id["c-1"]
        assert first.topic == "building/B1/controls/results/app-7"
        assert first.properties["correlation_data"] == [b"corr-1"]
        assert first.json()["ok"] is True and first.json()["body"]["alert"]["state"] == "acknowledged"
        assert by_id["c-2"].topic == "building/B1/controls/results"
        assert by_id["c-2"].json()["error"] == {"code": "conflict", "message": "no configuration to start"}
        assert by_id[None].json()["error"]["code"] == "bad_request"
        assert by_id["c-3"].json()["error"]["code"] == "unauthorized"
        assert handler.calls == [("ack", {"alert_id": "A9", "user": "ops"}), ("start", {})]
    finally:
        await connector.stop()


async def test_a_client_certificate_from_another_ca_is_refused(aws_broker, pki, tmp_path, handler):
    from cloud_peers import cleanup, make_pki, world_readable_dir
    other_dir = world_readable_dir("rpiot-other-ca-")
    try:
        other = make_pki(other_dir)
        cert, key = other.client("intruder")
        settings = aws_settings(aws_broker, pki, certificate_file=str(cert), private_key_file=str(key))
        connector = create_connector("aws", settings, tmp_path, handler)
        await connector.start()
        try:
            connector.on_readings([("s1", time.time(), 1.0)])
            for _ in range(100):
                if connector.status()["last_error"]:
                    break
                await asyncio.sleep(0.05)
            status = connector.status()
            assert status["state"] != "connected" and status["last_error"]
            assert status["backlog"] == 1 and status["delivered"] == 0
        finally:
            await connector.stop()
    finally:
        cleanup(other_dir)
