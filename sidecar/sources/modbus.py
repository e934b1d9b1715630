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
from sidecar.sources.base import (
    DEGRADED,
    RECONNECTING,
    RUNNING,
    STARTING,
    Sink,
    Source,
    register_source,
)
from sidecar.sources.support import (
    Backoff,
    RateLimitedLog,
    Settings,
    SourceConfigError,
    idle_on_config_error,
    roll_up,
)

log = logging.getLogger(__name__)
# pymodbus logs every timeout at ERROR: a dead device would flood the log. This source reports
# failures itself, rate-limited, so pymodbus's own log keeps only critical messages unless the
# operator configured that logger.
if logging.getLogger("pymodbus.logging").level == logging.NOTSET:
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

DATA_TYPES = ("int16", "uint16", "int32", "uint32", "float32")
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
KIND = {name: code for code, name in enumerate(DATA_TYPES)}
TABLES = ("holding", "input")
WORD_ORDERS = ("big", "little")
MAX_REGISTERS = 125     # Modbus limit for one read (function codes 3 and 4)
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


def register_map(model: BuildingModel, index: int, root: Settings) -> RegisterMap:
    sensor = model.sensors[index]
    host, port, unit, address, query = parse_uri(sensor.source)
    host_table = root.tables("hosts").get(f"{host}:{port}") or root.tables("hosts").get(host)
    host_settings = Settings(host_table, f'modbus.hosts."{host}:{port}"', parent=root)
    uri_settings = Settings(_query_settings(query, sensor.source), sensor.source, parent=host_settings)
    own = root.tables("sensors").get(sensor.sensor_id)
    settings = Settings(own, f'modbus.sensors."{sensor.sensor_id}"', parent=uri_settings)
    data_type = settings.choice("data_type", DATA_TYPES, "uint16")
    if address + WIDTH[data_type] > 65536:
        raise SourceConfigError(f"{sensor.source}: a {data_type} at register {address} runs past 65535")
    return RegisterMap(
        sensor=index, sensor_id=sensor.sensor_id, host=host, port=port, unit=unit, address=address,
        data_type=data_type, word_order=settings.choice("word_order", WORD_ORDERS, "big"),
        scale=settings.number("scale", 1.0), offset=settings.number("offset", 0.0),
        table=settings.choice("table", TABLES, "holding"),
        interval_s=settings.number("interval_s", 1.0, positive=True))


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


@dataclass(slots=True)
class HostPoller:
    host: str
    port: int
    groups: list[ReadGroup]
    timeout_s: float
    backoff: Backoff
    state: str = STARTING
    reads: int = 0
    registers: int = 0
    failures: int = 0


@register_source
class ModbusSource(Source):
    scheme = "modbus"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: Any):
        super().__init__(model, sensors, sink, settings)
        self.problems = RateLimitedLog(log)
        self.config_error: str | None = None
        self.pollers: list[HostPoller] = []
        self.group_errors = 0
        try:
            self._plan(Settings(settings if isinstance(settings, dict) else {}, "modbus"))
        except SourceConfigError as error:
            self.config_error = str(error)

    def _plan(self, root: Settings) -> None:
        # Section-wide settings are checked up front: a typo there is a source error, not a
        # per-sensor one.
        root.number("interval_s", 1.0, positive=True)
        root.number("timeout_s", 2.0, positive=True)
        root.flag("grouped", True)
        root.tables("hosts")
        root.tables("sensors")
        by_host: dict[tuple[str, int], list[RegisterMap]] = {}
        for index in self.sensors.tolist():
            sensor = self.model.sensors[index]
            try:
                m = register_map(self.model, index, root)
            except SourceConfigError as error:
                log.warning("modbus: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            by_host.setdefault((m.host, m.port), []).append(m)
        for (host, port), maps in by_host.items():
            table = root.tables("hosts").get(f"{host}:{port}") or root.tables("hosts").get(host)
            here = Settings(table, f'modbus.hosts."{host}:{port}"', parent=root)
            groups = plan_groups(maps, here.flag("grouped", True),
                                 here.integer("max_registers", MAX_REGISTERS, 1, MAX_REGISTERS),
                                 here.integer("max_gap", 8, 0, MAX_REGISTERS))
            self.pollers.append(HostPoller(host, port, groups, here.number("timeout_s", 2.0, positive=True),
                                           Backoff(here.number("reconnect_min_s", 0.5, positive=True),
                                                   here.number("reconnect_max_s", 30.0, positive=True))))

    def _update_state(self) -> None:
        if self.config_error is None:
            self.state = roll_up(p.state for p in self.pollers)

    def _set(self, poller: HostPoller, state: str) -> None:
        if poller.state != state:
            log.info("modbus %s:%d: %s -> %s", poller.host, poller.port, poller.state, state)
            poller.state = state
            self._update_state()

    async def run(self) -> None:
        await idle_on_config_error(self)
        tasks = [asyncio.create_task(self._poll_host(p), name=f"modbus:{p.host}:{p.port}") for p in self.pollers]
        self._update_state()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll_host(self, poller: HostPoller) -> None:
        from pymodbus.client import AsyncModbusTcpClient
        from pymodbus.exceptions import ModbusException

        label = f"{poller.host}:{poller.port}"
        while True:
            # reconnect_delay=0: pymodbus must not reconnect behind our back; we back off ourselves.
            client = AsyncModbusTcpClient(poller.host, port=poller.port, timeout=poller.timeout_s, retries=0,
                                          reconnect_delay=0, name=f"revitpyiot-{label}")
            try:
                if not await asyncio.wait_for(client.connect(), poller.timeout_s + 1.0):
                    raise ConnectionError("connect failed")
                await self._poll_loop(client, poller)   # running once a device answers
            except (TimeoutError, ModbusException, OSError, ConnectionError) as error:
                poller.failures += 1
                self.problems.warning(f"host:{label}", "modbus %s: %s", label, error or type(error).__name__)
            finally:
                client.close()
            self._set(poller, RECONNECTING)
            await poller.backoff.sleep()

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
                self._set(poller, DEGRADED if any(g.failing for g in poller.groups) else RUNNING)
                poller.backoff.reset()
            wake = min(g.next_due for g in poller.groups)
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
