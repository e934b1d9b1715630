"""The cloud connectors inside the REAL sidecar: ``python -m sidecar serve`` with ``[cloud.azure]``
and ``[cloud.aws]`` sections, fed over ZeroMQ, talking to Mosquitto brokers that play IoT Hub
(TLS) and IoT Core (mutual TLS); plus the data-loss alert with a tiny outbox during an outage."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from cloud_helpers import DEVICE_KEY, Observer, Received, leaks, user_props
from cloud_peers import Mosquitto, Pki
from support.buildings import small_building
from support.protocol_client import CommandClient, EventListener
from support.sidecar_process import running_sidecar
from support.waiting import eventually

from sidecar.alarms.record import KIND_CLOUD_DATA_LOSS
from sidecar.config import load_config
from sidecar.service import Sidecar

BUILDING = "HQ"
DEVICE = "dev-sc"
THING = "thing-sc"
CS_ENV = "RPIOT_TEST_SIDECAR_AZURE_CS"
FAST = {"backoff_initial_s": 0.1, "backoff_max_s": 0.5, "publish_timeout_s": 3, "connect_timeout_s": 5,
        "status_interval_s": 0.5}


def toml_section(name: str, settings: dict[str, Any]) -> str:
    # json.dumps gives valid TOML for strings, numbers and booleans
    return f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()) + "\n"


def azure_section(broker: Mosquitto, pki: Pki, **extra: Any) -> str:
    return toml_section("cloud.azure", {"connection_string_env": CS_ENV,
                                        "server_verification_cert_file": str(pki.ca_cert), **FAST, **extra})


def aws_section(broker: Mosquitto, pki: Pki) -> tuple[str, Path]:
    cert, key = pki.client(THING)
    return toml_section("cloud.aws", {"endpoint": broker.host, "port": broker.mtls_port, "thing_name": THING,
                                      "certificate_file": str(cert), "private_key_file": str(key),
                                      "ca_file": str(pki.ca_cert), **FAST}), key


def connection_string(broker: Mosquitto) -> str:
    return f"HostName={broker.host};DeviceId={DEVICE};SharedAccessKey={DEVICE_KEY}"


def d2c(ms: list[Received], kind: str) -> list[tuple[dict[str, str], dict]]:
    """Device-to-cloud messages of one ``type``: (properties, body). IoT Hub's topic carries the
    message's properties as a URL-encoded bag."""
    prefix = f"devices/{DEVICE}/messages/events/"
    found = []
    for m in ms:
        if m.topic.startswith(prefix):
            props = {unquote(k): v for k, v in parse_qsl(m.topic[len(prefix):], keep_blank_values=True)}
            if props.get("type") == kind:
                found.append((props, m.json()))
    return found


async def until(check: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    return await eventually(check, timeout, what, interval_s=0.1)


async def test_real_sidecar_sends_to_both_clouds_and_obeys_their_commands(
        monkeypatch, azure_broker, aws_broker, pki, observer_factory):
    azure: Observer = await observer_factory(azure_broker)
    aws: Observer = await observer_factory(aws_broker)
    cs = connection_string(azure_broker)
    monkeypatch.setenv(CS_ENV, cs)  # running_sidecar passes os.environ to the subprocess
    aws_text, key_file = aws_section(aws_broker, pki)
    config = azure_section(azure_broker, pki) + aws_text
    with running_sidecar(config_text=config, log_level="DEBUG") as handle:
        client = CommandClient(handle.command_endpoint, handle.token)
        events = EventListener(handle.event_endpoint, ("alert", "status"))
        try:
            events.settle(client)
            client.call("configure", small_building(building_id=BUILDING))
            client.call("start")
            def both_connected() -> dict | None:
                cloud = client.call("status").get("cloud", {})
                return cloud if all(cloud.get(k, {}).get("state") == "connected" for k in ("azure", "aws")) else None
            status = await until(both_connected, what="both connectors connected")
            assert status["azure"]["kind"] == "azure" and status["aws"]["kind"] == "aws"

            now = time.time()
            reply = client.call("ingest", {"readings": [["ahu1.sat", now - 2, 15.0], ["zone.co2", now - 2, 600.0],
                                                        ["ahu1.sat", now - 1, 15.5]]})
            assert reply["accepted"] == 3
            reply = client.call("ingest", {"readings": [["ahu1.sat", now, 30.0]]})  # > high_critical 24
            raised = await asyncio.to_thread(events.wait_for, lambda t, e: t == "alert"
                                             and e["body"].get("sensor_id") == "ahu1.sat", 15.0, "raised alert")
            alert = raised["body"]
            assert alert["state"] == "active" and alert["severity"] == "critical"

            # IoT Hub: telemetry per quantity with its properties, then the alert as its own message
            def azure_sat(ms):
                got = [(p, b) for p, b in d2c(ms, "telemetry") if p.get("quantity") == "temperature"]
                return got if sum(len(b["readings"]) for _, b in got) >= 3 else None
            temps = await azure.wait_for(azure_sat)
            props, body = temps[0]
            assert props["building"] == BUILDING and props["sensor"] == "ahu1.sat"
            assert props["$.ct"] == "application/json" and props["$.ce"] == "utf-8"
            assert props["$.mid"] == body["message_id"] and body["building_id"] == BUILDING
            assert [r[2] for _, b in temps for r in b["readings"]] == [15.0, 15.5, 30.0]
            co2 = await azure.wait_for(lambda ms: [x for x in d2c(ms, "telemetry") if x[0].get("quantity") == "co2"])
            assert co2[0][1]["readings"] == [["zone.co2", now - 2, 600.0]]
            (aprops, abody), = await azure.wait_for(lambda ms: d2c(ms, "alert")[:1])
            assert aprops["severity"] == "critical" and aprops["state"] == "active"
            assert aprops["sensor"] == "ahu1.sat" and aprops["quantity"] == "temperature"
            assert abody["alert"]["alert_id"] == alert["alert_id"]

            # IoT Core: the same on the building's topics, MQTT 5 user properties
            data = await aws.wait_for(lambda ms: [m for m in ms if m.topic == f"building/{BUILDING}/sensors/data"
                                                  and user_props(m).get("quantity") == "temperature"])
            assert user_props(data[0])["building"] == BUILDING and data[0].json()["readings"][0][0] == "ahu1.sat"
            alerts = await aws.wait_for(lambda ms: [m for m in ms if m.topic == f"building/{BUILDING}/alerts"])
            assert user_props(alerts[0])["severity"] == "critical"
            assert alerts[0].json()["alert"]["alert_id"] == alert["alert_id"]

            # status.cloud: both connected, with their backlog and message figures
            def delivered():
                c = client.call("status")["cloud"]
                return c if c["azure"]["delivered"] >= 3 and c["aws"]["delivered"] >= 3 else None
            cloud = await until(delivered, what="delivered figures")
            for name in ("azure", "aws"):
                s = cloud[name]
                assert s["state"] == "connected" and s["building_id"] == BUILDING
                assert isinstance(s["backlog"], int) and s["backlog"] >= 0 and s["messages_per_s"] >= 0
                assert s["dropped"] == 0 and s["data_loss_events"] == 0 and s["last_data_loss"] is None

            # a cloud-to-device ack, as IoT Hub delivers it, acknowledges the alert in the sidecar
            azure.publish(f"devices/{DEVICE}/messages/devicebound/%24.mid=c2d-ack-1&%24.to=%2Fdevices%2F{DEVICE}"
                          "%2Fmessages%2FdeviceBound",
                          json.dumps({"type": "ack", "id": "cmd-1", "body": {"alert_id": alert["alert_id"],
                                                                              "user": "facility-desk"}}))
            acked = await asyncio.to_thread(events.wait_for, lambda t, e: t == "alert"
                                            and e["body"]["alert_id"] == alert["alert_id"]
                                            and e["body"]["state"] == "acknowledged", 15.0, "acknowledged alert")
            assert acked["body"]["acknowledged_by"] == "facility-desk"
            results = await azure.wait_for(lambda ms: d2c(ms, "command_result")[:1])
            rprops, result = results[0]
            assert rprops["$.cid"] == "c2d-ack-1" and result["ok"] is True and result["id"] == "cmd-1"
            assert result["body"]["alert"]["state"] == "acknowledged"

            # IoT Core commands: shelve the alert, then move the sensor's limits
            topic, results_topic = f"building/{BUILDING}/controls/commands", f"building/{BUILDING}/controls/results"
            aws.publish(topic, json.dumps({"type": "shelve", "id": "c-2", "body": {
                "alert_id": alert["alert_id"], "duration_s": 600, "user": "ops", "reason": "maintenance"}}))
            shelved = await asyncio.to_thread(events.wait_for, lambda t, e: t == "alert"
                                              and e["body"]["alert_id"] == alert["alert_id"]
                                              and e["body"].get("shelved_until"), 15.0, "shelved alert")
            assert shelved["body"]["shelved_by"] == "ops"
            aws.publish(topic, json.dumps({"type": "set_limits", "id": "c-3", "body": {
                "sensor_id": "ahu1.sat", "limits": {"high": 35.0, "high_critical": 40.0}}}))
            def two_results(ms: list[Received]) -> list[dict] | None:
                found = [m.json() for m in ms if m.topic == results_topic]
                return found if len(found) >= 2 else None
            replies = await aws.wait_for(two_results)
            by_id = {r["id"]: r for r in replies}
            assert by_id["c-2"]["ok"] is True and by_id["c-2"]["body"]["alert"]["shelved_by"] == "ops"
            assert by_id["c-3"]["ok"] is True and by_id["c-3"]["command"] == "set_limits"
            assert by_id["c-3"]["body"]["limits"]["high"] == 35.0
            assert by_id["c-3"]["body"]["limits"]["high_critical"] == 40.0

            # secrets: neither the status nor the log (DEBUG, SDKs included) carry any of them
            final = json.dumps(client.call("status"))
            key_lines = [line for line in key_file.read_text().splitlines() if line and "-----" not in line]
            secrets = [cs, DEVICE_KEY, *key_lines]
            assert not leaks(final, secrets)
            log_text = handle.log()
            assert "connected to" in log_text  # the log does hold the connectors' own lines
            assert not leaks(log_text, secrets), "a secret is in the sidecar's log"
        finally:
            events.close()
            client.close()


async def test_data_loss_during_an_outage_is_logged_as_an_error_and_counted_in_status(
        monkeypatch, azure_broker, pki):
    azure_broker.stop()  # the outage: IoT Hub unreachable from the start
    monkeypatch.setenv(CS_ENV, connection_string(azure_broker))
    config = azure_section(azure_broker, pki, outbox_max_rows=10, outbox_max_mb=0.004, rollup_chunk_rows=2,
                           rollup_bucket_s=0.001)
    with running_sidecar(config_text=config) as handle:
        client = CommandClient(handle.command_endpoint, handle.token)
        try:
            client.call("configure", small_building(building_id=BUILDING))
            client.call("start")
            now = time.time()
            for i in range(60):
                ts = now - 60 + i
                client.call("ingest", {"readings": [["ahu1.sat", ts, 15.0 + i % 3], ["zone.co2", ts, 600.0 + i],
                                                    ["chwp1.vib", ts, 1.0], ["ahu1.sf_vib", ts, 1.5]]})

            def lost():
                s = client.call("status")["cloud"]["azure"]
                return s if s["dropped"] > 0 and s["data_loss_events"] >= 1 else None
            status = await until(lost, what="a counted data loss")
            assert status["state"] in ("connecting", "disconnected")
            last = status["last_data_loss"]
            assert last["readings"] > 0 and last["reason"] == "outbox bound reached"
            # once what is queued is committed: the bound (+ the loss notice), far below the ~180 produced
            await until(lambda: client.call("status")["cloud"]["azure"]["backlog"] <= 11, what="backlog in bound")
            log_text = handle.log()
            errors = [line for line in log_text.splitlines() if " ERROR " in line and "lost data" in line]
            assert errors and "cloud connector azure lost data" in errors[0], log_text[-3000:]
            assert DEVICE_KEY not in log_text and DEVICE_KEY not in json.dumps(status)
        finally:
            client.close()


async def test_data_loss_raises_a_building_alert_that_clears_after_reconnect(
        monkeypatch, azure_broker, pki, tmp_path):
    """In process, a real ``Sidecar`` whose Plugins reach its pipeline (the wiring asked of
    service.py: ``Plugins(..., pipeline=lambda: self.pipeline)``)."""
    azure_broker.stop()
    monkeypatch.setenv(CS_ENV, connection_string(azure_broker))
    path = tmp_path / "sidecar.toml"
    path.write_text(azure_section(azure_broker, pki, outbox_max_rows=10, outbox_max_mb=0.004, rollup_chunk_rows=2,
                                  rollup_bucket_s=0.001))
    config = load_config(path)
    config.data_dir = tmp_path / "data"
    sidecar = Sidecar(config, "test-token")
    sidecar.plugins.pipeline = lambda: sidecar.pipeline
    alerts: list[dict] = []
    sidecar.hub.subscribe("alert", alerts.append, inline=True, name="test")
    await sidecar.plugins.start()
    try:
        await sidecar.request("configure", small_building(building_id=BUILDING))
        await sidecar.request("start", {})
        now = time.time()
        for i in range(60):
            ts = now - 60 + i
            await sidecar.request("ingest", {"readings": [["zone.co2", ts, 600.0 + i], ["chwp1.vib", ts, 1.0]]})
            await sidecar.plugins.connectors[0].flush()

        def loss_alerts(state: str | None = None) -> list[dict]:
            return [a for a in alerts if a["kind"] == KIND_CLOUD_DATA_LOSS and (state is None or a["state"] == state)]
        raised = (await until(lambda: loss_alerts("active"), 10, "a cloud_data_loss alert"))[0]
        assert raised["building_id"] == BUILDING and raised["unique_id"] == BUILDING and raised["element_id"] == -1
        assert raised["severity"] == "warning" and "sensor_id" not in raised
        assert "azure" in raised["message"] and "dropped" in raised["message"]
        status = await sidecar.request("status", {})
        assert status["active_alerts"] >= 1 and status["cloud"]["azure"]["data_loss_events"] >= 1
        snapshot = await sidecar.request("snapshot", {})
        assert any(a["alert_id"] == raised["alert_id"] for a in snapshot["alerts"])
        reply = await sidecar.request("ack", {"alert_id": raised["alert_id"], "user": "ops"})
        assert reply["alert"]["state"] == "acknowledged"
        azure_broker.start()  # the hub is back: the condition goes, the acknowledged alert clears
        cleared = await until(lambda: [a for a in loss_alerts("cleared") if a["isa_state"] == "normal"], 30,
                              "the loss alert to clear")
        assert cleared[0]["alert_id"] == raised["alert_id"]
    finally:
        await sidecar.plugins.stop()
        sidecar.hub.close()


@pytest.mark.parametrize("bad", ["connection_string = \"HostName=h;DeviceId=d;SharedAccessKey=c2VjcmV0LWluLXRvbWw=\""])
def test_a_secret_written_in_the_toml_is_refused_and_never_echoed(bad):
    config = f"[cloud.azure]\n{bad}\n"
    with running_sidecar(config_text=config) as handle:
        client = CommandClient(handle.command_endpoint, handle.token)
        try:
            cloud = client.call("status")["cloud"]
        finally:
            client.close()
        assert cloud["azure"]["state"] == "error" and "must not be written in the config file" in cloud["azure"]["last_error"]
        assert "c2VjcmV0LWluLXRvbWw" not in json.dumps(cloud) and "c2VjcmV0LWluLXRvbWw" not in handle.log()
