"""MQTT discovery against a real Mosquitto; Modbus discovery from register maps, read from a real
pymodbus server."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import struct
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import gmqtt
import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from source_peers import Mosquitto, free_port, running_mosquitto

from sidecar.onboarding.discovery import read_point_list
from sidecar.onboarding.discovery.modbus import RegisterMapError, discover_modbus, parse_register_map
from sidecar.onboarding.discovery.mqtt import MqttDiscovery, describe, discover_mqtt
from sidecar.sources.modbus import parse_uri as parse_modbus_uri
from sidecar.sources.mqtt import parse_uri as parse_mqtt_uri

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    with running_mosquitto() as instance:
        yield instance


@contextlib.asynccontextmanager
async def publisher(broker: Mosquitto) -> AsyncIterator[Any]:
    client = gmqtt.Client(f"test-pub-{uuid.uuid4().hex[:8]}")
    await client.connect("127.0.0.1", broker.port)
    try:
        yield client
    finally:
        await client.disconnect()


def test_payload_shapes() -> None:
    [plain] = describe("hvo/ahu1/sat", b" 14.5 ", "broker")
    assert (plain.object_type, plain.present_value, plain.source) == ("mqtt-number", 14.5, "mqtt://broker/hvo/ahu1/sat")
    points = describe("hvo/rm214", json.dumps({"ts": 1767600000, "data": {"co2": 612, "temp": {"value": 21.5,
                                                                                             "unit": "°C"}},
                                               "ok": True}).encode(), "b")
    by_name = {p.name: p for p in points}
    assert set(by_name) == {"hvo/rm214/data.co2", "hvo/rm214/data.temp.value", "hvo/rm214/ok"}   # no ts
    assert by_name["hvo/rm214/data.temp.value"].units == "Cel"
    assert by_name["hvo/rm214/data.co2"].source == "mqtt://b/hvo/rm214#data.co2"
    senml = [{"bn": "urn:dev:ow:10e2073a01080063:", "bu": "Cel", "n": "temp", "v": 23.1},
             {"n": "hum", "u": "%RH", "v": 40}]
    records = describe("hvo/senml", json.dumps(senml).encode(), "b")
    assert [(p.name, p.units, p.present_value) for p in records] == [
        ("hvo/senml/urn:dev:ow:10e2073a01080063:temp", "Cel", 23.1),
        ("hvo/senml/urn:dev:ow:10e2073a01080063:hum", "%", 40)]
    for point in (plain, *points, *records):   # every proposal is a URI the MQTT source accepts
        parsed = parse_mqtt_uri(point.source)
        assert parsed.topic in ("hvo/ahu1/sat", "hvo/rm214", "hvo/senml")
        assert point.name == parsed.topic + (f"/{parsed.fragment}" if parsed.fragment else "")
    assert parse_mqtt_uri(records[0].source).fragment == "urn:dev:ow:10e2073a01080063:temp"
    [text] = describe("hvo/status", b"running", "b")
    assert text.object_type == "mqtt-text" and text.present_value is None


async def test_listens_and_describes_every_topic(broker: Mosquitto) -> None:
    async with publisher(broker) as pub:
        pub.publish("site/ahu1/sat", b"14.5", retain=True)           # retained: there before we listen
        found: list[Any] = []
        settings = MqttDiscovery(host="127.0.0.1", port=broker.port, topic="site/#", duration_s=1.5)
        task = asyncio.create_task(discover_mqtt(settings, found))
        await asyncio.sleep(0.6)
        pub.publish("site/rm214/iaq", json.dumps({"co2": 640, "pm25": 4.1}).encode())
        pub.publish("elsewhere/x", b"1")                              # outside the filter
        await task
        pub.publish("site/ahu1/sat", b"", retain=True)               # clear the retained message
    by_name = {p.name: p for p in found}
    assert set(by_name) == {"site/ahu1/sat", "site/rm214/iaq/co2", "site/rm214/iaq/pm25"}
    assert by_name["site/ahu1/sat"].source == f"mqtt://127.0.0.1:{broker.port}/site/ahu1/sat"
    assert by_name["site/rm214/iaq/co2"].present_value == 640
    assert settings.stats == {"messages": 2, "topics": 2}


async def test_cli_ctrl_c_keeps_the_topics_seen(broker: Mosquitto, tmp_path: Path) -> None:
    out = tmp_path / "mqtt_points"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "discover", "mqtt", "--port", str(broker.port), "--topic", "ctrlc/#",
        "--duration-s", "60", "--broker-name", "plant", "--output", str(out), env=env,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
    assert process.stderr is not None
    async with publisher(broker) as pub:
        seen = b""
        for _ in range(100):
            pub.publish("ctrlc/boiler/hwst", b"71.5")
            try:
                seen += await asyncio.wait_for(process.stderr.read(100), 0.5)
            except asyncio.TimeoutError:  # noqa: UP041
                continue
            if b"1 topics" in seen:
                break
        assert b"1 topics" in seen, seen
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 20) == 130
    [point] = read_point_list(out.with_suffix(".json"))
    assert (point.name, point.source, point.present_value) == ("ctrlc/boiler/hwst", "mqtt://plant/ctrlc/boiler/hwst",
                                                               71.5)
    assert json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["interrupted"] is True


REGISTER_MAP = """Point Name;Description;Address;Data Type;Units;Scale;Function;Word Order
Supply Air Temp;AHU-01 SAT;40001;INT16;degC;0.1;;
Outside Air Temp;AHU-01 OAT;40002;S16;degC;0.1;;
Fan Power;Supply fan;40003;FLOAT;kW;1;;CDAB
Energy;Meter total;30011;U32;kWh;1;;
CO2;Room 2.14;7;uint16;ppm;;input;
"""


def test_register_map_is_parsed_and_proposes_source_uris(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text(REGISTER_MAP, encoding="utf-8")
    regs = {r.name: r for r in parse_register_map(path)}
    assert (regs["Supply Air Temp"].table, regs["Supply Air Temp"].address, regs["Supply Air Temp"].scale) == (
        "holding", 0, 0.1)
    assert (regs["Energy"].table, regs["Energy"].address, regs["Energy"].data_type) == ("input", 10, "uint32")
    assert regs["Fan Power"].word_order == "little" and regs["CO2"].table == "input" and regs["CO2"].address == 7
    uri = regs["Fan Power"].uri("10.0.0.5", 502)
    assert uri == "modbus://10.0.0.5:502/1/2?type=float32&word_order=little"
    for reg in regs.values():   # the sidecar's Modbus source accepts every proposal
        host, port, unit, address, _query = parse_modbus_uri(reg.uri("10.0.0.5", 1502))
        assert (host, port, unit, address) == ("10.0.0.5", 1502, 1, reg.address)


@pytest.mark.parametrize("text, problem", [
    ("Name,Type\nA,int16\n", "no 'register' column"),
    ("Name,Register,Type\nA,1,int64\n", "unknown type 'int64'"),
    ("Name,Register\nA,x\n", "register 'x' is not a number"),
    ("Name,Register,Type\nA,65535,float32\n", "register 65535 out of range for float32"),
    ("Name,Register,Type\nA,10,float32\nB,11,uint16\n", "holding register 11 (unit 1) is also used by 'A' on line 2"),
    ("Name,Register\nA,1\nA,2\n", "name 'A' already used on line 2"),
    ("Name,Register,Table\nA,1,coils\n", "unknown table 'coils'"),
])
def test_register_map_validation(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegisterMapError) as caught:
        parse_register_map(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def _device() -> SimDevice:
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(id=1, simdata=(bits, bits, [SimData(0, count=50, values=0, datatype=DataType.REGISTERS)],
                                    [SimData(0, count=50, values=0, datatype=DataType.REGISTERS)]))


async def test_cli_reads_present_values_from_a_real_device(tmp_path: Path) -> None:
    port = free_port()
    server = ModbusTcpServer([_device()], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        ctx = server.context
        assert await ctx.async_setValues(1, 16, 0, [145, (-52) & 0xFFFF]) is None
        hi, lo = struct.unpack(">HH", struct.pack(">f", 7.25))
        assert await ctx.async_setValues(1, 16, 2, [lo, hi]) is None        # CDAB
        assert await ctx.async_setValues(1, 4, 10, [1, 5]) is None          # 65541 kWh
        assert await ctx.async_setValues(1, 4, 7, [612]) is None
        path = tmp_path / "map.csv"
        path.write_text(REGISTER_MAP, encoding="utf-8")
        found: list[Any] = []
        stats = await discover_modbus(path, "127.0.0.1", port, 1, found, read=True)
        assert stats == {"registers": 5, "read": 5, "read_errors": 0}
        values = {p.name: p.present_value for p in found}
        assert values == pytest.approx({"Supply Air Temp": 14.5, "Outside Air Temp": -5.2, "Fan Power": 7.25,
                                        "Energy": 65541.0, "CO2": 612.0})
        assert {p.name: p.units for p in found}["Energy"] == "kW.h"

        env = dict(os.environ, PYTHONPATH=str(ROOT))
        bad = tmp_path / "bad.csv"
        bad.write_text("Name,Register\nA,x\n", encoding="utf-8")
        done = await asyncio.create_subprocess_exec(sys.executable, "-m", "sidecar", "discover", "modbus", str(bad),
                                                    "--host", "127.0.0.1", env=env, stderr=asyncio.subprocess.PIPE)
        _, err = await done.communicate()
        assert done.returncode == 2 and b"line 2: register 'x' is not a number" in err
    finally:
        await server.shutdown()
