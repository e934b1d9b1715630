"""End to end: a real sidecar subprocess whose building has mqtt:// and modbus:// sensors, a
Mosquitto broker and a pymodbus server on loopback; values beyond the limits arrive as alert
events over ZeroMQ, and `status.sources` shows both sources running."""
from __future__ import annotations

import asyncio
import time
import uuid

import gmqtt
import zmq
from source_peers import running_mosquitto
from support.buildings import AHU, equipment, sensor_element
from support.protocol_client import CommandClient, EventListener, alert_event
from support.sidecar_process import running_sidecar
from test_source_modbus import modbus_server


def building(mqtt_topic: str, modbus_port: int) -> dict[str, object]:
    elements = [
        equipment(AHU, 1000, "AHU-1"),
        sensor_element(AHU[:-4] + "2000", 2000, "AHU-1 Supply Fan Vibration",
                       {"sensor_id": "ahu1.sf_vib", "quantity": "vibration", "unit": "mm/s",
                        "source": f"mqtt:///{mqtt_topic}", "host": AHU}),
        sensor_element(AHU[:-4] + "2002", 2002, "AHU-1 Supply Air Temperature",
                       {"sensor_id": "ahu1.sat", "quantity": "temperature", "unit": "Cel",
                        "source": f"modbus://127.0.0.1:{modbus_port}/1/10?type=int16&scale=0.1", "host": AHU,
                        "limits": {"low": 10.0, "high": 18.0, "low_critical": 6.0, "high_critical": 24.0}}),
    ]
    return {"building_id": "e2e-sources", "model": {"title": "E2E"}, "exported_ts": 1767603600.0,
            "levels": [], "spaces": [], "elements": elements}


async def test_mqtt_and_modbus_readings_raise_alerts_through_a_real_sidecar() -> None:
    topic = f"e2e/{uuid.uuid4().hex[:6]}/vib"
    with running_mosquitto() as broker:
        async with modbus_server() as server:
            await server.set(10, [130])   # 13.0 Cel: normal
            config = (f"[simulator]\ndemo_faults = false\n[mqtt]\nhost = \"127.0.0.1\"\nport = {broker.port}\n"
                      "reconnect_max_s = 1.0\n[modbus]\ninterval_s = 0.2\ntimeout_s = 1.0\n")
            context: zmq.Context[object] = zmq.Context()
            with running_sidecar(config) as sidecar:
                client = CommandClient(sidecar.command_endpoint, sidecar.token, context)
                events = EventListener(sidecar.event_endpoint, context=context)
                try:
                    events.settle(client)
                    client.call("configure", building(topic, server.port))
                    client.call("start")
                    deadline = time.monotonic() + 15
                    while time.monotonic() < deadline:
                        sources = client.call("status")["sources"]
                        if sources == {"mqtt": "running", "modbus": "running"}:
                            break
                        await asyncio.sleep(0.1)
                    assert sources == {"mqtt": "running", "modbus": "running"}, sources
                    await asyncio.sleep(0.3)   # the sidecar's SUBSCRIBE settles

                    publisher = gmqtt.Client(f"e2e-pub-{uuid.uuid4().hex[:6]}")
                    await publisher.connect("127.0.0.1", broker.port)
                    publisher.publish(topic, b"2.0")
                    publisher.publish(topic, b"9.4")           # beyond the 7.1 mm/s critical default
                    await server.set(10, [(252) & 0xFFFF])      # 25.2 Cel: beyond high_critical 24
                    loop = asyncio.get_running_loop()
                    vib = await loop.run_in_executor(None, lambda: events.wait_for(
                        alert_event("active", "critical", "ahu1.sf_vib"), 15, "mqtt alert"))
                    assert vib["body"]["value"] == 9.4 and vib["body"]["unique_id"] == AHU
                    sat = await loop.run_in_executor(None, lambda: events.wait_for(
                        alert_event("active", None, "ahu1.sat"), 15, "modbus alert"))
                    assert abs(sat["body"]["value"] - 25.2) < 1e-6
                    await publisher.disconnect()
                finally:
                    client.close()
                    events.close()
                    context.destroy(linger=0)
