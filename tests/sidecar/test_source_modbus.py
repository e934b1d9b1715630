"""ModbusSource against a real pymodbus ModbusTcpServer (SimDevice/SimData) on loopback: data
types and word orders, scale/offset, input vs holding, grouped reads, exception responses,
a silent device that must not stall another, and a server going away and coming back."""
from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from source_peers import free_port, make_source, running
from support.waiting import eventually

from sidecar.sources.base import DEGRADED, RECONNECTING, RUNNING
from sidecar.sources.modbus import ModbusSource, RegisterMap, parse_uri, plan_groups
from sidecar.sources.support import SourceConfigError


def words(fmt: str, value: float, order: str = "big") -> list[int]:
    raw = struct.pack(">" + fmt, value)
    regs = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    return regs[::-1] if order == "little" else regs


def device(unit: int = 1) -> SimDevice:
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(id=unit, simdata=(bits, bits, [SimData(0, count=200, values=0, datatype=DataType.REGISTERS)],
                                       [SimData(0, count=50, values=0, datatype=DataType.REGISTERS)]))


class Server:
    def __init__(self, port: int):
        self.port = port
        self.server: ModbusTcpServer | None = None

    async def start(self) -> None:
        self.server = ModbusTcpServer([device(1), device(2)], address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def set(self, address: int, registers: list[int], unit: int = 1, table: str = "holding") -> None:
        assert self.server is not None
        result = await self.server.context.async_setValues(unit, 16 if table == "holding" else 4, address, registers)
        assert result is None, result


@contextlib.asynccontextmanager
async def modbus_server() -> AsyncIterator[Server]:
    server = Server(free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def test_uri_and_grouping_plan() -> None:
    assert parse_uri("modbus://10.0.0.5:1502/3/40?type=float32&scale=0.1") == (
        "10.0.0.5", 1502, 3, 40, {"type": "float32", "scale": "0.1"})
    for bad in ("modbus://h:1/1", "modbus://h/1/x", "modbus://h/300/1", "modbus://h/1/70000", "modbus://h/1/1?colour=red"):
        with pytest.raises(SourceConfigError):
            parse_uri(bad)

    def reg(i: int, address: int, data_type: str = "uint16", unit: int = 1, table: str = "holding") -> RegisterMap:
        return RegisterMap(i, f"s{i}", "h", 502, unit, address, data_type, "big", 1.0, 0.0, table, 1.0)

    maps = [reg(0, 0), reg(1, 1, "float32"), reg(2, 3), reg(3, 20), reg(4, 0, unit=2), reg(5, 0, table="input"),
            *[reg(10 + k, 100 + k) for k in range(200)]]
    groups = plan_groups(maps, grouped=True, max_registers=125, max_gap=8)
    spans = sorted((g.unit, g.table, g.start, g.count) for g in groups)
    assert spans == [(1, "holding", 0, 4), (1, "holding", 20, 1), (1, "holding", 100, 125),
                     (1, "holding", 225, 75), (1, "input", 0, 1), (2, "holding", 0, 1)]
    assert all(g.count <= 125 for g in groups)
    assert len(plan_groups(maps, grouped=False, max_registers=125, max_gap=8)) == len(maps)


async def test_data_types_word_orders_scale_offset_and_tables() -> None:
    async with modbus_server() as server:
        await server.set(0, [(-1234) & 0xFFFF])                       # int16 negative
        await server.set(1, [65000])                                   # uint16
        await server.set(2, words("i", -70000))                        # int32 big
        await server.set(4, words("i", -70000, "little"))              # int32 little
        await server.set(6, words("I", 4_000_000_000))                 # uint32
        await server.set(8, words("f", 21.5))                          # float32 big
        await server.set(10, words("f", -0.125, "little"))             # float32 little
        await server.set(12, [2315])                                   # scaled: 231.5 - 200 = 31.5
        await server.set(5, [777], table="input")
        await server.set(0, [4242], unit=2)
        host = f"modbus://127.0.0.1:{server.port}"
        source, got = make_source("modbus", {
            "i16": f"{host}/1/0?type=int16", "u16": f"{host}/1/1", "i32b": f"{host}/1/2?type=int32",
            "i32l": f"{host}/1/4?type=int32&word_order=little", "u32": f"{host}/1/6?type=uint32",
            "f32b": f"{host}/1/8?type=float32", "f32l": f"{host}/1/10",
            "scaled": f"{host}/1/12?type=int16&scale=0.1", "input": f"{host}/1/5?table=input",
            "unit2": f"{host}/2/0",
        }, {"interval_s": 0.1, "sensors": {"f32l": {"data_type": "float32", "word_order": "little"},
                                           "scaled": {"offset": -200.0}}})
        assert isinstance(source, ModbusSource)
        async with running(source):
            await eventually(lambda: len({s for s, _, _ in got.readings}) == 10, what="all ten sensors")
        expected = {"i16": -1234.0, "u16": 65000.0, "i32b": -70000.0, "i32l": -70000.0, "u32": 4_000_000_000.0,
                    "f32b": 21.5, "f32l": -0.125, "scaled": 31.5, "input": 777.0, "unit2": 4242.0}
        for sensor_id, value in expected.items():
            assert got.values(sensor_id)[0] == pytest.approx(value), sensor_id
        poller = source.pollers[0]
        # Holding unit 1 registers 0..12 in one request, input and unit 2 in one each.
        assert len(poller.groups) == 3
        assert poller.reads >= 3 and got.calls <= poller.reads


async def test_exception_response_affects_only_its_group() -> None:
    async with modbus_server() as server:
        await server.set(0, [11])
        host = f"modbus://127.0.0.1:{server.port}"
        source, got = make_source("modbus", {"ok": f"{host}/1/0", "missing": f"{host}/1/199?type=uint32&interval_s=0.1",
                                             "beyond": f"{host}/1/400"}, {"interval_s": 0.1})
        assert isinstance(source, ModbusSource)
        async with running(source):
            await eventually(lambda: len(got.values("ok")) >= 3 and source.group_errors >= 2, what="errors + readings")
            assert source.state == DEGRADED
        assert got.values("missing") == [] and got.values("beyond") == []


async def test_silent_device_does_not_stall_another_and_server_restart_recovers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)   # accept and never answer

    silent_server = await asyncio.start_server(silent, "127.0.0.1", 0)
    silent_port = silent_server.sockets[0].getsockname()[1]
    try:
        async with modbus_server() as server:
            await server.set(0, [5])
            source, got = make_source("modbus", {
                "live": f"modbus://127.0.0.1:{server.port}/1/0",
                "silent": f"modbus://127.0.0.1:{silent_port}/1/0",
            }, {"interval_s": 0.05, "timeout_s": 0.3, "reconnect_min_s": 0.1, "reconnect_max_s": 0.3})
            assert isinstance(source, ModbusSource)
            async with running(source):
                await eventually(lambda: len(got.values("live")) >= 20, what="20 live readings while one host is silent")
                silent_poller = next(p for p in source.pollers if p.port == silent_port)
                live_poller = next(p for p in source.pollers if p.port == server.port)
                assert silent_poller.failures >= 1 and silent_poller.state != RUNNING
                assert live_poller.state == RUNNING and source.state in (DEGRADED, RECONNECTING)
                assert got.values("silent") == []

                await server.stop()
                await eventually(lambda: live_poller.state == RECONNECTING, what="live host reconnecting")
                before = len(got.values("live"))
                await server.start()
                await server.set(0, [6])
                await eventually(lambda: live_poller.state == RUNNING and got.last("live") == 6.0,
                                 what="live host back with its new value")
                assert len(got.values("live")) > before
    finally:
        silent_server.close()
        await silent_server.wait_closed()


async def test_bad_settings_report_error() -> None:
    source, _ = make_source("modbus", {"x": "modbus://127.0.0.1:1/1/0"}, {"interval_s": -1})
    async with running(source) as runner:
        await eventually(lambda: runner.state == "error", what="error state")
    assert "modbus.interval_s" in str(getattr(source, "config_error", ""))
