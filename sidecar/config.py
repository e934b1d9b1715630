"""The sidecar's settings, read from one TOML file (stdlib ``tomllib``) and checked as a whole
before anything starts.

Each section is a frozen dataclass parsed by the shared reader (``sidecar.settings.Table``): a
wrong type or value is a ``ConfigError`` naming the setting, which the CLI prints as one line.
``[sidecar]``'s keys sit on ``SidecarConfig`` itself (the CLI overrides some of them); the others
are ``simulator``, ``alerts`` (+ ``[notifications.*]``), ``health``, ``analytics``, ``historian``,
``dashboard``, ``cloud`` (``[cloud.<kind>]``) and ``sources`` (``[mqtt]``, ``[modbus]``,
``[bacnet]``, ``[http]``, ``[https]``). A key nobody reads is named in ``warnings`` (an error with
``strict``); ``[alerts]``, ``[notifications.*]``, ``[analytics]``, ``[historian]`` and
``[[simulator.scenarios]]`` have always refused unknown keys and still do. The raw tables of every
section but ``[sidecar]``, ``[simulator]``, ``[alerts]`` and ``[health]`` are also kept verbatim in
``SidecarConfig.extra``. See ``sidecar/sidecar.example.toml``.
"""
from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared_schemas import paths, protocol
from sidecar.alarms.settings import AlarmSettings, ChannelSettings, parse_alarm_settings, parse_notifications
from sidecar.cloud.settings import ConnectorSettings, parse_cloud
from sidecar.maintenance.settings import AnalyticsSettings, parse_analytics
from sidecar.settings import SettingsError, Table
from sidecar.simulation.settings import (  # noqa: F401 - re-exported: the simulator's section
    FAULT_KINDS,
    SCENARIO_NAMES,
    FaultSpec,
    ScenarioSpec,
    SimulatorConfig,
    parse_simulator,
)
from sidecar.sources.settings import parse_source_section
from sidecar.store.settings import HistorianSettings, parse_historian

# The TOML file is unreadable or a setting has the wrong type or value (the message names it).
ConfigError = SettingsError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENDPOINT_SCHEMES = ("tcp://", "ipc://", "inproc://")
KNOWN_SECTIONS = ("sidecar", "simulator", "alerts", "health")   # not kept in ``extra``
SOURCE_SECTIONS = ("mqtt", "modbus", "bacnet", "http", "https")
OTHER_SECTIONS = ("notifications", "analytics", "historian", "dashboard", "cloud", *SOURCE_SECTIONS)
@dataclass(frozen=True, slots=True)
class AlertsConfig:
    max_future_s: float = 300.0   # ingest readings further ahead than this are rejected
    recent_cleared: int = 1000    # cleared alerts kept for late `ack`s
    # The rest of [alerts] (rules, delays, escalation, flood, shelving) and [notifications.*].
    rules: AlarmSettings = field(default_factory=AlarmSettings)
    notifications: list[ChannelSettings] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HealthConfig:
    stale_after_s: float = 60.0   # a sensor with no reading for this long is stale
    check_interval_s: float = 1.0
    # How health states change (sidecar.health.HealthSettings): watch hysteresis and dwell.
    watch_hysteresis: float = 0.05
    dwell_s: float = 60.0
    alarm_dwell_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8765              # 0 picks a free port
    allowed_origins: tuple[str, ...] = ()


@dataclass(slots=True)
class SidecarConfig:
    """``[sidecar]``'s keys (the CLI may override endpoints, data dir and log level) and every
    other section's parsed settings."""

    command_endpoint: str = protocol.DEFAULT_COMMAND_ENDPOINT
    event_endpoint: str = protocol.DEFAULT_EVENT_ENDPOINT
    data_dir: Path = field(default_factory=lambda: Path(paths.default_data_dir()))
    log_level: str = "INFO"
    max_payload_bytes: int = protocol.DEFAULT_MAX_PAYLOAD_BYTES
    # PUB drops events for a subscriber whose queue holds this many; the per-topic `seq` tells
    # the subscriber, which then asks for a `snapshot`. 10,000 covers a burst of one alert per
    # sensor of a large building without letting a stuck subscriber grow memory without bound.
    event_sndhwm: int = 10_000
    command_hwm: int = 1_000
    status_interval_s: float = 2.0  # heartbeat; PROTOCOL.md promises at most 5 s
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)   # [analytics]: live maintenance
    historian: HistorianSettings = field(default_factory=HistorianSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    cloud: dict[str, ConnectorSettings] = field(default_factory=dict)           # [cloud.<kind>]
    # [mqtt], [modbus], [bacnet], [http], [https]: MqttSettings, ModbusSettings... by URI scheme
    sources: dict[str, Any] = field(default_factory=lambda: {
        name: parse_source_section(name, None) for name in SOURCE_SECTIONS})
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None
    warnings: list[str] = field(default_factory=list)   # unknown keys (logged at start)

    @property
    def token_path(self) -> Path:
        return self.data_dir / protocol.TOKEN_FILE_NAME




def _endpoint(table: Table, key: str, default: str) -> str:
    """A ZeroMQ endpoint; a TCP port must be * or 0..65535 (libzmq would wrap 70000 to 4464)."""
    value = table.text(key, default, non_empty=True)
    if not value.startswith(ENDPOINT_SCHEMES):
        raise table.fail(key, f"must start with {', '.join(ENDPOINT_SCHEMES)}, got {value!r}")
    if value.startswith("tcp://"):
        host, colon, port = value[len("tcp://"):].rpartition(":")
        if not colon or not host:
            raise table.fail(key, f"expected tcp://host:port, got {value!r}")
        if port != "*" and not (port.isdigit() and 0 <= int(port) <= 65535):
            raise table.fail(key, f"port must be * or 0..65535, got {port!r} in {value!r}")
    return value


def parse_dashboard(section: Any) -> DashboardSettings:
    table = section if isinstance(section, Table) else Table(section, "dashboard")
    return DashboardSettings(enabled=table.flag("enabled", True), host=table.text("host", "127.0.0.1", non_empty=True),
                             port=table.port("port", 8765, allow_zero=True),
                             allowed_origins=table.strings("allowed_origins"))


def _unknown(table: Table, warnings: list[str]) -> None:
    warnings.extend(f"{name}: unknown setting (ignored)" for name in table.unknown_all())


def config_from_mapping(data: Mapping[str, Any], source_file: Path | None = None, strict: bool = False) -> SidecarConfig:
    """Every section of ``data`` parsed and checked; raises ``ConfigError`` naming the first bad
    setting. Unknown keys are listed in ``warnings`` (with ``strict``: the first is an error)."""
    config = SidecarConfig(source_file=source_file)
    warnings = config.warnings
    root = Table(data, "")
    side = root.table("sidecar")
    config.command_endpoint = _endpoint(side, "command_endpoint", config.command_endpoint)
    config.event_endpoint = _endpoint(side, "event_endpoint", config.event_endpoint)
    data_dir = side.text("data_dir", "")
    if data_dir:
        config.data_dir = Path(data_dir).expanduser()
    level = side.text("log_level", config.log_level).upper()
    if level not in LOG_LEVELS:
        raise side.fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {side.raw['log_level']!r}")
    config.log_level = level
    config.max_payload_bytes = side.integer("max_payload_bytes", config.max_payload_bytes, 1)
    config.event_sndhwm = side.integer("event_sndhwm", config.event_sndhwm, 1)
    config.command_hwm = side.integer("command_hwm", config.command_hwm, 1)
    config.status_interval_s = min(side.positive("status_interval_s", config.status_interval_s),
                                   protocol.STATUS_HEARTBEAT_S)
    _unknown(side, warnings)

    sim = root.table("simulator")
    config.simulator = parse_simulator(sim)
    _unknown(sim, warnings)

    alerts = root.table("alerts")
    config.alerts = AlertsConfig(
        max_future_s=alerts.positive("max_future_s", 300.0),
        recent_cleared=int(alerts.positive("recent_cleared", 1000)),
        rules=parse_alarm_settings(alerts),
        notifications=parse_notifications(root.mapping("notifications")))
    health = root.table("health")
    config.health = HealthConfig(stale_after_s=health.positive("stale_after_s", 60.0),
                                 check_interval_s=health.positive("check_interval_s", 1.0),
                                 watch_hysteresis=health.number("watch_hysteresis", 0.05, low=0.0),
                                 dwell_s=health.number("dwell_s", 60.0, low=0.0),
                                 alarm_dwell_s=health.number("alarm_dwell_s", 0.0, low=0.0))
    _unknown(health, warnings)
    config.analytics = parse_analytics(root.mapping("analytics"), warnings)
    config.historian = parse_historian(root.mapping("historian"))
    dashboard = root.table("dashboard")
    config.dashboard = parse_dashboard(dashboard)
    _unknown(dashboard, warnings)
    config.cloud = parse_cloud(root.mapping("cloud"), warn=warnings)
    config.sources = {name: parse_source_section(name, root.mapping(name), warnings) for name in SOURCE_SECTIONS}
    if "https" not in data:   # one [http] section serves both schemes unless [https] is given
        config.sources["https"] = config.sources["http"]
    # the MQTT client id derives from the data dir (a stable id keeps the broker's session)
    config.sources["mqtt"] = replace(config.sources["mqtt"], data_dir=str(config.data_dir))
    for name in root.unknown(OTHER_SECTIONS):
        warnings.append(f"[{name}]: unknown section (ignored)")
    if strict and warnings:
        raise ConfigError(warnings[0] + (f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""))
    config.extra = {key: value for key, value in data.items() if key not in KNOWN_SECTIONS}
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables. UTF-8 only (TOML's encoding), with or without the byte-order mark
    Windows editors such as Notepad put first."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"config file {path} is not UTF-8 text (line {line}, byte {error.start}: "
                          f"{raw[error.start:error.start + 1]!r}); save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error


def load_config(path: Path | str | None, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                strict: bool = False) -> SidecarConfig:
    """Settings from ``path`` (all defaults when ``None``), with ``overrides`` (section -> keys,
    e.g. the command line's) applied before anything is checked."""
    path = None if path is None else Path(path)
    data = read_toml(path) if path is not None else {}
    for section, values in (overrides or {}).items():
        table = data.get(section)
        data[section] = {**(table if isinstance(table, dict) else {}), **values}
    return config_from_mapping(data, source_file=path, strict=strict)


def log_warnings(config: SidecarConfig, log: logging.Logger) -> None:
    for warning in config.warnings:
        log.warning("config: %s", warning)
