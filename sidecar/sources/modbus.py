"""``modbus://host:port/unit/register[?type=&word_order=&scale=&offset=&table=]`` — Modbus TCP
polling (pymodbus 3.16 ``AsyncModbusTcpClient``).

``register`` is the 0-based protocol address. Each sensor's register map (data type int16,
uint16, int32, uint32 or float32; word order big or little; scale and offset, value =
raw * scale + offset; holding or input table; polling interval) comes from the URI's query and
from ``[modbus.sensors."<sensor_id>"]``, which wins. Defaults come from ``[modbus]`` and
``[modbus.hosts."host:port"]``.

Sensors of one host, unit, table and interval whose registers lie close together are read in
one request (``grouped``; at most ``max_registers`` = 125 per request, gaps up to ``max_gap``
registers read and ignored). Every host has its own task and connection, so a device that
stops answering only delays itself: its requests time out after ``timeout_s``, it goes to
``reconnecting`` and retries with exponential back-off. An exception response (e.g. illegal
address) affects only its group, which is counted and logged, and polled again next cycle.
Decoding is vectorised per group (numpy gathers over the response's registers).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from sidecar.model import BuildingModel
from sidecar.settings import Table, first
from sidecar.sources.base import DEGRADED, RUNNING, register_source
from sidecar.sources.linked import Link, LinkedSource
from sidecar.sources.settings import DATA_TYPES, ModbusSettings, RegisterOptions
from sidecar.sources.support import SourceConfigError

log = logging.getLogger(__name__)
# pymodbus logs every timeout at ERROR: a dead device would flood the log. This source reports
# failures itself, rate-limited, so pymodbus's own log keeps only critical messages unless the
# operator configured that logger.
if logging.getLogger("pymodbus.logging").level == logging.NOTSET:
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
KIND = {name: code for code, name in enumerate(DATA_TYPES)}
URI_KEYS = {"type", "data_type", "word_order", "order", "scale", "offset", "table", "interval_s"}


@dataclass(frozen=True, slots=True)
class RegisterMap:
    sensor: int
    sensor_id: str
    host: str
    port: int
    unit: int
    address: int
    data_type: str
    word_order: str
    scale: float
    offset: float
    table: str
    interval_s: float

    @property
    def width(self) -> int:
        return WIDTH[self.data_type]


def parse_uri(uri: str) -> tuple[str, int, int, int, dict[str, str]]:
    """(host, port, unit, register, query) of ``modbus://host:port/unit/register?...``."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "modbus" or not parts.hostname:
        raise SourceConfigError(f"{uri!r}: expected modbus://host:port/unit/register")
    try:
        port = parts.port or 502
    except ValueError:
        raise SourceConfigError(f"{uri!r}: bad port") from None
    path = [p for p in parts.path.split("/") if p]
    if len(path) != 2 or not all(p.isdigit() for p in path):
        raise SourceConfigError(f"{uri!r}: the path must be /unit/register (two integers)")
    unit, register = int(path[0]), int(path[1])
    if not 0 <= unit <= 255:
        raise SourceConfigError(f"{uri!r}: unit {unit} out of 0..255")
    if not 0 <= register <= 65535:
        raise SourceConfigError(f"{uri!r}: register {register} out of 0..65535")
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - URI_KEYS
    if unknown:
        raise SourceConfigError(f"{uri!r}: unknown query key(s) {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(sorted(URI_KEYS))})")
    return parts.hostname, port, unit, register, query


def _query_settings(query: dict[str, str], uri: str) -> dict[str, Any]:
    """The URI query as typed settings (numbers parsed), named like the TOML keys."""
    typed: dict[str, Any] = {}
    for key, text in query.items():
        name = {"type": "data_type", "order": "word_order"}.get(key, key)
        if name in ("scale", "offset", "interval_s"):
            try:
                typed[name] = float(text)
            except ValueError:
                raise SourceConfigError(f"{uri!r}: {key}={text!r} is not a number") from None
        else:
            typed[name] = text
    return typed


def register_map(model: BuildingModel, index: int, settings: ModbusSettings) -> RegisterMap:
    """A sensor's register: its own ``[modbus.sensors."<id>"]`` table wins over its URI's query,
    which wins over its host's table and the section."""
    sensor = model.sensors[index]
    host, port, unit, address, query = parse_uri(sensor.source)
    _, host_settings = settings.host(host, port)
    own = settings.sensors.get(sensor.sensor_id, RegisterOptions())
    from_uri = RegisterOptions.parse(Table(_query_settings(query, sensor.source), sensor.source))
    options = own.over(from_uri).over(host_settings.registers)
    data_type = options.data_type or "uint16"
    if address + WIDTH[data_type] > 65536:
        raise SourceConfigError(f"{sensor.source}: a {data_type} at register {address} runs past 65535")
    return RegisterMap(
        sensor=index, sensor_id=sensor.sensor_id, host=host, port=port, unit=unit, address=address,
        data_type=data_type, word_order=options.word_order or "big",
        scale=first(options.scale, default=1.0), offset=first(options.offset, default=0.0),
        table=options.table or "holding", interval_s=first(options.interval_s, default=1.0))


@dataclass(slots=True)
class ReadGroup:
    """Registers of one unit and table read in one request, and how to decode them."""

    unit: int
    table: str
    start: int
    count: int
    interval_s: float
    maps: list[RegisterMap]
    sensor: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    first: np.ndarray = field(default_factory=lambda: np.empty(0, np.intp))   # register of the high word
    second: np.ndarray = field(default_factory=lambda: np.empty(0, np.intp))  # low word (= first if 16-bit)
    kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    scale: np.ndarray = field(default_factory=lambda: np.empty(0))
    offset: np.ndarray = field(default_factory=lambda: np.empty(0))
    next_due: float = 0.0
    failing: bool = False

    def prepare(self) -> None:
        rel = np.array([m.address - self.start for m in self.maps], dtype=np.intp)
        wide = np.array([m.width == 2 for m in self.maps])
        little = np.array([m.word_order == "little" for m in self.maps])
        self.sensor = np.array([m.sensor for m in self.maps], dtype=np.int32)
        self.first = np.where(wide & little, rel + 1, rel)
        self.second = np.where(wide, np.where(little, rel, rel + 1), rel)
        self.kind = np.array([KIND[m.data_type] for m in self.maps], dtype=np.int8)
        self.scale = np.array([m.scale for m in self.maps])
        self.offset = np.array([m.offset for m in self.maps])

    def decode(self, registers: list[int]) -> np.ndarray:
        regs = np.asarray(registers, dtype=np.uint32)
        high = regs[self.first]
        word = (high << 16) | regs[self.second]
        raw = high.astype(np.float64)                               # uint16
        kind = self.kind
        raw = np.where(kind == KIND["int16"], high.astype(np.uint16).view(np.int16), raw)
        raw = np.where(kind == KIND["uint32"], word.astype(np.float64), raw)
        raw = np.where(kind == KIND["int32"], word.view(np.int32), raw)
        raw = np.where(kind == KIND["float32"], word.view(np.float32), raw)
        return raw * self.scale + self.offset


def plan_groups(maps: list[RegisterMap], grouped: bool, max_registers: int, max_gap: int) -> list[ReadGroup]:
    """Contiguous (or nearly: gaps up to ``max_gap``) registers of one unit, table and interval in
    as few requests as the ``max_registers`` limit allows."""
    groups: list[ReadGroup] = []
    keyed: dict[tuple[int, str, float], list[RegisterMap]] = {}
    for m in maps:
        keyed.setdefault((m.unit, m.table, m.interval_s), []).append(m)
    for (unit, table, interval), members in sorted(keyed.items()):
        members.sort(key=lambda m: (m.address, m.width))
        current: list[RegisterMap] = []
        start = end = 0
        for m in members:
            m_end = m.address + m.width
            if current and grouped and m.address <= end + max_gap and max(end, m_end) - start <= max_registers:
                current.append(m)
                end = max(end, m_end)
                continue
            if current:
                groups.append(ReadGroup(unit, table, start, end - start, interval, current))
            current, start, end = [m], m.address, m_end
        if current:
            groups.append(ReadGroup(unit, table, start, end - start, interval, current))
    for group in groups:
        group.prepare()
    return groups


@dataclass(eq=False)
class HostPoller(Link):
    host: str = ""
    port: int = 0
    groups: list[ReadGroup] = field(default_factory=list)
    timeout_s: float = 2.0
    reads: int = 0
    registers: int = 0


@register_source
class ModbusSource(LinkedSource[ModbusSettings, HostPoller]):
    scheme = "modbus"
    group_errors = 0    # per instance once counted

    @property
    def pollers(self) -> list[HostPoller]:
        return list(self.links.values())

    def plan(self, settings: ModbusSettings) -> None:
        by_host: dict[tuple[str, int], list[RegisterMap]] = {}
        for index, sensor in self.own_sensors():
            try:
                m = register_map(self.model, index, settings)
            except SourceConfigError as error:
                log.warning("modbus: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            by_host.setdefault((m.host, m.port), []).append(m)
        for (host, port), maps in by_host.items():
            _, here = settings.host(host, port)
            groups = plan_groups(maps, here.grouped, here.max_registers, here.max_gap)
            self.links[f"{host}:{port}"] = HostPoller(f"{host}:{port}", Link.backoff_from(here.reconnect), host=host,
                                                      port=port, groups=groups, timeout_s=here.timeout_s)

    def link_errors(self) -> tuple[type[BaseException], ...]:
        from pymodbus.exceptions import ModbusException

        return (ModbusException, *super().link_errors())

    async def serve(self, poller: HostPoller, shared: Any) -> None:
        from pymodbus.client import AsyncModbusTcpClient

        # reconnect_delay=0: pymodbus must not reconnect behind our back; we back off ourselves.
        client = AsyncModbusTcpClient(poller.host, port=poller.port, timeout=poller.timeout_s, retries=0,
                                      reconnect_delay=0, name=f"revitpyiot-{poller.label}")
        try:
            if not await asyncio.wait_for(client.connect(), poller.timeout_s + 1.0):
                raise ConnectionError("connect failed")
            await self._poll_loop(client, poller)   # running once a device answers
        finally:
            client.close()

    async def _poll_loop(self, client: Any, poller: HostPoller) -> None:
        me = asyncio.current_task()
        now = time.monotonic()
        for group in poller.groups:
            group.next_due = now
        while True:
            due = [g for g in poller.groups if g.next_due <= time.monotonic()]
            sensors: list[np.ndarray] = []
            stamps: list[np.ndarray] = []
            values: list[np.ndarray] = []
            for group in due:
                group.next_due += group.interval_s
                if group.next_due < time.monotonic():   # fell behind: skip the missed polls
                    group.next_due = time.monotonic() + group.interval_s
                reader = client.read_input_registers if group.table == "input" else client.read_holding_registers
                response = await asyncio.wait_for(reader(group.start, count=group.count, device_id=group.unit),
                                                  poller.timeout_s + 1.0)
                if me is not None and me.cancelling():
                    # pymodbus can swallow a cancellation that lands while a request is in
                    # flight; honour it here or stopping the source would never end this loop.
                    raise asyncio.CancelledError()
                poller.reads += 1
                if response.isError():
                    self.group_errors += 1
                    group.failing = True
                    self.problems.warning(f"group:{poller.host}:{poller.port}:{group.unit}:{group.start}",
                                          "modbus %s:%d unit %d: %s registers %d..%d: exception response %s",
                                          poller.host, poller.port, group.unit, group.table, group.start,
                                          group.start + group.count - 1, response)
                    continue
                group.failing = False
                poller.registers += group.count
                decoded = group.decode(response.registers)
                sensors.append(group.sensor)
                stamps.append(np.full(len(decoded), time.time()))
                values.append(decoded)
            if sensors:
                self.sink(np.concatenate(sensors), np.concatenate(stamps), np.concatenate(values))
            if due:
                self.connected(poller, DEGRADED if any(g.failing for g in poller.groups) else RUNNING)
            wake = min(g.next_due for g in poller.groups)
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
