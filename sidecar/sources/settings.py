"""The protocol sources' sections (``[mqtt]``, ``[modbus]``, ``[bacnet]``, ``[http]``/``[https]``)
as frozen dataclasses, parsed with the rest of the config file by the shared reader.

Nested tables inherit: a broker, host, device or endpoint table starts from its section's
values, so only what differs is written there. What depends on the building (which sensors,
their URIs) is resolved when a source is created.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sidecar.settings import SettingsError, Table

MQTT_FORMATS = ("auto", "number", "json", "senml")
DATA_TYPES = ("int16", "uint16", "int32", "uint32", "float32")
WORD_ORDERS = ("big", "little")
TABLES = ("holding", "input")
MAX_REGISTERS = 125     # Modbus limit for one read (function codes 3 and 4)
BACNET_MODES = ("poll", "cov")

JsonPath = tuple[str | int, ...]
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def compile_path(text: str, where: str = "path") -> JsonPath:
    """``data.items[0].value`` (``$.`` prefix and ``a.0.b`` list indices accepted) -> keys."""
    text = text.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    if not text:
        return ()
    parts: list[str | int] = []
    position = 0
    for match in _PATH_PART.finditer(text):
        gap = text[position:match.start()]
        if gap not in ("", "."):
            raise SettingsError(f"{where}: cannot parse JSON path {text!r} near {gap!r}")
        key, index = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(int(key) if key.isdigit() else key)
        position = match.end()
    if text[position:] not in ("",):
        raise SettingsError(f"{where}: cannot parse JSON path {text!r}")
    return tuple(parts)


def check_filter(topic: str, where: str) -> None:
    """An MQTT topic filter: ``#`` only as the whole last level, ``+`` only as a whole level."""
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise SettingsError(f"{where}: '#' must be a whole last topic level, in {topic!r}")
        if "+" in level and level != "+":
            raise SettingsError(f"{where}: '+' must be a whole topic level, in {topic!r}")


def _path(table: Table, key: str, default: str) -> str:
    """A JSON path setting, checked now (``""``: none)."""
    text = table.text(key, default)
    if text:
        compile_path(text, table.name(key))
    return text


# -- shared by every link ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconnect:
    """Back-off between attempts: ``reconnect_min_s`` doubling up to ``reconnect_max_s``."""
    min_s: float
    max_s: float

    @staticmethod
    def parse(table: Table, default: Reconnect) -> Reconnect:
        low = table.positive("reconnect_min_s", default.min_s)
        high = table.positive("reconnect_max_s", default.max_s)
        if high < low:
            if table.has("reconnect_max_s"):
                raise table.fail("reconnect_max_s", f"must be at least reconnect_min_s ({low:g}), got {high:g}")
            high = low   # only the minimum was raised: it is the maximum too
        return Reconnect(low, high)


# -- MQTT ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MqttRouteOptions:
    """How the payloads of one topic filter are read (section, broker or ``[[mqtt.topics]]``)."""
    format: str = "auto"
    value_path: str = "value"
    ts_path: str = "ts"            # "" : no timestamp in the payload
    sensor_field: str = "sensor"   # "" : none
    sensor_level: int = -1         # -1 : none
    qos: int = 1

    @staticmethod
    def parse(table: Table, default: MqttRouteOptions) -> MqttRouteOptions:
        return MqttRouteOptions(
            format=table.choice("format", MQTT_FORMATS, default.format),
            value_path=_path(table, "value_path", default.value_path) or "value",
            ts_path=_path(table, "ts_path", default.ts_path),
            sensor_field=table.text("sensor_field", default.sensor_field),
            sensor_level=table.integer("sensor_level", default.sensor_level, -1),
            qos=table.integer("qos", default.qos, 0, 2))


@dataclass(frozen=True, slots=True)
class MqttBrokerSettings:
    host: str = ""                  # "" : from the broker's name, else 127.0.0.1
    port: int = 0                   # 0 : from the broker's name, else 1883
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_insecure: bool = False
    username: str = ""
    password_env: str = ""          # the environment variable holding the password
    keepalive_s: int = 30
    connect_timeout_s: float = 5.0
    mqtt_version: int = 5           # 5, or 3/4 for 3.1.1
    client_id: str = ""             # "" : derived from the building id and the data dir (stable)
    persistent_session: bool = True  # the broker keeps the subscriptions and queues QoS >= 1 while away
    session_expiry_s: int = 7 * 86400   # MQTT 5: how long the broker keeps the session after a disconnect
    probe_interval_s: float = 0.25  # while away, a TCP probe this often notices the broker's return
    # capped low: while the broker is away a TCP probe every probe_interval_s notices its return
    reconnect: Reconnect = Reconnect(0.5, 5.0)
    route: MqttRouteOptions = MqttRouteOptions()

    @staticmethod
    def parse(table: Table, default: MqttBrokerSettings) -> MqttBrokerSettings:
        version = table.integer("mqtt_version", default.mqtt_version, 3, 5)
        return MqttBrokerSettings(
            host=table.text("host", default.host), port=table.integer("port", default.port, 1, 65535),
            tls=table.flag("tls", default.tls), ca_file=table.text("ca_file", default.ca_file),
            cert_file=table.text("cert_file", default.cert_file), key_file=table.text("key_file", default.key_file),
            tls_insecure=table.flag("tls_insecure", default.tls_insecure),
            username=table.text("username", default.username),
            password_env=table.text("password_env", default.password_env),
            keepalive_s=table.integer("keepalive_s", default.keepalive_s, 5, 65535),
            connect_timeout_s=table.positive("connect_timeout_s", default.connect_timeout_s),
            mqtt_version=5 if version == 5 else 4,
            client_id=table.text("client_id", default.client_id),
            persistent_session=table.flag("persistent_session", default.persistent_session),
            session_expiry_s=table.integer("session_expiry_s", default.session_expiry_s, 0, 0xFFFFFFFF),
            probe_interval_s=table.number("probe_interval_s", default.probe_interval_s, 0.01, 60.0),
            reconnect=Reconnect.parse(table, default.reconnect),
            route=MqttRouteOptions.parse(table, default.route))


@dataclass(frozen=True, slots=True)
class MqttTopicSettings:
    filter: str
    broker: str
    route: MqttRouteOptions


@dataclass(frozen=True, slots=True)
class MqttSettings:
    flush_interval_s: float = 0.005
    flush_readings: int = 2000
    default: MqttBrokerSettings = MqttBrokerSettings()
    brokers: Mapping[str, MqttBrokerSettings] = field(default_factory=dict)
    topics: tuple[MqttTopicSettings, ...] = ()
    data_dir: str = ""    # the sidecar's data dir: with the building id, it makes the client id stable

    def broker(self, name: str) -> MqttBrokerSettings:
        return self.brokers.get(name, self.default) if name else self.default


def parse_mqtt(table: Table) -> MqttSettings:
    default = MqttBrokerSettings.parse(table, MqttBrokerSettings())
    # a broker table's own host (else its name is the address); every other key inherits
    unnamed = replace(default, host="")
    brokers = {name: MqttBrokerSettings.parse(sub, unnamed) for name, sub in table.tables("brokers").items()}
    topics = []
    for entry in table.array("topics"):
        topic_filter = entry.text("filter", "")
        if not topic_filter:
            raise entry.fail("filter", "required")
        check_filter(topic_filter, entry.name("filter"))
        broker = entry.text("broker", "")
        base = brokers.get(broker, default) if broker else default
        topics.append(MqttTopicSettings(topic_filter, broker, MqttRouteOptions.parse(entry, base.route)))
    return MqttSettings(
        flush_interval_s=table.positive("flush_interval_ms", 5.0) / 1000.0,
        flush_readings=table.integer("flush_readings", 2000, 1),
        default=default, brokers=brokers, topics=tuple(topics))


# -- Modbus ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegisterOptions:
    """One register's decoding; None where this table does not set it (the next layer decides:
    sensor table, then URI query, then host, then section, then the built-in default)."""
    data_type: str | None = None
    word_order: str | None = None
    scale: float | None = None
    offset: float | None = None
    table: str | None = None
    interval_s: float | None = None

    @staticmethod
    def parse(t: Table, default: RegisterOptions | None = None) -> RegisterOptions:
        d = default or RegisterOptions()
        return RegisterOptions(
            data_type=t.choice("data_type", DATA_TYPES, "") if t.has("data_type") else d.data_type,
            word_order=t.choice("word_order", WORD_ORDERS, "") if t.has("word_order") else d.word_order,
            scale=t.number("scale", d.scale), offset=t.number("offset", d.offset),
            table=t.choice("table", TABLES, "") if t.has("table") else d.table,
            interval_s=t.positive("interval_s", d.interval_s))

    def over(self, below: RegisterOptions) -> RegisterOptions:
        """These options, with ``below``'s where these are unset."""
        return RegisterOptions(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                                  else getattr(below, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class ModbusHostSettings:
    timeout_s: float = 2.0
    grouped: bool = True
    max_registers: int = MAX_REGISTERS
    max_gap: int = 8
    reconnect: Reconnect = Reconnect(0.5, 30.0)
    registers: RegisterOptions = RegisterOptions()

    @staticmethod
    def parse(table: Table, default: ModbusHostSettings) -> ModbusHostSettings:
        return ModbusHostSettings(
            timeout_s=table.positive("timeout_s", default.timeout_s),
            grouped=table.flag("grouped", default.grouped),
            max_registers=table.integer("max_registers", default.max_registers, 1, MAX_REGISTERS),
            max_gap=table.integer("max_gap", default.max_gap, 0, MAX_REGISTERS),
            reconnect=Reconnect.parse(table, default.reconnect),
            registers=RegisterOptions.parse(table, default.registers))


@dataclass(frozen=True, slots=True)
class ModbusSettings:
    default: ModbusHostSettings = ModbusHostSettings()
    hosts: Mapping[str, ModbusHostSettings] = field(default_factory=dict)    # "host:port" or "host"
    sensors: Mapping[str, RegisterOptions] = field(default_factory=dict)     # by sensor id

    def host(self, host: str, port: int) -> tuple[str, ModbusHostSettings]:
        """(the table's name, its settings) for one device."""
        for key in (f"{host}:{port}", host):
            if key in self.hosts:
                return key, self.hosts[key]
        return f"{host}:{port}", self.default


def parse_modbus(table: Table) -> ModbusSettings:
    default = ModbusHostSettings.parse(table, ModbusHostSettings())
    return ModbusSettings(
        default=default,
        hosts={name: ModbusHostSettings.parse(sub, default) for name, sub in table.tables("hosts").items()},
        sensors={name: RegisterOptions.parse(sub) for name, sub in table.tables("sensors").items()})


# -- BACnet ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BacnetDeviceSettings:
    address: str = ""              # "" : found by Who-Is
    mode: str = "poll"
    interval_s: float = 5.0
    timeout_s: float = 3.0
    cov_lifetime_s: int = 300
    cov_confirmed: bool = False
    reconnect: Reconnect = Reconnect(0.5, 30.0)

    @staticmethod
    def parse(table: Table, default: BacnetDeviceSettings, own_address: bool = True) -> BacnetDeviceSettings:
        return BacnetDeviceSettings(
            address=table.text("address", "") if own_address else "",
            mode=table.choice("mode", BACNET_MODES, default.mode),
            interval_s=table.positive("interval_s", default.interval_s),
            timeout_s=table.positive("timeout_s", default.timeout_s),
            cov_lifetime_s=table.integer("cov_lifetime_s", default.cov_lifetime_s, 5, 86400),
            cov_confirmed=table.flag("cov_confirmed", default.cov_confirmed),
            reconnect=Reconnect.parse(table, default.reconnect))


@dataclass(frozen=True, slots=True)
class BacnetSettings:
    address: str = "host"          # the sidecar's own BACnet/IP address[/prefix][:port]
    device_instance: int = 4194299
    device_name: str = "RevitPyIoT sidecar"
    vendor_identifier: int = 999
    default: BacnetDeviceSettings = BacnetDeviceSettings()
    devices: Mapping[str, BacnetDeviceSettings] = field(default_factory=dict)   # by device instance


def parse_bacnet(table: Table) -> BacnetSettings:
    # [bacnet] address is the sidecar's own; a device's address is only ever its own table's
    default = BacnetDeviceSettings.parse(table, BacnetDeviceSettings(), own_address=False)
    return BacnetSettings(
        address=table.text("address", "host", non_empty=True),
        device_instance=table.integer("device_instance", 4194299, 0, 4194302),
        device_name=table.text("device_name", "RevitPyIoT sidecar", non_empty=True),
        vendor_identifier=table.integer("vendor_identifier", 999, 0, 65535),
        default=default,
        devices={name: BacnetDeviceSettings.parse(sub, default) for name, sub in table.tables("devices").items()})


# -- HTTP ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HttpEndpointSettings:
    interval_s: float = 10.0
    timeout_s: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict)   # header -> environment variable name
    value_path: str = "value"
    ts_path: str = ""
    reconnect: Reconnect = Reconnect(1.0, 60.0)

    @staticmethod
    def parse(table: Table, default: HttpEndpointSettings) -> HttpEndpointSettings:
        headers = dict(default.headers)
        if table.has("headers"):
            if not isinstance(table.raw["headers"], Mapping) or \
                    not all(isinstance(v, str) for v in table.raw["headers"].values()):
                raise table.fail("headers", "must map header names to environment variable names")
            headers = table.string_map("headers")
        return HttpEndpointSettings(
            interval_s=table.positive("interval_s", default.interval_s),
            timeout_s=table.positive("timeout_s", default.timeout_s), headers=headers,
            value_path=_path(table, "value_path", default.value_path),
            ts_path=_path(table, "ts_path", default.ts_path),
            reconnect=Reconnect.parse(table, default.reconnect))


@dataclass(frozen=True, slots=True)
class HttpPointOptions:
    """``[http.sensors.<id>]``: None where unset."""
    value_path: str | None = None
    ts_path: str | None = None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    default: HttpEndpointSettings = HttpEndpointSettings()
    endpoints: Mapping[str, HttpEndpointSettings] = field(default_factory=dict)   # by URL
    sensors: Mapping[str, HttpPointOptions] = field(default_factory=dict)         # by sensor id


def parse_http(table: Table) -> HttpSettings:
    default = HttpEndpointSettings.parse(table, HttpEndpointSettings())
    sensors = {}
    for name, sub in table.tables("sensors").items():
        sensors[name] = HttpPointOptions(
            value_path=_path(sub, "value_path", "") if sub.has("value_path") else None,
            ts_path=_path(sub, "ts_path", "") if sub.has("ts_path") else None)
    return HttpSettings(
        default=default,
        endpoints={url: HttpEndpointSettings.parse(sub, default) for url, sub in table.tables("endpoints").items()},
        sensors=sensors)


PARSERS: dict[str, Any] = {"mqtt": parse_mqtt, "modbus": parse_modbus, "bacnet": parse_bacnet,
                           "http": parse_http, "https": parse_http}
SETTINGS_TYPES: dict[str, type] = {"mqtt": MqttSettings, "modbus": ModbusSettings, "bacnet": BacnetSettings,
                                   "http": HttpSettings, "https": HttpSettings}


def parse_source_section(scheme: str, section: Any, warn: list[str] | None = None) -> Any:
    """One protocol section (absent: the defaults); unknown keys go to ``warn``."""
    table = Table(section, scheme)
    settings = PARSERS[scheme](table)
    if warn is not None:
        warn.extend(_unknown(table))
    return settings


def _unknown(table: Table) -> list[str]:
    """Unknown keys of a section and of the tables nested in it (brokers, hosts, sensors...)."""
    return [f"{name}: unknown setting (ignored)" for name in table.unknown_all()]


__all__ = ["BacnetSettings", "HttpSettings", "ModbusSettings", "MqttSettings", "SettingsError", "compile_path",
           "parse_source_section"]
